"""The built monitor function under AWS's own Lambda runtime client, configured as the
template deploys it.

`sam build`'s artifact runs in `python -m awslambdaric app.lambda_handler`, which is what
the python3.13 runtime runs, against a Lambda Runtime API on 127.0.0.1
(support.lambda_runtime), with the environment the template gives MonitorFunction for the
seed world's parameters (support.cfn), its memory, timeout and `Tracing: Active`, and
AWS as a moto server holding the ops report's world plus the stack's alert topic and
incident table. One process takes, in order, the scheduler's event, a manual full run and
an invalid event.

This proves that the runtime can import the handler from the build; that the template's
environment is one the function accepts; that a warm process serves a second invocation
without a second init; that an invalid event reaches the caller as a function error
naming the bad fields, with nothing published; that only the scheduled run notifies; and
that the logs are Powertools JSON carrying the EMF metrics and the X-Ray trace is sent.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support.cfn import Stack, deploy
from support.lambda_runtime import FunctionProcess, Invocation

from batch_health.checks import CHECK_NAMES
from batch_health.demo import LOG_GROUP, WorldBuilder

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
# The ops report's workload, as `sam deploy` would be given it.
SEED_PARAMETERS = {
    "JobQueue": "academy-video-batch-queue",
    "JobDefinition": "academy-video-batch-jobdef",
    "TargetName": "academy-video",
    "Stage": "prod",
    "LogGroup": "",
}
EVENTS = ("scheduled", "manual-full", "invalid")  # invoked in this order, on one process
INVOKE_TIMEOUT_S = 60


@dataclass
class Run:
    """One invocation: what the runtime posted, and what the function wrote and sent."""

    kind: str
    payload: Any
    invocation: Invocation
    stdout: str
    stderr: str
    published: list[dict[str, Any]]  # SNS notifications delivered while it ran


@dataclass
class Deployment:
    stack: Stack
    function: FunctionProcess
    runs: dict[str, Run]
    table: str
    world: WorldBuilder


@pytest.fixture(scope="module")
def deployment(
    build_dir: Path,
    runtime_dir: Path,
    seed_endpoint: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Deployment]:
    """The stack's topic and table in the ops report's world; the function started under
    awslambdaric with the template's configuration; the three events invoked in order.
    Tests only read these runs, so each holds on whichever xdist worker runs it."""
    stack = deploy(parameters=SEED_PARAMETERS)
    world = WorldBuilder(seed_endpoint)
    topic_arn, alerts = create_topic_and_table(stack, world)

    environment = stack.properties("MonitorFunction")["Environment"]["Variables"]
    assert environment["ALERT_TOPIC_ARN"] == topic_arn  # the template's topic is moto's
    function = FunctionProcess.deployed(
        stack,
        "MonitorFunction",
        build_dir=build_dir,
        runtime_dir=runtime_dir,
        endpoint=seed_endpoint,
        log_dir=tmp_path_factory.mktemp("monitor-function"),
    )
    with function:
        runs = {}
        for name in EVENTS:
            event = json.loads((ROOT / "events" / f"{name}.json").read_text())
            kind, payload = function.invoke(event, timeout_s=INVOKE_TIMEOUT_S)
            invocation = function.invocations[-1]
            stdout, stderr = function.output(invocation)
            runs[name] = Run(kind, payload, invocation, stdout, stderr, receive_all(world, alerts))
        function.wait_idle()
        wait_for_handler_traces(function, len(EVENTS))
        yield Deployment(stack, function, runs, stack.physical_name("IncidentTable"), world)


def create_topic_and_table(stack: Stack, world: WorldBuilder) -> tuple[str, str]:
    """The stack's alert topic and incident table, made in the emulator under their
    deployed names; returns the topic's ARN and the URL of a queue subscribed to it."""
    topic_arn = world.client("sns").create_topic(Name=stack.physical_name("AlertTopic"))["TopicArn"]
    table = stack.properties("IncidentTable")
    world.client("dynamodb").create_table(
        TableName=stack.physical_name("IncidentTable"),
        KeySchema=table["KeySchema"],
        AttributeDefinitions=table["AttributeDefinitions"],
        BillingMode=table["BillingMode"],
    )
    return topic_arn, subscribe_queue(world, topic_arn)


def subscribe_queue(world: WorldBuilder, topic_arn: str) -> str:
    """An SQS queue subscribed to the topic: what was published lands there."""
    sqs = world.client("sqs")
    url = sqs.create_queue(QueueName="alert-tap")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    world.client("sns").subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn)
    return url


def receive_all(world: WorldBuilder, queue_url: str) -> list[dict[str, Any]]:
    """The SNS notifications in the queue (taken out of it)."""
    sqs, messages = world.client("sqs"), []
    while batch := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get(
        "Messages", []
    ):
        for message in batch:
            messages.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return messages


def wait_for_handler_traces(function: FunctionProcess, count: int) -> None:
    """The X-Ray SDK sends over UDP: give the last datagrams a moment to arrive."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and len(handler_subsegments(function)) < count:
        time.sleep(0.05)


def handler_subsegments(function: FunctionProcess) -> list[dict[str, Any]]:
    return [d for d in function.xray.documents if d.get("name") == "## lambda_handler"]


def records(text: str) -> list[str]:
    """Log records. Only "\\n" ends one: awslambdaric joins the lines of its report of an
    unhandled error with "\\r", so that CloudWatch keeps it as one event."""
    return [line for line in text.split("\n") if line]


def json_records(text: str) -> list[dict[str, Any]]:
    out = []
    for record in records(text):
        try:
            out.append(json.loads(record))
        except ValueError:
            continue
    return out


def powertools_lines(run: Run) -> list[dict[str, Any]]:
    return [r for r in json_records(run.stdout) if "level" in r and "message" in r]


def emf_lines(run: Run) -> list[dict[str, Any]]:
    return [r for r in json_records(run.stdout) if "_aws" in r]


def trace_root(invocation: Invocation) -> str:
    return invocation.trace_id.split(";")[0].removeprefix("Root=")


def test_the_runtime_initialises_and_the_scheduled_run_reports(deployment):
    function, run = deployment.function, deployment.runs["scheduled"]
    assert function.init_error is None
    assert function.api.requests[0][:2] == ("GET", "/2018-06-01/runtime/invocation/next")

    assert run.kind == "response", run.payload
    report = run.payload
    assert report["target"] == "academy-video" and report["overall"] == "FAIL"
    assert [c["name"] for c in report["checks"]] == list(CHECK_NAMES)
    log_group = next(c for c in report["checks"] if c["name"] == "LOG_GROUP_CHECK")
    assert log_group["status"] == "FAIL"
    assert LOG_GROUP in log_group["detail"], log_group
    assert all(line["cold_start"] is True for line in powertools_lines(run))


def test_a_warm_process_serves_the_manual_run_without_a_second_init(deployment):
    function, cold, warm = (
        deployment.function,
        deployment.runs["scheduled"],
        deployment.runs["manual-full"],
    )
    assert warm.kind == "response", warm.payload
    assert warm.payload["overall"] == "FAIL"
    assert [c["name"] for c in warm.payload["checks"]] == list(CHECK_NAMES)
    smoke = next(c for c in warm.payload["checks"] if c["name"] == "SMOKE_SUBMIT_CHECK")
    assert smoke["status"] == "SKIP"  # allow_test_submit: false

    # One process, one init: each GET /next after the first came from the same loop.
    assert function.alive() and function.init_error is None
    assert function.api.next_requests == len(EVENTS) + 1  # the last one still waiting
    assert {line["cold_start"] for line in powertools_lines(cold)} == {True}
    assert {line["cold_start"] for line in powertools_lines(warm)} == {False}
    for run in (cold, warm):
        ids = {line["function_request_id"] for line in powertools_lines(run)}
        assert ids == {run.invocation.request_id}


def test_an_invalid_event_is_a_function_error_naming_the_fields_and_sends_nothing(deployment):
    function, run = deployment.function, deployment.runs["invalid"]
    assert run.kind == "error"
    request_id = run.invocation.request_id
    assert (
        "POST",
        f"/2018-06-01/runtime/invocation/{request_id}/error",
        202,
    ) in function.api.requests
    error = run.payload
    assert error["errorType"] == "InvalidEventError"
    assert error["requestId"] == request_id
    assert "checks: unknown check LOGS_CHECK" in error["errorMessage"]
    assert "allow_test_submit: Input should be a valid boolean" in error["errorMessage"]
    assert "notfy: unknown field" in error["errorMessage"]
    assert any("runtime/event.py" in frame for frame in error["stackTrace"])
    # The runtime's own report of the error, in the function's log.
    reported = "[ERROR] InvalidEventError: invalid event:"
    assert any(record.startswith(reported) for record in records(run.stdout))
    assert function.alive()  # a handler error does not end the environment

    # Nothing ran and nothing was sent; only the scheduled run notified (the manual one
    # says notify: false), once, about the critical LOG_GROUP_CHECK.
    assert emf_lines(run) == []
    assert run.published == []
    assert deployment.runs["manual-full"].published == []
    [sent] = deployment.runs["scheduled"].published
    attributes = {k: v["Value"] for k, v in sent["MessageAttributes"].items()}
    assert attributes["check"] == "LOG_GROUP_CHECK" and attributes["target"] == "academy-video"
    assert attributes["status"] == "FAIL"
    # The incident's state, in the template's table: "<target>#<check>".
    items = deployment.world.client("dynamodb").scan(TableName=deployment.table)["Items"]
    assert "academy-video#LOG_GROUP_CHECK" in {item["pk"]["S"] for item in items}


def test_logs_are_powertools_json_with_the_emf_metrics(deployment):
    run = deployment.runs["scheduled"]
    lines = powertools_lines(run)
    assert {line["message"] for line in lines} >= {"run starting", "target checked"}
    for line in lines:
        assert line["service"] == "batch-health"
        assert line["function_name"] == deployment.stack.physical_name("MonitorFunction")
        assert line["function_arn"] == run.invocation.function_arn

    statuses = {c["name"]: c["status"] for c in run.payload["checks"]}
    check_failed = [x for x in emf_lines(run) if "CheckFailed" in x]
    for line in check_failed:
        directive = line["_aws"]["CloudWatchMetrics"][0]
        assert directive["Namespace"] == "BatchHealth"  # the template's MetricNamespace
        assert directive["Dimensions"] == [["Target", "Check"]]
    emitted = {x["Check"]: x["CheckFailed"] for x in check_failed}
    # With the template's incident table, a check sends CheckFailed while it fails (and once
    # when it recovers): this first run sends exactly its FAILs.
    assert emitted == {n: [1.0] for n, s in statuses.items() if s == "FAIL"}
    assert emitted["LOG_GROUP_CHECK"] == [1.0]


def test_every_record_the_function_writes_is_json(deployment):
    """In CloudWatch Logs each record is one event: a text one is what a Logs Insights
    query or a metric filter on JSON fields cannot see. The one exception is the runtime's
    own report of an unhandled error, text under the function's Text log format."""
    not_json = []
    for name, run in deployment.runs.items():
        for stream, text in (("stdout", run.stdout), ("stderr", run.stderr)):
            for record in records(text):
                if record.startswith("[ERROR] InvalidEventError: ") and name == "invalid":
                    continue
                try:
                    json.loads(record)
                except ValueError:
                    not_json.append(f"{name} {stream}: {record[:160]}")
    assert not not_json, "records that are not JSON:\n" + "\n".join(not_json)


def test_tracing_active_sends_the_handler_and_aws_calls_to_the_invocation_trace(deployment):
    function = deployment.function
    handlers = handler_subsegments(function)
    for name in EVENTS:
        root = trace_root(deployment.runs[name].invocation)
        assert [h for h in handlers if h["trace_id"] == root], f"no ## lambda_handler for {name}"
    scheduled = trace_root(deployment.runs["scheduled"].invocation)
    calls = {
        (d["name"], d["aws"]["operation"])
        for d in function.xray.documents
        if d.get("namespace") == "aws" and d["trace_id"] == scheduled
    }
    assert ("batch", "DescribeJobQueues") in calls and ("sns", "Publish") in calls
    invalid = trace_root(deployment.runs["invalid"].invocation)
    [failed] = [h for h in handlers if h["trace_id"] == invalid]
    assert failed["fault"] is True
    assert failed["cause"]["exceptions"][0]["type"] == "InvalidEventError"
    assert "cannot find the current segment" not in function.stdout()
