"""The monitor handler in-process (moto): report, EMF metrics, log, notifications, bad input."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Any

import app
import pytest

from batch_health.cli.invoke import LocalContext
from batch_health.engine import BUDGET_EXHAUSTED
from batch_health.runtime import monitor
from batch_health.runtime.event import InvalidEventError
from batch_health.runtime.observability import logger, metrics
from batch_health.runtime.settings import MonitorSettings

# A run that does not notify has no run-level metric; Powertools warns about the empty flush.
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

REPORT_KEYS = {"target", "region", "overall", "checks", "root_cause_hints", "started_at"}


@pytest.fixture(autouse=True)
def fresh_runtime() -> Iterator[None]:
    """Each test is a new process as far as the monitor's cached clients are concerned."""
    monitor.reset_runtime()
    yield
    monitor.reset_runtime()


def set_function_env(monkeypatch, config_sources: dict[str, Any] | None = None) -> None:
    """The environment template.yaml gives the function, for the ops report's target."""
    env = {
        "TARGET_NAME": "academy-video",
        "CONFIG_PARAMETER_PATH": "/academy/api/",
        "JOB_QUEUE": "academy-video-batch-queue",
        "JOB_DEFINITION": "academy-video-batch-jobdef",
        "CONFIG_SOURCES": json.dumps(config_sources or {}),
        "POWERTOOLS_METRICS_NAMESPACE": "BatchHealth",
        "ALERT_TOPIC_ARN": "",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)


@pytest.fixture
def function_env(monkeypatch, seed_world) -> dict[str, Any]:
    """The ops report's world in moto, and the function's environment pointing at it."""
    set_function_env(monkeypatch, seed_world["config_sources"])
    return seed_world


@pytest.fixture
def env_only(monkeypatch) -> None:
    """The function's environment, for tests that fail before any AWS call."""
    set_function_env(monkeypatch)


class CurrentStdout:
    """Writes to whatever sys.stdout is now (the Logger bound its stream at import)."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


@pytest.fixture
def output(capsys) -> Iterator[Any]:
    """Logger and EMF lines as the Lambda log would hold them, parsed."""
    handler = logger.registered_handler
    original = handler.setStream(CurrentStdout())

    def read() -> tuple[list[dict], list[dict]]:
        lines = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x[:1] == "{"]
        return [x for x in lines if "_aws" in x], [x for x in lines if "_aws" not in x]

    yield read
    handler.stream = original  # not setStream: that would flush a closed capture


def context(remaining_s: float = 300.0) -> LocalContext:
    return LocalContext(timeout_s=remaining_s, region="ap-northeast-2")


def check_failed(emf: list[dict]) -> dict[str, float]:
    return {
        line["Check"]: line["CheckFailed"][0]
        for line in emf
        if "CheckFailed" in line and line["Target"] == "academy-video"
    }


def test_scheduled_run_reports_emits_and_logs(function_env, output):
    event = {"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}
    result = app.lambda_handler(event, context())

    assert result.keys() >= REPORT_KEYS
    statuses = {c["name"]: c["status"] for c in result["checks"]}
    assert statuses["LOG_GROUP_CHECK"] == "FAIL"
    assert statuses["LOG_CONTENT_CHECK"] == "SKIP"
    assert result["overall"] == "FAIL"

    emf, logs = output()
    not_skipped = {name for name, status in statuses.items() if status != "SKIP"}
    failed = check_failed(emf)
    assert set(failed) == not_skipped  # one CheckFailed per check that looked
    assert failed["LOG_GROUP_CHECK"] == 1 and failed["QUEUE_CHECK"] == 0
    assert [x["SuiteRun"] for x in emf if "SuiteRun" in x] == [[1.0]]
    assert [x["FailedChecks"] for x in emf if "FailedChecks" in x] == [[1.0]]

    (checked,) = [x for x in logs if x["message"] == "target checked"]
    assert checked["target"] == "academy-video" and checked["trigger"] == "schedule"
    assert checked["function_request_id"]  # Lambda context injected by Powertools
    logged = {c["name"]: c for c in checked["checks"]}
    assert logged["LOG_GROUP_CHECK"]["status"] == "FAIL"
    assert all(isinstance(c["duration_ms"], int) for c in checked["checks"])
    assert any(x["message"] == "notifications off: no ALERT_TOPIC_ARN configured" for x in logs)


def test_single_check_event_runs_only_that_check(function_env, output):
    result = app.lambda_handler({"checks": ["QUEUE_CHECK"], "notify": False}, context())
    assert [c["name"] for c in result["checks"]] == ["QUEUE_CHECK"]
    emf, _ = output()
    assert check_failed(emf) == {"QUEUE_CHECK": 0}


def test_invalid_event_fails_the_invocation_and_sends_nothing(env_only, output):
    with pytest.raises(InvalidEventError) as err:
        app.lambda_handler({"allow_test_submit": "yes", "notfy": True}, context())
    assert "allow_test_submit: Input should be a valid boolean" in str(err.value)
    assert "notfy: unknown field" in str(err.value)
    emf, logs = output()
    assert emf == []
    assert not [x for x in logs if x.get("message") == "run starting"]


def test_bad_settings_fail_the_invocation_naming_the_variable(env_only, monkeypatch):
    monkeypatch.setenv("FAILURE_THRESHOLD", "zero")
    with pytest.raises(ValueError, match="FAILURE_THRESHOLD: Input should be a valid integer"):
        app.lambda_handler({}, context())


def test_time_budget_is_the_remaining_time_minus_the_margin(function_env, output):
    # 10 s left, 10 s margin: no time to start any check.
    result = app.lambda_handler({"notify": False}, context(remaining_s=10.0))
    assert {c["status"] for c in result["checks"]} == {"SKIP"}
    assert all(c["detail"].endswith(BUDGET_EXHAUSTED) for c in result["checks"])
    emf, _ = output()
    assert check_failed(emf) == {}  # a check that did not look neither fails nor clears
    assert [x["SuiteRun"] for x in emf if "SuiteRun" in x] == [[1.0]]


def test_unknown_target_in_the_event_is_rejected(env_only):
    with pytest.raises(InvalidEventError, match="unknown target nope; configured targets: acad"):
        app.lambda_handler({"targets": ["nope"]}, context())


def settings(**env: str) -> MonitorSettings:
    return MonitorSettings.from_env(
        {
            "AWS_REGION": "ap-northeast-2",
            "CONFIG_PARAMETER_PATH": "/academy/api/",
            "JOB_QUEUE": "academy-video-batch-queue",
            "JOB_DEFINITION": "academy-video-batch-jobdef",
            "TARGET_NAME": "academy-video",
            "ALERT_TOPIC_ARN": "arn:aws:sns:ap-northeast-2:123456789012:alerts",
            "POWERTOOLS_METRICS_NAMESPACE": "BatchHealth",
            **env,
        }
    )


def handle(event: dict[str, Any], notifier: monitor.Notifier) -> dict[str, Any]:
    """monitor.handle plus the flush that `log_metrics` does around the real handler."""
    try:
        return monitor.handle(event, context(), settings(), notifier=notifier)
    finally:
        metrics.flush_metrics()


def test_notification_failures_are_counted(seed_world, output):
    calls = []

    def notifier(suite, s, sessions):
        calls.append(suite.overall.value)
        return ["sns: AccessDenied on Publish", "state: table unreachable"]

    handle({}, notifier)
    assert calls == ["FAIL"]
    emf, logs = output()
    assert [x["NotificationFailed"] for x in emf if "NotificationFailed" in x] == [[2.0]]
    failures = [x["failure"] for x in logs if x["message"] == "notification failed"]
    assert failures == ["sns: AccessDenied on Publish", "state: table unreachable"]


def test_a_crashing_notifier_does_not_lose_the_report(seed_world, output):
    def notifier(suite, s, sessions):
        raise RuntimeError("bug in a channel")

    result = handle({}, notifier)
    assert result["overall"] == "FAIL"
    emf, logs = output()
    assert [x["NotificationFailed"] for x in emf if "NotificationFailed" in x] == [[1.0]]
    assert any(
        "notifier crashed: RuntimeError: bug in a channel" in x.get("failure", "") for x in logs
    )


def test_notify_false_sends_nothing(seed_world, output):
    def notifier(suite, s, sessions):
        raise AssertionError("must not be called")

    handle({"notify": False}, notifier)
    emf, _ = output()
    assert not [x for x in emf if "NotificationFailed" in x]


def test_critical_failure_is_published_to_the_topic(world, seed_world, function_env, monkeypatch):
    """The real notifications path: SNS topic (read through an SQS subscription) + table."""
    sns, sqs = world.client("sns"), world.client("sqs")
    topic = sns.create_topic(Name="alerts")["TopicArn"]
    queue_url = sqs.create_queue(QueueName="alerts-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    world.client("dynamodb").create_table(
        TableName="incidents",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    monkeypatch.setenv("ALERT_TOPIC_ARN", topic)
    monkeypatch.setenv("INCIDENT_TABLE_NAME", "incidents")

    app.lambda_handler({}, context())

    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    attributes = [json.loads(m["Body"])["MessageAttributes"] for m in messages]
    failing = {(a["check"]["Value"], a["status"]["Value"]) for a in attributes}
    assert ("LOG_GROUP_CHECK", "FAIL") in failing
    assert all(a["target"]["Value"] == "academy-video" for a in attributes)


# --- what a run sends, with and without the failing checks of the previous run ---------------

SCHEDULED = {"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}


@pytest.fixture
def incident_table(world, monkeypatch) -> str:
    world.client("dynamodb").create_table(
        TableName="incidents",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    monkeypatch.setenv("INCIDENT_TABLE_NAME", "incidents")
    return "incidents"


def sent_by_run(emf: list[dict]) -> tuple[dict[str, float], list, list]:
    """(CheckFailed per check, FailedChecks values, SuiteRun lines' (dimensions, values))."""
    suite_runs = [
        ({d: x[d] for d in x["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0]}, x["SuiteRun"])
        for x in emf
        if "SuiteRun" in x
    ]
    return check_failed(emf), [x["FailedChecks"] for x in emf if "FailedChecks" in x], suite_runs


def test_with_the_table_a_check_is_sent_while_it_fails_and_once_when_it_recovers(
    function_env, incident_table, world, output
):
    heartbeat = [({"service": "batch-health"}, [1.0])]
    app.lambda_handler(SCHEDULED, context())
    emf, _ = output()
    assert sent_by_run(emf) == ({"LOG_GROUP_CHECK": 1}, [[1.0]], heartbeat)
    table = world.client("dynamodb")
    key = {"pk": {"S": "academy-video#failing"}}
    first = table.get_item(TableName=incident_table, Key=key)["Item"]
    assert first["checks"] == {"SS": ["LOG_GROUP_CHECK"]}

    app.lambda_handler(SCHEDULED, context())  # still failing: sent again, state unchanged
    emf, _ = output()
    assert sent_by_run(emf) == ({"LOG_GROUP_CHECK": 1}, [[1.0]], heartbeat)
    assert table.get_item(TableName=incident_table, Key=key)["Item"] == first  # not written

    world.log_group(messages=["worker started"])  # the fix
    app.lambda_handler(SCHEDULED, context())
    emf, _ = output()
    assert sent_by_run(emf) == ({"LOG_GROUP_CHECK": 0}, [[0.0]], heartbeat)  # the recovery
    app.lambda_handler(SCHEDULED, context())
    emf, _ = output()
    assert sent_by_run(emf) == ({}, [], heartbeat)  # healthy: only the heartbeat


def test_an_unreachable_table_sends_every_value_and_says_so(function_env, monkeypatch, output):
    monkeypatch.setenv("INCIDENT_TABLE_NAME", "no-such-table")
    result = app.lambda_handler({"notify": False}, context())
    statuses = {c["name"]: c["status"] for c in result["checks"]}
    emf, logs = output()
    failed = check_failed(emf)
    assert set(failed) == {n for n, s in statuses.items() if s != "SKIP"}
    assert failed["LOG_GROUP_CHECK"] == 1 and failed["QUEUE_CHECK"] == 0
    assert [x["FailedChecks"] for x in emf if "FailedChecks" in x] == [[1.0]]
    [warning] = [x for x in logs if x["message"].startswith("metric state unavailable")]
    assert warning["level"] == "WARNING" and warning["table"] == "no-such-table"


def test_notification_failed_is_sent_only_when_a_notification_failed(seed_world, output):
    handle({}, lambda suite, s, sessions: [])
    emf, _ = output()
    assert not [x for x in emf if "NotificationFailed" in x]
    assert [x["SuiteRun"] for x in emf if "SuiteRun" in x] == [[1.0]]


@pytest.mark.parametrize(("value", "expected"), [("true", True), ("false", False)])
def test_the_run_lists_the_queue_for_the_gauges_as_the_stack_says(
    env_only, monkeypatch, value, expected
):
    monkeypatch.setenv("QUEUE_DEPTH_GAUGES", value)
    seen: list[Any] = []

    def run_suite(config, options, sessions):
        seen.append(options)
        raise RuntimeError("stop here")

    monkeypatch.setattr(monitor, "run_suite", run_suite)
    with pytest.raises(RuntimeError, match="stop here"):
        monitor.handle({}, LocalContext(region="ap-northeast-2"), MonitorSettings.from_env())
    metrics.clear_metrics()
    [options] = seen
    assert options.queue_depth is expected
