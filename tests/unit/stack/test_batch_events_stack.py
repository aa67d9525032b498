"""The Batch events path as the stack deploys it: the rule's pattern against AWS's documented
events (EventBridge's own matcher, moto's), the queue and its event source, the cross-account
forwarding, and every request of the events function allowed by the role it is given."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.events.models import EventPattern
from support.authorization import Knowledge
from support.batch_events import (
    JOB_TOO_LARGE,
    LOG_GROUP_MISSING,
    blocked,
    context,
    documented,
    failed,
    monitor_behind_invoke,
    sqs_batch,
    succeeded,
)
from support.cfn import ACCOUNT, REGION, ROOT, Stack, deploy
from support.placement import Answers
from support.recorder import Recorder
from support.replay import authorize, policies_of

from batch_health.aws.sessions import SINGLE_ATTEMPT_READ_TIMEOUT_S, AwsSessions
from batch_health.demo import JOBDEF, LOG_GROUP, QUEUE, WorldBuilder, build_seed
from batch_health.domain.batch_events import parse_batch_event
from batch_health.domain.iam_policy import Decision, evaluate
from batch_health.limits import SQS_ESM_MAX_CONCURRENCY_MIN
from batch_health.notify.job_incidents import SEND_CLAIM
from batch_health.runtime import monitor
from batch_health.runtime.batch_events import handle
from batch_health.runtime.confirmation import RESERVE_S, monitor_confirmer
from batch_health.runtime.monitor import Runtime
from batch_health.runtime.observability import metrics
from batch_health.runtime.settings import BatchEventSettings

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

SINGLE = {"JobQueue": QUEUE, "JobDefinition": JOBDEF, "TargetName": "academy-video"}
QUEUE_ARN = f"arn:aws:batch:{REGION}:{ACCOUNT}:job-queue/{QUEUE}"


def matches(pattern: dict[str, Any], event: dict[str, Any]) -> bool:
    """Does EventBridge deliver `event` to a rule with `pattern`? moto's matcher (the one its
    PutEvents routes with: $or, prefix, exact values)."""
    return bool(EventPattern.load(json.dumps(pattern)).matches_event(event))


def ours(event: dict[str, Any], queue_arn: str = QUEUE_ARN) -> dict[str, Any]:
    """The documented example, on the stack's queue, in the stack's account and region."""
    event = {**event, "account": ACCOUNT, "region": REGION}
    event["detail"] = {**event["detail"], "jobQueue": queue_arn}
    return event


def test_the_rule_reads_failed_succeeded_runnable_and_blocked_jobs_of_the_monitored_queue(aws):
    pattern = deploy(parameters=SINGLE).properties("BatchEventsRule")["EventPattern"]
    failed_job = ours(documented("job-failed"))
    assert matches(pattern, failed_job)
    assert matches(pattern, ours(documented("job-queue-blocked")))
    done = ours(documented("job-failed"))
    done["detail"] = {**done["detail"], "status": "SUCCEEDED"}
    assert matches(pattern, done)
    # The documented RUNNABLE change: judged on arrival.
    assert matches(pattern, ours(documented("job-state-change")))
    # Another queue, a job STARTING, a RUNNING job that is not a smoke job:
    assert not matches(pattern, ours(documented("job-failed"), QUEUE_ARN + "-other"))
    assert not matches(pattern, ours(documented("job-queue-blocked"), QUEUE_ARN + "-other"))
    starting = ours(documented("job-state-change"))
    starting["detail"] = {**starting["detail"], "status": "STARTING"}
    assert not matches(pattern, starting)
    running = ours(documented("job-failed"))
    running["detail"] = {**running["detail"], "status": "RUNNING"}
    assert not matches(pattern, running)
    running["detail"]["jobName"] = "health-smoke-20261127030000"
    assert matches(pattern, running)


def test_with_many_targets_the_rule_reads_the_named_queues_or_every_queue(aws):
    other = f"arn:aws:batch:us-west-2:111122223333:job-queue/{QUEUE}-west"
    named = deploy(parameters={"TargetsParameter": "/t/", "EventJobQueueArns": other})
    pattern = named.properties("BatchEventsRule")["EventPattern"]
    assert matches(pattern, ours(documented("job-failed"), other))
    assert not matches(pattern, ours(documented("job-failed")))
    every = deploy(parameters={"TargetsParameter": "/t/"})
    pattern = every.properties("BatchEventsRule")["EventPattern"]
    assert matches(pattern, ours(documented("job-failed"), other))


def test_what_the_rule_delivers_is_what_the_function_reads(aws):
    """EventBridge -> SQS -> the function, with the deployed rule (moto delivers to SQS)."""
    stack = deploy(parameters=SINGLE)
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="batch-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    events = boto3.client("events", region_name=REGION)
    events.put_rule(
        Name="batch-events",
        EventPattern=json.dumps(stack.properties("BatchEventsRule")["EventPattern"]),
    )
    events.put_targets(Rule="batch-events", Targets=[{"Id": "q", "Arn": arn["QueueArn"]}])
    example = failed(1, queue=QUEUE, region=REGION, reason=LOG_GROUP_MISSING)
    events.put_events(
        Entries=[
            {
                "Source": "aws.batch",
                "DetailType": "Batch Job State Change",
                "Detail": json.dumps(example["detail"]),
                "Resources": example["resources"],
            }
        ]
    )
    [message] = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    body = json.loads(message["Body"])
    assert body["detail-type"] == "Batch Job State Change" and body["source"] == "aws.batch"
    # moto's delivery leaves out the envelope's `account`, which AWS sends with every event.
    body.setdefault("account", ACCOUNT)
    event = parse_batch_event(body)
    assert event.reason().kind.name == "LOG_GROUP_MISSING"
    assert (
        event.queue_name == QUEUE
        and event.log_stream() == example["detail"]["container"]["logStreamName"]
    )


def test_the_queue_and_its_event_source_keep_lambdas_rules(aws):
    stack = deploy(parameters=SINGLE)
    function = stack.properties("BatchEventsFunction")
    queue = stack.properties("BatchEventsQueue")
    # "set the source queue's visibility timeout to at least six times the timeout"
    assert queue["VisibilityTimeout"] >= 6 * function["Timeout"]
    # An incident's send claim outlives the invocation that wrote it, and runs out before a
    # returned batch is delivered again (which then sends what was never sent).
    claim = SEND_CLAIM.total_seconds()
    assert function["Timeout"] < claim < queue["VisibilityTimeout"]
    # A confirmation is waited for only with its whole read timeout and the reserve left.
    assert function["Timeout"] > SINGLE_ATTEMPT_READ_TIMEOUT_S + RESERVE_S
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == stack.get_att("DeadLetterQueue", "Arn")
    mapping = next(
        props
        for name, props in ((n, r["Properties"]) for n, r in stack.resources.items())
        if stack.resources[name]["Type"] == "AWS::Lambda::EventSourceMapping"
    )
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    concurrency = mapping["ScalingConfig"]["MaximumConcurrency"]
    assert SQS_ESM_MAX_CONCURRENCY_MIN <= concurrency <= 10  # bounded, no reservation needed
    # "If you set BatchSize to more than 10, MaximumBatchingWindowInSeconds must be at least 1"
    assert mapping["BatchSize"] <= 10 or mapping["MaximumBatchingWindowInSeconds"] >= 1
    [allow] = stack.properties("BatchEventsQueuePolicy")["PolicyDocument"]["Statement"]
    assert allow["Principal"] == {"Service": "events.amazonaws.com"}
    assert allow["Condition"] == {
        "ArnEquals": {"aws:SourceArn": stack.get_att("BatchEventsRule", "Arn")}
    }
    dead = stack.properties("DeadLetterQueuePolicy")["PolicyDocument"]["Statement"]
    assert any(s.get("Sid") == "BatchEventsUndelivered" for s in dead)
    env = stack.properties("MonitorFunction")["Environment"]["Variables"]
    assert env["SMOKE_RESULT"] == "event"


def test_without_batch_events_nothing_is_deployed_and_the_smoke_run_waits(aws):
    stack = deploy(parameters={**SINGLE, "BatchEvents": "disabled"})
    assert not any(n.startswith("BatchEvents") for n in stack.resources)
    assert stack.properties("MonitorFunction")["Environment"]["Variables"]["SMOKE_RESULT"] == "wait"


def test_other_accounts_may_put_events_on_the_bus(aws):
    queues = ",".join(
        f"arn:aws:batch:{REGION}:{a}:job-queue/{QUEUE}" for a in ("111122223333", "444455556666")
    )
    accounts = {"EventSourceAccounts": "111122223333,444455556666", "EventJobQueueArns": queues}
    stack = deploy(parameters={**SINGLE, **accounts})
    policy = stack.properties("BatchEventsBusPolicy")
    assert re.fullmatch(r"[a-zA-Z0-9-_]{1,64}", policy["StatementId"])  # EventBridge's rule
    assert policy["Statement"]["Principal"] == {"AWS": ["111122223333", "444455556666"]}
    assert policy["Statement"]["Resource"] == f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default"


def test_a_target_account_forwards_its_batch_events_to_the_monitors_bus(aws):
    bus = f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default"
    target = deploy(
        ROOT / "templates" / "target-account-role.yaml",
        {"MonitorRoleArn": f"arn:aws:iam::{ACCOUNT}:role/monitor", "MonitorEventBusArn": bus},
        account="111122223333",
    )
    rule = target.properties("BatchEventsForwardRule")
    [to_bus] = rule["Targets"]
    assert to_bus["Arn"] == bus and to_bus["RoleArn"] == target.get_att(
        "BatchEventsForwardRole", "Arn"
    )
    theirs = "arn:aws:batch:ap-northeast-2:111122223333:job-queue/their-queue"
    assert matches(rule["EventPattern"], ours(documented("job-failed"), theirs))
    assert matches(rule["EventPattern"], ours(documented("job-queue-blocked"), theirs))
    assert not matches(rule["EventPattern"], ours(documented("job-state-change"), theirs))
    role = target.properties("BatchEventsForwardRole")
    [trust] = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "events.amazonaws.com"}
    docs = policies_of(target, "BatchEventsForwardRole")
    assert evaluate(docs, "events:PutEvents", bus, {}).decision is Decision.ALLOWED
    elsewhere = bus.replace(ACCOUNT, "999999999999")
    assert evaluate(docs, "events:PutEvents", elsewhere, {}).decision is not Decision.ALLOWED
    none = deploy(
        ROOT / "templates" / "target-account-role.yaml",
        {"MonitorRoleArn": f"arn:aws:iam::{ACCOUNT}:role/monitor"},
        account="111122223333",
    )
    assert not none.exists("BatchEventsForwardRule")


# --- permission replay: the events function and the monitor run it asks to confirm ------


def arrival(n: int) -> dict[str, Any]:
    """AWS's documented RUNNABLE state change, on the stack's queue."""
    event = ours(documented("job-state-change"))
    event["id"] = f"runnable-{n}"
    event["detail"]["jobId"] = f"20000000-0000-4000-8000-{n:012d}"
    return event


def events_deployment(stack: Stack, world: WorldBuilder) -> tuple[dict[str, str], dict[str, str]]:
    """The stack's topic and table in moto; (events function env, monitor env)."""
    events_env = {**stack.properties("BatchEventsFunction")["Environment"]["Variables"]}
    monitor_env = {**stack.properties("MonitorFunction")["Environment"]["Variables"]}
    for env in (events_env, monitor_env):
        env["AWS_REGION"] = REGION
    world.client("sns").create_topic(Name=events_env["ALERT_TOPIC_ARN"].rsplit(":", 1)[-1])
    table = stack.properties("IncidentTable")
    world.client("dynamodb").create_table(
        TableName=events_env["INCIDENT_TABLE_NAME"],
        AttributeDefinitions=table["AttributeDefinitions"],
        KeySchema=table["KeySchema"],
        BillingMode=table["BillingMode"],
    )
    return events_env, monitor_env


def test_every_request_of_the_events_function_is_allowed_by_its_role(
    world, tmp_path: Path, monkeypatch
):
    build_seed(world, tmp_path)
    Answers().install(monkeypatch)  # GetServiceQuota, which the emulator lacks
    stack = deploy(parameters={**SINGLE, "LogGroup": LOG_GROUP})
    events_env, monitor_env = events_deployment(stack, world)
    recorder = Recorder("events")

    class AsMonitor:
        """The confirmation runs in the monitor function, under the monitor's role."""

        def __enter__(self) -> None:
            recorder.base_principal = "monitor"

        def __exit__(self, *exc: object) -> None:
            recorder.base_principal = "events"

    monitor.reset_runtime()
    with recorder.active():
        settings = BatchEventSettings.from_env(events_env)
        rt = Runtime(sessions=AwsSessions(REGION))
        monitor_behind_invoke(
            rt.sessions.client("lambda", single_attempt=True), monitor_env, REGION, AsMonitor
        )
        confirm = monitor_confirmer(rt.sessions, events_env["MONITOR_FUNCTION_NAME"])
        batch = [
            failed(1, queue=QUEUE, region=REGION, reason=LOG_GROUP_MISSING),
            blocked(2, queue=QUEUE, region=REGION, reason=JOB_TOO_LARGE),
            failed(3, queue=QUEUE, region=REGION, reason="", name="health-smoke-1"),
            arrival(5),  # judged on arrival: the queue's placement reads
        ]
        later = succeeded(4, queue=QUEUE, region=REGION, at_ms=1_795_000_000_000 + 3_600_000)
        for events in (batch, [later]):
            out = handle(sqs_batch(events), context(REGION), settings, rt=rt, confirm=confirm)
            metrics.flush_metrics()
            assert out == {"batchItemFailures": []}
    monitor.reset_runtime()
    known = Knowledge()
    known.topic_keys[events_env["ALERT_TOPIC_ARN"]] = stack.get_att("AlertTopicKey", "Arn")
    roles = {
        "events": policies_of(stack, "BatchEventsFunctionRole"),
        "monitor": policies_of(stack, "MonitorFunctionRole"),
    }
    assert authorize(recorder.requests, roles, known) == []
    by = {(r.principal, r.name) for r in recorder.requests}
    for needed in (
        ("events", "dynamodb:TransactWriteItems"),
        ("events", "dynamodb:BatchGetItem"),
        ("events", "sns:Publish"),
        ("events", "lambda:Invoke"),
        ("monitor", "logs:DescribeLogGroups"),
        ("events", "batch:DescribeComputeEnvironments"),
        ("events", "ec2:DescribeInstanceTypes"),
        ("events", "service-quotas:GetServiceQuota"),
    ):
        assert needed in by, needed
