"""SMOKE_SUBMIT_CHECK's verdict from the smoke job's own events, through the events function:
its metric, and its incident (SMOKE_SUBMIT_CHECK is critical by default)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from support.batch_events import EPOCH_MS, Resources, blocked, context, failed, sqs_batch
from support.sns import document_of

from batch_health.aws.sessions import AwsSessions
from batch_health.config import Target
from batch_health.domain.batch_events import parse_batch_event
from batch_health.models import Status
from batch_health.runtime.batch_events import handle
from batch_health.runtime.monitor import Runtime
from batch_health.runtime.settings import BatchEventSettings
from batch_health.runtime.smoke_events import smoke_result

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

REGION, QUEUE, JOBDEF = "us-east-1", "transcode-queue", "transcode-jobdef"
PULL_DENIED = (
    "CannotPullContainerError: pull image manifest has been retried 1 time(s): failed to resolve "
    "ref 123456789012.dkr.ecr.us-east-1.amazonaws.com/transcode:latest: pulling from host "
    "123456789012.dkr.ecr.us-east-1.amazonaws.com failed with status code [manifests latest]: "
    "403 Forbidden"
)


def smoke_job(n: int, status: str, reason: str = "") -> dict[str, Any]:
    event = failed(
        n,
        queue=QUEUE,
        region=REGION,
        reason=reason,
        job_definition=JOBDEF,
        status=status,
        name=f"health-smoke-2026112703{n:04d}",
        at_ms=EPOCH_MS + 90_000,
    )
    event["detail"]["createdAt"] = EPOCH_MS
    return event


@pytest.fixture
def run(aws):
    res = Resources(REGION)
    rt = Runtime(sessions=AwsSessions(REGION))

    def send(*events: dict[str, Any], **env: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        settings = BatchEventSettings.from_env(
            {
                "AWS_REGION": REGION,
                "JOB_QUEUE": QUEUE,
                "JOB_DEFINITION": JOBDEF,
                "TARGET_NAME": "transcode",
                "ALERT_TOPIC_ARN": res.topic_arn,
                "INCIDENT_TABLE_NAME": res.table,
                **env,
            }
        )
        out = handle(sqs_batch(events), context(REGION), settings, rt=rt)
        return out, [document_of(m) for m in res.messages()]

    return send


def metric(capsys) -> list[tuple[str, float]]:
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines() if '"_aws"' in x]
    return [(x["Check"], x["CheckFailed"][0]) for x in lines if "CheckFailed" in x]


def test_a_failed_smoke_job_fails_the_check_with_its_reason(run, capsys):
    out, [doc] = run(smoke_job(1, "FAILED", PULL_DENIED))
    assert out == {"batchItemFailures": []}
    assert (doc["event"], doc["check"], doc["status"]) == ("FAIL", "SMOKE_SUBMIT_CHECK", "FAIL")
    assert doc["detail"].startswith(
        "smoke job health-smoke-20261127030001 (00000000-0000-4000-8000-000000000001) FAILED "
        "1 min after submit: ECR pull denied"
    )
    assert metric(capsys) == [("SMOKE_SUBMIT_CHECK", 1.0)]


def test_a_started_smoke_job_passes_and_resolves(run, capsys):
    run(smoke_job(1, "FAILED", PULL_DENIED))
    capsys.readouterr()
    out, [doc] = run(smoke_job(2, "RUNNING"))
    assert out == {"batchItemFailures": []}
    assert (doc["event"], doc["check"], doc["status"]) == ("RESOLVED", "SMOKE_SUBMIT_CHECK", "OK")
    assert metric(capsys) == [("SMOKE_SUBMIT_CHECK", 0.0)]
    # Its SUCCEEDED event later changes nothing.
    assert run(smoke_job(2, "SUCCEEDED"))[1] == []


def test_started_is_not_enough_when_the_smoke_must_succeed():
    strict = Target.model_validate(
        {"job_queue": QUEUE, "job_definition": JOBDEF, "smoke": {"require_succeeded": True}}
    )
    assert smoke_result(parse_batch_event(smoke_job(1, "RUNNING")), strict) is None
    done = smoke_result(parse_batch_event(smoke_job(1, "SUCCEEDED")), strict)
    assert done is not None and done.status is Status.OK


def test_a_smoke_job_blocking_its_queue_fails_the_check(run):
    event = blocked(
        1,
        queue=QUEUE,
        region=REGION,
        reason="CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY - There is no Amazon EC2 capacity",
    )
    event["detail"]["jobName"] = "health-smoke-20261127030000"
    _, [doc] = run(event)
    assert doc["check"] == "SMOKE_SUBMIT_CHECK"
    assert (
        "cannot start, its queue transcode-queue is blocked: EC2 capacity unavailable"
        in doc["detail"]
    )
    assert doc["detail"].endswith("the next smoke run terminates it")
