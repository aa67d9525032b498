"""Incidents in DynamoDB, notified through SNS (moto): one message when one starts, reminders
while it lasts, RESOLVED with how long; concurrent runs send once; a missing or unreachable
table fails open."""

from __future__ import annotations

import json
import socket
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.config import Config
from support.sns import document_of

from batch_health.aws.sessions import AwsSessions
from batch_health.models import CheckResult, Report, Status, SuiteReport
from batch_health.notify.incidents import (
    FAIL_OPEN_NOTE,
    IncidentState,
    IncidentStore,
    NotifyConfig,
    process_incidents,
)

REGION = "ap-northeast-2"
T0 = datetime(2025, 6, 1, 9, 0, tzinfo=UTC)
LOG_GROUP = "/aws/batch/academy-video-worker"
MISSING = f"log group {LOG_GROUP} missing"
HINT = f"Create it: `aws logs create-log-group --log-group-name {LOG_GROUP}`"


def suite(status: Status, detail: str = MISSING, target: str = "academy-video") -> SuiteReport:
    results = [
        CheckResult("QUEUE_CHECK", Status.OK, "ok", data={"jobQueueArn": QUEUE_ARN}),
        CheckResult(
            "LOG_GROUP_CHECK",
            status,
            detail,
            [HINT] if status is Status.FAIL else [],
            {"log_group": LOG_GROUP},
        ),
        CheckResult("JOBDEF_CHECK", Status.FAIL, "not critical", ["ignored"]),
    ]
    report = Report(target, REGION, results, [], T0, T0)
    return SuiteReport([report], T0, T0)


QUEUE_ARN = f"arn:aws:batch:{REGION}:123456789012:job-queue/academy-video-batch-queue"


class Channel:
    """The stack's topic with an SQS queue subscribed, to read what was published."""

    def __init__(self) -> None:
        self.sns = boto3.client("sns", region_name=REGION)
        self.sqs = boto3.client("sqs", region_name=REGION)
        self.topic_arn = self.sns.create_topic(Name="batch-health-alerts")["TopicArn"]
        self.queue_url = self.sqs.create_queue(QueueName="alerts-copy")["QueueUrl"]
        queue_arn = self.sqs.get_queue_attributes(
            QueueUrl=self.queue_url, AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        self.sns.subscribe(TopicArn=self.topic_arn, Protocol="sqs", Endpoint=queue_arn)

    def received(self) -> list[dict[str, Any]]:
        """The SNS envelopes delivered since the last call."""
        out = []
        while True:
            batch = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get(
                "Messages", []
            )
            if not batch:
                return out
            for m in batch:
                out.append(json.loads(m["Body"]))
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=m["ReceiptHandle"])


def create_table(name: str = "incidents") -> str:
    boto3.client("dynamodb", region_name=REGION).create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return name


@pytest.fixture
def channel(aws: None) -> Channel:
    return Channel()


@pytest.fixture
def config(channel: Channel) -> NotifyConfig:
    return NotifyConfig(topic_arn=channel.topic_arn, table_name=create_table())


def events(envelopes: list[dict[str, Any]]) -> list[str]:
    return [e["MessageAttributes"]["event"]["Value"] for e in envelopes]


def run(config: NotifyConfig, status: Status, at: datetime, **kw: Any):
    return process_incidents(suite(status, **kw), config, AwsSessions(REGION), now=at)


def test_an_incident_sends_fail_once_then_a_reminder_then_resolved(channel, config):
    first = run(config, Status.FAIL, T0)
    assert [(p["check"], p["event"]) for p in first.published] == [("LOG_GROUP_CHECK", "FAIL")]
    assert first.failures == [] and first.state_errors == 0
    [fail] = channel.received()
    assert fail["Subject"] == f"[FAIL] academy-video LOG_GROUP_CHECK: {MISSING}"

    for minutes in (5, 10, 355):
        assert run(config, Status.FAIL, T0 + timedelta(minutes=minutes)).published == []
    assert channel.received() == []

    reminder = run(config, Status.FAIL, T0 + timedelta(minutes=360))
    assert [p["event"] for p in reminder.published] == ["REMINDER"]
    [env] = channel.received()
    assert env["Subject"].startswith(
        "[REMINDER] academy-video LOG_GROUP_CHECK: still failing after 6 h"
    )

    resolved = run(config, Status.OK, T0 + timedelta(minutes=402), detail="logGroup ok")
    assert [p["event"] for p in resolved.published] == ["RESOLVED"]
    [env] = channel.received()
    assert env["Subject"] == "[RESOLVED] academy-video LOG_GROUP_CHECK: resolved after 6 h 42 min"
    doc = document_of(env)
    assert doc["since"] == "2025-06-01T09:00:00Z" and doc["duration"] == "6 h 42 min"

    # Recovered and quiet: nothing more.
    assert run(config, Status.OK, T0 + timedelta(minutes=410)).published == []
    assert channel.received() == []


def test_resolved_after_42_minutes(channel, config):
    run(config, Status.FAIL, T0)
    run(config, Status.OK, T0 + timedelta(minutes=42))
    subjects = [e["Subject"] for e in channel.received()]
    assert subjects[-1] == "[RESOLVED] academy-video LOG_GROUP_CHECK: resolved after 42 min"


def test_threshold_two_waits_for_the_second_failed_run(channel, aws):
    config = NotifyConfig(channel.topic_arn, create_table(), failure_threshold=2)
    assert run(config, Status.FAIL, T0).published == []
    second = run(config, Status.FAIL, T0 + timedelta(minutes=5))
    assert [p["event"] for p in second.published] == ["FAIL"]
    [env] = channel.received()
    doc = document_of(env)
    assert doc["failures"] == 2 and doc["since"] == "2025-06-01T09:00:00Z"


def test_skip_neither_opens_nor_resolves(channel, config):
    assert run(config, Status.SKIP, T0).published == []
    run(config, Status.FAIL, T0 + timedelta(minutes=5))
    assert run(config, Status.SKIP, T0 + timedelta(minutes=10)).published == []
    assert events(channel.received()) == ["FAIL"]
    resolved = run(config, Status.OK, T0 + timedelta(minutes=15))
    assert [p["event"] for p in resolved.published] == ["RESOLVED"]


def test_only_critical_checks_are_notified(channel, aws):
    config = NotifyConfig(channel.topic_arn, create_table(), critical_checks=("JOBDEF_CHECK",))
    outcome = run(config, Status.FAIL, T0)
    assert [p["check"] for p in outcome.published] == ["JOBDEF_CHECK"]


def test_item_has_version_and_ttl(channel, config):
    run(config, Status.FAIL, T0)
    run(config, Status.FAIL, T0 + timedelta(minutes=5))
    item = boto3.client("dynamodb", region_name=REGION).get_item(
        TableName=config.table_name, Key={"pk": {"S": "academy-video#LOG_GROUP_CHECK"}}
    )["Item"]
    assert item["version"]["N"] == "2" and item["state"]["S"] == "FAIL"
    expires = int(item["expires_at"]["N"])
    assert expires == int((T0 + timedelta(minutes=5, days=30)).timestamp())


def test_two_runs_with_the_same_stale_read_send_one_message(channel, config, monkeypatch):
    """Run B read the state before run A wrote it: B's conditional write loses, B re-reads."""
    sessions = AwsSessions(REGION)
    pk = IncidentStore.key("academy-video", "LOG_GROUP_CHECK")
    stale = IncidentStore(sessions.client("dynamodb"), config.table_name).load(pk)

    first = process_incidents(suite(Status.FAIL), config, sessions, now=T0)
    assert [p["event"] for p in first.published] == ["FAIL"]

    real_load = IncidentStore.load
    served = []

    def load_stale_once(self: IncidentStore, key: str) -> IncidentState:
        if not served:
            served.append(key)
            return stale
        return real_load(self, key)

    monkeypatch.setattr(IncidentStore, "load", load_stale_once)
    second = process_incidents(suite(Status.FAIL), config, sessions, now=T0)
    assert served == [pk]
    assert second.published == [] and second.failures == []
    assert events(channel.received()) == ["FAIL"]


def test_two_concurrent_runs_race_and_only_one_publishes(channel, config, monkeypatch):
    """Two threads read the same state, then both write: the write that wins publishes."""
    from moto.dynamodb.models import DynamoDBBackend

    # DynamoDB evaluates a condition and writes atomically; moto does not lock, so the
    # test gives moto's put the atomicity the real service has.
    atomic = threading.Lock()
    real_put = DynamoDBBackend.put_item

    def atomic_put(self: Any, *args: Any, **kwargs: Any) -> Any:
        with atomic:
            return real_put(self, *args, **kwargs)

    monkeypatch.setattr(DynamoDBBackend, "put_item", atomic_put)
    both_read = threading.Barrier(2, timeout=10)
    real_load = IncidentStore.load

    first_read: set[str] = set()

    def load_then_wait(self: IncidentStore, key: str) -> IncidentState:
        state = real_load(self, key)
        name = threading.current_thread().name
        if name not in first_read:  # the re-read after losing the race does not wait
            first_read.add(name)
            both_read.wait()
        return state

    monkeypatch.setattr(IncidentStore, "load", load_then_wait)
    real_save = IncidentStore.save
    writes: list[bool] = []

    def recorded_save(self: IncidentStore, *args: Any) -> bool:
        won = real_save(self, *args)
        writes.append(won)
        return won

    monkeypatch.setattr(IncidentStore, "save", recorded_save)
    outcomes: list[Any] = []

    def one_run() -> None:
        outcomes.append(process_incidents(suite(Status.FAIL), config, AwsSessions(REGION), now=T0))

    threads = [threading.Thread(target=one_run, name=f"run-{i}") for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(outcomes) == 2
    assert sorted(len(o.published) for o in outcomes) == [0, 1]
    # Both wrote from the same read: one lost, re-read, and recorded the failure silently.
    assert writes.count(False) == 1 and writes.count(True) == 2
    assert events(channel.received()) == ["FAIL"]


def test_missing_table_fails_open_and_counts_it(channel, aws):
    config = NotifyConfig(channel.topic_arn, table_name="no-such-table")
    outcome = run(config, Status.FAIL, T0)
    assert [p["event"] for p in outcome.published] == ["FAIL"]
    assert outcome.state_errors == 1
    assert len(outcome.failures) == 1 and "no-such-table" in outcome.failures[0]
    assert "not found" in outcome.failures[0]
    [env] = channel.received()
    assert document_of(env)["note"] == FAIL_OPEN_NOTE
    # Without state nothing can be resolved; an OK run sends nothing.
    assert run(config, Status.OK, T0 + timedelta(minutes=5)).published == []


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class UnreachableTable(AwsSessions):
    """DynamoDB at a closed port on loopback; every other service from moto."""

    def __init__(self) -> None:
        super().__init__(REGION)
        self.port = closed_port()

    def client(self, service: str, region: str | None = None, role_arn: str | None = None) -> Any:
        if service == "dynamodb":
            return boto3.client(
                "dynamodb",
                region_name=REGION,
                endpoint_url=f"http://127.0.0.1:{self.port}",
                config=Config(retries={"max_attempts": 1}, connect_timeout=1),
            )
        return super().client(service, region, role_arn)


def test_unreachable_table_fails_open_for_every_failing_check(channel, aws):
    config = NotifyConfig(
        channel.topic_arn, "incidents", critical_checks=("LOG_GROUP_CHECK", "JOBDEF_CHECK")
    )
    outcome = process_incidents(suite(Status.FAIL), config, UnreachableTable(), now=T0)
    assert sorted(p["check"] for p in outcome.published) == ["JOBDEF_CHECK", "LOG_GROUP_CHECK"]
    # The table is asked once; the second item goes straight to fail-open.
    assert outcome.state_errors == 2
    assert len(outcome.failures) == 1 and "endpoint unreachable" in outcome.failures[0]
    assert sorted(events(channel.received())) == ["FAIL", "FAIL"]


def test_a_failed_publish_is_undone_so_the_next_run_sends_it(channel, config):
    broken = NotifyConfig(
        topic_arn=f"arn:aws:sns:{REGION}:123456789012:deleted-topic",
        table_name=config.table_name,
    )
    outcome = run(broken, Status.FAIL, T0)
    assert outcome.published == []
    assert len(outcome.failures) == 1 and outcome.failures[0].startswith(
        "SNS publish [FAIL] academy-video LOG_GROUP_CHECK"
    )
    retry = run(config, Status.FAIL, T0 + timedelta(minutes=5))
    assert [p["event"] for p in retry.published] == ["FAIL"]
    doc = document_of(channel.received()[0])
    assert doc["since"] == "2025-06-01T09:05:00Z"


def test_without_a_table_every_failing_run_notifies(channel, aws):
    config = NotifyConfig(channel.topic_arn, table_name=None)
    run(config, Status.FAIL, T0)
    run(config, Status.FAIL, T0 + timedelta(minutes=5))
    envelopes = channel.received()
    assert events(envelopes) == ["FAIL", "FAIL"]
    assert "incident tracking is off" in document_of(envelopes[0])["note"]


def test_without_a_topic_nothing_is_sent_or_stored(channel, config):
    quiet = NotifyConfig(topic_arn=None, table_name=config.table_name)
    outcome = run(quiet, Status.FAIL, T0)
    assert (outcome.published, outcome.failures, outcome.state_errors) == ([], [], 0)
    table = boto3.client("dynamodb", region_name=REGION).scan(TableName=config.table_name)
    assert table["Items"] == []


def test_one_incident_per_target(channel, config):
    both = SuiteReport(
        [suite(Status.FAIL, target=t).reports[0] for t in ("video-a", "video-b")], T0, T0
    )
    outcome = process_incidents(both, config, AwsSessions(REGION), now=T0)
    assert sorted(p["target"] for p in outcome.published) == ["video-a", "video-b"]
    assert process_incidents(both, config, AwsSessions(REGION), now=T0).published == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"failure_threshold": 0}, "failure_threshold"), ({"remind_after_minutes": -1}, "remind")],
)
def test_config_rejects_nonsense(kwargs, message):
    with pytest.raises(ValueError, match=message):
        NotifyConfig(topic_arn=None, table_name=None, **kwargs)


def test_a_corrupt_item_fails_open_instead_of_crashing(channel, config):
    boto3.client("dynamodb", region_name=REGION).put_item(
        TableName=config.table_name,
        Item={
            "pk": {"S": "academy-video#LOG_GROUP_CHECK"},
            "state": {"S": "FAIL"},
            "version": {"N": "3"},
            "since": {"S": "last tuesday"},
        },
    )
    outcome = run(config, Status.FAIL, T0)
    assert [p["event"] for p in outcome.published] == ["FAIL"]
    assert outcome.state_errors == 1
    assert "unreadable item" in outcome.failures[0]
