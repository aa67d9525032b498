"""Incidents from events in DynamoDB (moto): exact counts under repeats, conflicts and
partial answers; open, remind, revert, resolve."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from support.batch_events import Resources

from batch_health.domain.status_reasons import ReasonClass, classify_reason
from batch_health.notify.incidents import StateUnavailable
from batch_health.notify.job_groups import (
    JOB_FAILURES_CHECK,
    JobExample,
    JobGroup,
    index_key,
    parse_incident_key,
    resolving_checks,
    state_update,
)
from batch_health.notify.job_incidents import (
    MAX_CONFLICT_RETRIES,
    SEND_CLAIM,
    JobIncidentStore,
)

REGION = "eu-west-1"
T0 = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
LOG_GROUP_MISSING = "ResourceNotFoundException: The specified log group does not exist."


def group(keys: list[str], at: datetime = T0, target: str = "academy-video") -> JobGroup:
    reason = classify_reason("Essential container in task exited", LOG_GROUP_MISSING)
    example = JobExample(job_id="j-1", region=REGION, at=at)
    g = JobGroup(target, REGION, JOB_FAILURES_CHECK, reason, example, at)
    for i, key in enumerate(keys):
        g.add(key, f"m-{i}", reason, JobExample(job_id=f"j-{i}", region=REGION, at=at))
    return g


@pytest.fixture
def store(aws) -> JobIncidentStore:
    Resources(REGION)
    return JobIncidentStore(boto3.client("dynamodb", region_name=REGION), "incidents")


def test_each_event_counts_once_however_often_it_arrives(store):
    assert store.count(group([f"e{i}" for i in range(250)]), T0) == 250  # 3 transactions
    assert store.count(group([f"e{i}" for i in range(240, 260)]), T0) == 10
    assert store.count(group(["e1", "e1", "e2"]), T0) == 0
    assert store.load(group([]).pk).jobs == 260


class Refusing:
    """A DynamoDB client whose transactions are cancelled `times` times with `code`."""

    def __init__(self, times: int, code: str) -> None:
        self.times, self.code, self.calls = times, code, 0

    def transact_write_items(self, TransactItems: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls += 1
        if self.calls <= self.times:
            reasons = [{"Code": "None"}] * (len(TransactItems) - 1) + [{"Code": self.code}]
            raise ClientError(
                {
                    "Error": {"Code": "TransactionCanceledException", "Message": "cancelled"},
                    "CancellationReasons": reasons,
                },
                "TransactWriteItems",
            )
        return {}


def test_a_conflicting_transaction_is_written_again_after_backing_off():
    client, waits = Refusing(2, "TransactionConflict"), []
    store = JobIncidentStore(client, "incidents", sleep=waits.append)
    assert store.count(group(["a", "b"]), T0) == 2
    # Capped exponential backoff with full jitter: at most 0.05 s x 2^attempt.
    assert client.calls == 3 and len(waits) == 2
    assert 0 <= waits[0] <= 0.1 and 0 <= waits[1] <= 0.2


def test_a_transaction_that_never_commits_counts_nothing_and_says_why():
    client = Refusing(MAX_CONFLICT_RETRIES + 1, "ThrottlingError")
    store = JobIncidentStore(client, "incidents", sleep=lambda s: None)
    with pytest.raises(StateUnavailable, match="count academy-video#JOB_FAILURES_CHECK#"):
        store.count(group(["a"]), T0)


def test_open_once_then_remind_when_due(store):
    g = group(["a"])
    store.count(g, T0)
    event, before, after = store.open_or_remind(g, T0, timedelta(hours=6))
    assert (event, before.open, after.open, after.since) == ("FAIL", False, True, T0)
    store.sent(after)  # the message went out
    assert store.open_keys(["academy-video"]) == {"academy-video": [g.pk]}
    assert store.open_or_remind(g, T0 + timedelta(hours=1), timedelta(hours=6))[0] is None
    event, _, after = store.open_or_remind(g, T0 + timedelta(hours=6), timedelta(hours=6))
    assert (event, after.reminders) == ("REMINDER", 1)


def test_an_opening_never_confirmed_sent_is_due_again_once_its_claim_runs_out(store):
    g = group(["a"])
    store.count(g, T0)
    assert store.open_or_remind(g, T0, None)[0] == "FAIL"  # ... and the function stopped
    # While claimed, another invocation may still be sending it: nothing.
    assert store.open_or_remind(g, T0 + SEND_CLAIM - timedelta(seconds=1), None)[0] is None
    later = T0 + SEND_CLAIM
    event, _, after = store.open_or_remind(g, later, None)
    assert (event, after.reminders, after.since) == ("FAIL", 0, T0)  # the opening, again
    store.sent(after)
    assert store.load(g.pk).sending_until is None
    assert store.open_or_remind(g, later + timedelta(hours=1), None)[0] is None  # once


def test_an_unsent_opening_is_undone_so_a_retry_opens_again(store):
    g = group(["a"])
    store.count(g, T0)
    _, before, after = store.open_or_remind(g, T0, None)
    store.revert(before, after)
    assert not store.load(g.pk).open
    assert store.open_or_remind(g, T0, None)[0] == "FAIL"


def test_only_one_of_two_writers_opens(store):
    other = JobIncidentStore(boto3.client("dynamodb", region_name=REGION), "incidents")
    g = group(["a"])
    store.count(g, T0)
    stale = other.load(g.pk)  # read before the opening below
    assert store.open_or_remind(g, T0, None)[0] == "FAIL"
    # The other function's write, conditional on what it read, loses ...
    assert not other._write(g.pk, stale.version, *state_update(replace(stale, state="FAIL")))
    # ... and deciding again, it finds the incident open: nothing more to announce.
    assert other.open_or_remind(g, T0, None)[0] is None


def test_a_success_resolves_only_after_the_quiet_period(store):
    g = group(["a", "b"], at=T0)
    store.count(g, T0)
    store.note_newest(g)
    store.open_or_remind(g, T0, None)
    quiet = timedelta(minutes=10)
    assert store.resolve(g.pk, T0 + timedelta(minutes=5), quiet) is None
    ended = store.resolve(g.pk, T0 + timedelta(minutes=11), quiet)
    assert ended is not None and ended.jobs == 2 and ended.since == T0
    after = store.load(g.pk)
    assert (after.open, after.jobs) == (False, 0)
    assert store.open_keys(["academy-video"]) == {}
    # The next failure opens a new incident, counted from 1.
    g2 = group(["c"], at=T0 + timedelta(hours=1))
    store.count(g2, T0 + timedelta(hours=1))
    event, _, opened = store.open_or_remind(g2, T0 + timedelta(hours=1), None)
    assert (event, opened.jobs, opened.since) == ("FAIL", 1, T0 + timedelta(hours=1))


def test_the_example_is_the_newest_job(store):
    newer = group(["a"], at=T0 + timedelta(minutes=3))
    store.count(newer, T0)
    store.note_newest(newer)
    older = group(["b"], at=T0)
    store.count(older, T0)
    store.note_newest(older)
    incident = store.load(newer.pk)
    assert incident.newest_at == T0 + timedelta(minutes=3)
    assert incident.example is not None and incident.example.at == T0 + timedelta(minutes=3)


class PartlyAnswering:
    """BatchGetItem that leaves keys unprocessed on its first answer, as DynamoDB may."""

    def __init__(self) -> None:
        self.calls = 0

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        self.calls += 1
        keys = RequestItems["incidents"]["Keys"]
        first, rest = keys[:1], keys[1:]
        answered = first if self.calls == 1 else keys
        items = [{"pk": k["pk"], "open": {"SS": [k["pk"]["S"] + "-x"]}} for k in answered]
        left = {"incidents": {"Keys": rest, "ConsistentRead": True}} if self.calls == 1 else {}
        return {"Responses": {"incidents": items}, "UnprocessedKeys": left}


def test_open_incidents_are_read_in_full_when_dynamodb_answers_in_parts():
    client = PartlyAnswering()
    store = JobIncidentStore(client, "incidents", sleep=lambda s: None)
    found = store.open_keys(["a", "b", "c"])
    assert sorted(found) == ["a", "b", "c"] and client.calls == 2
    assert found["b"] == [index_key("b") + "-x"]


def test_keys_and_what_resolves_them():
    pk = "academy-video#JOB_FAILURES_CHECK#LOG_GROUP_MISSING"
    assert parse_incident_key(pk) == (
        "academy-video",
        JOB_FAILURES_CHECK,
        ReasonClass.LOG_GROUP_MISSING,
    )
    assert parse_incident_key("academy-video#events") is None
    assert resolving_checks(JOB_FAILURES_CHECK, ReasonClass.LOG_GROUP_MISSING) == {
        JOB_FAILURES_CHECK,
        "LOG_GROUP_CHECK",
    }
    # CE_CHECK passing does not mean EC2 has capacity again.
    assert resolving_checks("RUNNABLE_BACKLOG_CHECK", ReasonClass.INSUFFICIENT_CAPACITY) == {
        "RUNNABLE_BACKLOG_CHECK"
    }


def test_the_storm_tests_rollback_gives_what_motos_own_gives(aws):
    """tests/support/moto_dynamodb.item_level_rollback (the storm test's speed-up) leaves
    the table exactly as moto's whole-table rollback does."""
    from support.moto_dynamodb import item_level_rollback

    def run(table: str) -> list[dict[str, Any]]:
        client = boto3.client("dynamodb", region_name=REGION)
        store = JobIncidentStore(client, table)
        for keys in (["a", "b"], ["b", "c", "a"], ["c"], ["d", "a"]):
            store.count(group(keys), T0)
        items = client.scan(TableName=table)["Items"]
        return sorted(items, key=lambda i: i["pk"]["S"])

    Resources(REGION, table="plain", topic="t1")
    Resources(REGION, table="fast", topic="t2")
    plain = run("plain")
    with item_level_rollback():
        fast = run("fast")
    assert fast == plain
    assert {i["pk"]["S"]: i.get("jobs") for i in plain}[group([]).pk] == {"N": "4"}
