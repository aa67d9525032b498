"""The failing checks of each target's previous run, in the incident table (moto): read for
every target at once, written only when they changed, and no state (every value sent)
when the table is not configured or does not answer."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from batch_health.aws.sessions import AwsSessions
from batch_health.models import CheckResult, Report, Status, SuiteReport
from batch_health.runtime import metric_state
from batch_health.runtime.metric_state import (
    MetricState,
    MetricStateStore,
    MetricStateUnavailable,
)

TABLE = "batch-health-incidents"
NOW = datetime(2026, 1, 15, 3, 5, tzinfo=UTC)
REGION = "ap-northeast-2"


@pytest.fixture
def table(aws: None) -> Any:
    client = boto3.client("dynamodb", region_name=REGION)
    client.create_table(
        TableName=TABLE,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return client


@pytest.fixture
def warnings(monkeypatch) -> list[tuple[str, dict[str, Any]]]:
    seen: list[tuple[str, dict[str, Any]]] = []

    class Recorder:
        def warning(self, message: str, *args: Any, extra: dict[str, Any] | None = None) -> None:
            seen.append((message, extra or {}))

        def info(self, message: str, *args: Any, extra: dict[str, Any] | None = None) -> None:
            seen.append((f"(info) {message}", extra or {}))

    monkeypatch.setattr(metric_state, "logger", Recorder())
    return seen


class Counting:
    """A client that counts the calls it forwards (and can be told to answer otherwise)."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Any:
        def call(**params: Any) -> Any:
            self.calls.append((name, params))
            return getattr(self.client, name)(**params)

        return call

    def named(self, name: str) -> list[dict[str, Any]]:
        return [params for op, params in self.calls if op == name]


def suite(**by_target: dict[str, Status]) -> SuiteReport:
    reports = [
        Report(t, REGION, [CheckResult(n, s) for n, s in checks.items()], [], NOW, NOW)
        for t, checks in by_target.items()
    ]
    return SuiteReport(reports, NOW, NOW)


def test_targets_without_an_item_had_nothing_failing(table):
    store = MetricStateStore(table, TABLE)
    assert store.load(["video", "thumbnails"]) == {
        "video": frozenset(),
        "thumbnails": frozenset(),
    }


def test_what_is_saved_is_read_back_and_an_empty_set_is_an_item_without_checks(table):
    store = MetricStateStore(table, TABLE)
    store.save("video", {"LOG_GROUP_CHECK", "IAM_CHECK"}, NOW)
    store.save("thumbnails", set(), NOW)
    assert store.load(["video", "thumbnails"]) == {
        "video": {"IAM_CHECK", "LOG_GROUP_CHECK"},
        "thumbnails": frozenset(),
    }
    item = table.get_item(TableName=TABLE, Key={"pk": {"S": "video#failing"}})["Item"]
    assert item["checks"] == {"SS": ["IAM_CHECK", "LOG_GROUP_CHECK"]}
    # The table's TTL attribute: a removed target's item goes away on its own.
    assert int(item["expires_at"]["N"]) == int((NOW + metric_state.STATE_TTL).timestamp())
    empty = table.get_item(TableName=TABLE, Key={"pk": {"S": "thumbnails#failing"}})["Item"]
    assert "checks" not in empty


def test_many_targets_are_read_100_keys_at_a_time(table):
    client = Counting(table)
    store = MetricStateStore(client, TABLE)
    targets = [f"t{i:03d}" for i in range(250)]
    store.save("t042", {"QUEUE_CHECK"}, NOW)
    found = store.load(targets)
    assert len(found) == 250 and found["t042"] == {"QUEUE_CHECK"}
    sizes = [len(p["RequestItems"][TABLE]["Keys"]) for p in client.named("batch_get_item")]
    assert sizes == [100, 100, 50]


class Unprocessed:
    """BatchGetItem answers part of the keys `times` times, then all of them."""

    def __init__(self, client: Any, times: int) -> None:
        self.client = client
        self.times = times
        self.requests: list[dict[str, Any]] = []

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        self.requests.append(RequestItems)
        if len(self.requests) <= self.times:
            return {"Responses": {TABLE: []}, "UnprocessedKeys": RequestItems}
        return self.client.batch_get_item(RequestItems=RequestItems)


def test_unprocessed_keys_are_asked_again(table):
    MetricStateStore(table, TABLE).save("video", {"CE_CHECK"}, NOW)
    client = Unprocessed(table, times=2)
    sleeps: list[float] = []
    store = MetricStateStore(client, TABLE, sleep=sleeps.append)
    assert store.load(["video"]) == {"video": {"CE_CHECK"}}
    assert len(client.requests) == 3 and len(sleeps) == 2


def test_keys_left_unprocessed_make_the_state_unavailable(table):
    store = MetricStateStore(Unprocessed(table, times=99), TABLE, sleep=lambda _: None)
    with pytest.raises(MetricStateUnavailable, match="unprocessed"):
        store.load(["video"])


# --- one run's view -------------------------------------------------------------------------


def test_no_table_configured_means_no_state_said_quietly(aws, warnings):
    # Only a local run has no table: worth a line in its log, not a warning every run.
    state = MetricState.load(None, AwsSessions(REGION), ["video"])
    assert state.previous is None
    assert state.save(suite(video={"QUEUE_CHECK": Status.FAIL})) == 0
    [(message, _)] = warnings
    assert message.startswith("(info) ") and "every check's value is sent" in message


def test_an_unreachable_table_means_no_state_and_a_warning(aws, warnings):
    state = MetricState.load("no-such-table", AwsSessions(REGION), ["video"])
    assert state.previous is None
    [(message, extra)] = warnings
    assert "every check's value is sent" in message
    assert extra["table"] == "no-such-table" and "ResourceNotFound" in extra["error"]


def test_the_state_is_written_only_for_targets_whose_failing_checks_changed(table, warnings):
    store = MetricStateStore(table, TABLE)
    store.save("video", {"LOG_GROUP_CHECK"}, NOW)
    client = Counting(table)
    state = MetricState(MetricStateStore(client, TABLE))
    state.previous = state.store.load(["video", "thumbnails", "audio"])  # type: ignore[union-attr]
    run = suite(
        video={"LOG_GROUP_CHECK": Status.FAIL, "QUEUE_CHECK": Status.OK},  # unchanged
        thumbnails={"QUEUE_CHECK": Status.OK},  # unchanged: nothing failing
        audio={"QUEUE_CHECK": Status.FAIL},  # changed
    )
    assert state.save(run, NOW) == 1
    [update] = client.named("update_item")  # ADD: another function's change is kept
    assert update["Key"]["pk"] == {"S": "audio#failing"}
    assert update["UpdateExpression"].startswith("ADD #checks :checks")
    assert update["ExpressionAttributeValues"][":checks"] == {"SS": ["QUEUE_CHECK"]}
    assert warnings == []

    # The recovery is a change too, written as an item without checks.
    state = MetricState(MetricStateStore(client, TABLE), store.load(["audio"]))
    assert state.save(suite(audio={"QUEUE_CHECK": Status.OK}), NOW) == 1
    assert store.load(["audio"]) == {"audio": frozenset()}


def test_a_failed_write_is_logged_not_raised(table, warnings):
    state = MetricState(MetricStateStore(table, "gone"), {"video": frozenset()})
    assert state.save(suite(video={"QUEUE_CHECK": Status.FAIL}), NOW) == 0
    [(message, extra)] = warnings
    assert message == "metric state not saved" and extra["target"] == "video"
