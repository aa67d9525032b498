"""Faults injected into AWS: throttling, a slow account near the Lambda timeout, a failed publish.

Faults go in through botocore's `before-send` event on the clients AwsSessions creates:
a hook registered first answers instead of the endpoint (a throttling error), or delays
the request. Everything else is the real suite on moto, as in production.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from support.faults import (
    Body,
    CallHook,
    SendHook,
    error_response,
    first_attempt,
    operation,
    throttling,
)
from support.suite import run_targets

from batch_health.aws.sessions import AwsSessions
from batch_health.cli.invoke import LocalContext
from batch_health.demo import REGION
from batch_health.engine import BUDGET_EXHAUSTED
from batch_health.models import Status, SuiteReport
from batch_health.render import render_text
from batch_health.runtime import monitor
from batch_health.runtime.observability import metrics
from batch_health.runtime.settings import MonitorSettings

# A run without a notifier has no run-level metric; Powertools warns about the empty flush.
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")


@pytest.fixture
def hooks(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[Any]]:
    """Hooks on every AwsSessions client: "send" runs before each HTTP attempt (and may
    answer instead of the endpoint, so botocore retries as it would); "call" runs before
    each API call (and may answer for the whole call, retries included)."""
    installed: dict[str, list[Any]] = {"send": [], "call": []}
    original = AwsSessions.client

    def client(self: AwsSessions, *args: Any, **kwargs: Any) -> Any:
        made = original(self, *args, **kwargs)
        service = made.meta.service_model

        def before_send(request: AWSPreparedRequest, **_: Any) -> AWSResponse | None:
            return next(
                (r for hook in installed["send"] if (r := hook(service, request)) is not None),
                None,
            )

        def before_call(model: Any, params: dict[str, Any], **_: Any) -> Any:
            return next(
                (r for hook in installed["call"] if (r := hook(model, params)) is not None), None
            )

        # First: in-process moto answers from before-send too, and would act on the request
        # (a publish would go out) even when a fault answers it.
        made.meta.events.register_first("before-send", before_send, unique_id="fault-send")
        made.meta.events.register_first("before-call", before_call, unique_id="fault-call")
        return made

    monkeypatch.setattr(AwsSessions, "client", client)
    return installed


@pytest.fixture
def on_send(hooks: dict[str, list[Any]]) -> list[SendHook]:
    return hooks["send"]


@pytest.fixture
def on_call(hooks: dict[str, list[Any]]) -> list[CallHook]:
    return hooks["call"]


class EveryOtherCallThrottled:
    """Half of all AWS calls answer a throttling error on their first attempt."""

    # The monitor deliberately does not retry the IAM simulator (it falls back at once).
    NOT_RETRIED = {"SimulatePrincipalPolicy"}

    def __init__(self) -> None:
        self.active = False
        self.calls = 0
        self.throttled: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, model: Any, request: AWSPreparedRequest) -> AWSResponse | None:
        if not self.active or not first_attempt(request):
            return None
        name = operation(request, model)
        with self._lock:
            self.calls += 1
            if self.calls % 2 or name in self.NOT_RETRIED:
                return None
            self.throttled.append(f"{model.service_name}:{name}")
        return throttling(model, request)


def run(target: dict[str, Any], **options: Any) -> SuiteReport:
    return run_targets([target], **options)


def statuses(suite: SuiteReport) -> dict[str, Status]:
    return {c.name: c.status for c in suite.reports[0].checks}


@pytest.mark.parametrize("world_name", ["seed_world", "healthy_world"])
def test_throttling_half_the_calls_changes_no_result_and_the_retries_are_counted(
    world_name, request, on_send
):
    target = request.getfixturevalue(world_name)
    throttle = EveryOtherCallThrottled()
    on_send.append(throttle)
    clean = run(target)
    throttle.active = True
    faulty = run(target)

    assert statuses(faulty) == statuses(clean)
    assert len(throttle.throttled) >= 5, throttle.throttled
    assert throttle.calls >= 2 * len(throttle.throttled)
    for result in faulty.reports[0].checks:
        assert "throttled" not in result.detail, (result.name, result.detail)
    # Every throttled call was retried once by botocore, and the report says so. (Compared
    # with the clean run: in-process moto answers iam:SimulatePrincipalPolicy by raising
    # from its own before-send hook, so that one attempt is never counted, in either run.)
    stats = faulty.stats
    assert stats["aws_calls"] == clean.stats["aws_calls"]
    assert stats["aws_http_attempts"] == clean.stats["aws_http_attempts"] + len(throttle.throttled)
    assert stats["aws_retries"] >= len(throttle.throttled) - 1 > 0
    assert clean.stats["aws_retries"] == 0
    assert faulty.to_dict()["stats"] == stats
    assert (
        f"AWS_CALLS: {stats['aws_calls']} (HTTP attempts {stats['aws_http_attempts']}, "
        f"retries {stats['aws_retries']})"
    ) in render_text(faulty)


def test_throttling_that_outlasts_the_retries_is_a_fail_naming_it(seed_world, on_send, monkeypatch):
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")  # botocore's own setting, honoured by AwsSessions
    throttled: list[str] = []

    def describe_job_definitions_throttled(model: Any, request: AWSPreparedRequest) -> Any:
        if operation(request, model) == "DescribeJobDefinitions":
            throttled.append("DescribeJobDefinitions")
            return throttling(model, request)
        return None

    on_send.append(describe_job_definitions_throttled)
    suite = run(seed_world)
    report = suite.reports[0]
    jobdef = report.result("JOBDEF_CHECK")
    assert jobdef is not None and jobdef.status is Status.FAIL
    assert jobdef.detail.startswith(
        "job definition academy-video-batch-jobdef: throttled on DescribeJobDefinitions: "
        "TooManyRequestsException"
    )
    assert jobdef.data["error_kind"] == "throttled"
    assert "throttled the calls even after retries" in jobdef.hints[0]
    # What needed the job definition says why it could not look; the rest is unaffected.
    assert report.result("IAM_CHECK").detail.startswith("JOBDEF_CHECK is FAIL: job definition")
    log_group = report.result("LOG_GROUP_CHECK")
    assert log_group.status is Status.SKIP and "throttled" in log_group.detail
    for name in ("AWS_ACCESS", "QUEUE_CHECK", "CE_CHECK", "CONFIG_MATCH_QUEUE"):
        assert report.result(name).status is Status.OK, name
    assert throttled == ["DescribeJobDefinitions"] * 2  # asked once, retried once
    assert suite.stats["aws_retries"] == 1


# --- near the Lambda timeout ------------------------------------------------------------


def emf_lines(out: str) -> list[dict[str, Any]]:
    lines = [json.loads(x) for x in out.splitlines() if x.startswith("{")]
    return [x for x in lines if "_aws" in x]


def settings_for(target: dict[str, Any], **env: str) -> MonitorSettings:
    return MonitorSettings.from_env(
        {
            "AWS_REGION": "ap-northeast-2",
            "CONFIG_PARAMETER_PATH": "/academy/api/",
            "TARGET_NAME": target["name"],
            "JOB_QUEUE": target["job_queue"],
            "JOB_DEFINITION": target["job_definition"],
            "CONFIG_SOURCES": json.dumps(target.get("config_sources", {})),
            "POWERTOOLS_METRICS_NAMESPACE": "BatchHealth",
            **env,
        }
    )


@pytest.fixture
def fresh_runtime() -> Iterator[None]:
    monitor.reset_runtime()
    # The Metrics object is shared by the process: what an earlier test added and did not
    # flush would be printed with this run's metrics.
    metrics.clear_metrics()
    yield
    monitor.reset_runtime()


HANGING = {"DescribeComputeEnvironments", "DescribeLogGroups", "GetRole"}


def test_near_the_timeout_unstarted_checks_skip_and_metrics_and_report_still_go_out(
    healthy_world, on_send, capsys, fresh_runtime
):
    """4 s of budget, and the second round of AWS calls (the queue's compute
    environments, the job definition's log group and roles) hangs: a partial, truthful run.

    The first round answers at once, so the checks it feeds start; checks waiting for the
    hanging calls are still waiting when the budget runs out.
    """
    over = threading.Event()

    def second_round_hangs(model: Any, request: AWSPreparedRequest) -> AWSResponse | None:
        if operation(request, model) not in HANGING:
            return None
        over.wait(30)  # until the test is over; then an error, so nothing is sent
        return error_response(model, request, "AccessDeniedException")

    on_send.append(second_round_hangs)
    margin_ms = 1000
    settings = settings_for(healthy_world, TIME_BUDGET_MARGIN_MS=str(margin_ms))
    # Budget enough for the first round even on a loaded 2-core CI machine (in-process moto
    # is slow to answer its first calls); the second round hangs past it regardless.
    context = LocalContext(timeout_s=(margin_ms + 4000) / 1000, region=REGION)
    notified: list[SuiteReport] = []

    def notifier(suite: SuiteReport, s: MonitorSettings, sessions: AwsSessions) -> list[str]:
        notified.append(suite)
        return []

    settings = settings.model_copy(
        update={"alert_topic_arn": f"arn:aws:sns:{REGION}:123456789012:alerts"}
    )
    started = time.monotonic()
    try:
        report = monitor.handle({}, context, settings, notifier=notifier)
    finally:
        over.set()
        metrics.flush_metrics()
    elapsed = time.monotonic() - started

    # Returned while Lambda would still be waiting for it.
    assert elapsed < context.timeout_s, elapsed
    checks = {c["name"]: c for c in report["checks"]}
    assert len(checks) == 12
    skipped = {n for n, c in checks.items() if c["detail"] == BUDGET_EXHAUSTED}
    looked = {n for n, c in checks.items() if c["status"] != "SKIP"}
    assert skipped and looked, {n: c["detail"] for n, c in checks.items()}
    assert all(checks[n]["status"] == "SKIP" for n in skipped)
    assert {"AWS_ACCESS", "QUEUE_CHECK", "CONFIG_MATCH_QUEUE"} <= looked
    # JOBDEF_CHECK asks whether the job can run on the queue's compute environments
    assert {"CE_CHECK", "JOBDEF_CHECK", "LOG_GROUP_CHECK"} <= skipped
    # ... and those that need them skip with them (or for the budget, whichever is first)
    assert checks["IAM_CHECK"]["status"] == checks["LOG_CONTENT_CHECK"]["status"] == "SKIP"
    assert not any(c["detail"].startswith("check crashed") for c in checks.values())

    emf = emf_lines(capsys.readouterr().out)
    failed = {x["Check"]: x["CheckFailed"] for x in emf if "CheckFailed" in x}
    assert set(failed) == looked  # a check that did not look neither fails nor clears
    assert [x["SuiteRun"] for x in emf if "SuiteRun" in x] == [[1.0]]
    # Nothing failed to go out: NotificationFailed is sent only when something did.
    assert [x["NotificationFailed"] for x in emf if "NotificationFailed" in x] == []
    # The partial run is still offered to the notifier (which ignores SKIPs).
    assert [s.to_dict()["checks"] for s in notified] == [report["checks"]]
    assert report["stats"]["aws_calls"] > 0


# --- a notification channel failing -----------------------------------------------------


class AlertChannel:
    """The stack's topic (an SQS queue subscribed reads what was published) and table."""

    def __init__(self) -> None:
        sns = boto3.client("sns", region_name=REGION)
        self.sqs = boto3.client("sqs", region_name=REGION)
        self.topic_arn = sns.create_topic(Name="alerts")["TopicArn"]
        self.queue_url = self.sqs.create_queue(QueueName="alerts-copy")["QueueUrl"]
        queue_arn = self.sqs.get_queue_attributes(
            QueueUrl=self.queue_url, AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=self.topic_arn, Protocol="sqs", Endpoint=queue_arn)
        boto3.client("dynamodb", region_name=REGION).create_table(
            TableName="incidents",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )

    def received(self) -> list[tuple[str, str]]:
        """(check, event) of every message published since the last call."""
        out = []
        while batch := self.sqs.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=10
        ).get("Messages", []):
            for m in batch:
                attrs = json.loads(m["Body"])["MessageAttributes"]
                out.append((attrs["check"]["Value"], attrs["event"]["Value"]))
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=m["ReceiptHandle"])
        return sorted(out)


def test_a_failed_publish_is_counted_spares_the_other_message_and_is_sent_next_run(
    seed_world, on_call, capsys, fresh_runtime
):
    channel = AlertChannel()
    # Two critical checks fail on the ops report's world: the log group, and a queue name mismatch.
    target = {**seed_world, "config_sources": {"api": {"job_queue": "old-video-queue"}}}
    settings = settings_for(
        target,
        ALERT_TOPIC_ARN=channel.topic_arn,
        INCIDENT_TABLE_NAME="incidents",
        CRITICAL_CHECKS="LOG_GROUP_CHECK,CONFIG_MATCH_QUEUE",
    )
    publishes: list[str] = []

    def first_publish_refused(model: Any, params: dict[str, Any]) -> Any:
        if model.name == "Publish":
            publishes.append(params["body"]["Subject"])
            if len(publishes) == 1:  # not retryable: the topic's key is disabled
                error = {"Code": "KMSDisabled", "Message": "the topic's KMS key is disabled"}
                http = AWSResponse(params["url"], 400, {}, Body(b""))
                return http, {"Error": error, "ResponseMetadata": {"HTTPStatusCode": 400}}
        return None

    on_call.append(first_publish_refused)

    def scheduled_run() -> list[float]:
        try:
            report = monitor.handle({}, LocalContext(region=REGION), settings)
        finally:
            metrics.flush_metrics()
        assert report["overall"] == "FAIL"
        emf = emf_lines(capsys.readouterr().out)
        return [v for x in emf if "NotificationFailed" in x for v in x["NotificationFailed"]]

    assert scheduled_run() == [1.0]  # counted: the NotificationFailed alarm fires
    [delivered] = channel.received()
    assert delivered[1] == "FAIL"

    # The next run sends the one that failed (its incident was not recorded as notified),
    # and does not repeat the one that went out.
    assert scheduled_run() == []  # nothing failed to go out: nothing sent
    [resent] = channel.received()
    assert {delivered[0], resent[0]} == {"LOG_GROUP_CHECK", "CONFIG_MATCH_QUEUE"}
    assert resent[1] == "FAIL"
    assert scheduled_run() == []  # nothing new to say, and nothing failed
    assert channel.received() == []
