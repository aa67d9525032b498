"""The built Batch events function under AWS's own Lambda runtime client, configured as the
template deploys it, fed an SQS batch of Batch's documented events.

`sam build`'s BatchEventsFunction runs in awslambdaric against a Runtime API on 127.0.0.1
(support.lambda_runtime), with the environment the template gives it, and AWS as a moto
server holding the ops report's world plus the stack's topic and table. Moto's Lambda runs
no function without Docker, so the monitor cannot be invoked to confirm the cause: the
message says so, and goes out anyway.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.batch_events import LOG_GROUP_MISSING, blocked, failed, sqs_batch
from support.cfn import deploy
from support.lambda_runtime import FunctionProcess
from test_lambda_runtime import SEED_PARAMETERS, create_topic_and_table, json_records, receive_all

from batch_health.demo import LOG_GROUP, QUEUE, REGION, WorldBuilder

pytestmark = pytest.mark.integration

BLOCKED = (
    "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE - CE(s) associated with the job queue "
    "cannot meet the CPU requirement of the job."
)


@pytest.fixture(scope="module")
def invoked(
    build_dir: Path, runtime_dir: Path, seed_endpoint: str, tmp_path_factory
) -> Iterator[dict[str, Any]]:
    stack = deploy(parameters=SEED_PARAMETERS)
    world = WorldBuilder(seed_endpoint)
    _, alerts = create_topic_and_table(stack, world)
    function = FunctionProcess.deployed(
        stack,
        "BatchEventsFunction",
        build_dir=build_dir,
        runtime_dir=runtime_dir,
        endpoint=seed_endpoint,
        log_dir=tmp_path_factory.mktemp("batch-events-function"),
    )
    events = [
        failed(1, queue=QUEUE, region=REGION, reason=LOG_GROUP_MISSING, log_group=LOG_GROUP),
        failed(2, queue=QUEUE, region=REGION, reason=LOG_GROUP_MISSING, log_group=LOG_GROUP),
        blocked(3, queue=QUEUE, region=REGION, reason=BLOCKED),
    ]
    batch = sqs_batch(events)
    batch["Records"].append({**batch["Records"][0], "messageId": "broken", "body": "{"})
    with function:
        kind, payload = function.invoke(batch, timeout_s=60)
        stdout, _ = function.output(function.invocations[-1])
        yield {
            "kind": kind,
            "payload": payload,
            "stdout": stdout,
            "published": receive_all(world, alerts),
        }


def test_the_partial_batch_response_names_only_the_unreadable_message(invoked):
    assert invoked["kind"] == "response", invoked["payload"]
    assert invoked["payload"] == {"batchItemFailures": [{"itemIdentifier": "broken"}]}


def test_one_message_per_cause_reaches_the_topic(invoked):
    documents = [
        json.loads(m["MessageAttributes"]["document"]["Value"]) for m in invoked["published"]
    ]
    by_check = {d["check"]: d for d in documents}
    assert sorted(by_check) == ["JOB_FAILURES_CHECK", "RUNNABLE_BACKLOG_CHECK"]
    failures = by_check["JOB_FAILURES_CHECK"]
    assert (failures["reason_class"], failures["jobs"]) == ("log group missing", 2)
    # No monitor to ask in moto: the message says the check could not run, and still goes.
    assert failures["confirmation"].startswith("LOG_GROUP_CHECK could not be run")


def test_its_log_is_powertools_json_with_the_job_failure_metrics(invoked):
    lines = json_records(invoked["stdout"])
    emf = [r for r in lines if "_aws" in r]
    assert {(r.get("ReasonClass"), r.get("JobFailures", r.get("JobsBlocked"))[0]) for r in emf} == {
        ("LOG_GROUP_MISSING", 2.0),
        ("CE_MAX_RESOURCE", 1.0),
    }
    handled = [r for r in lines if r.get("message") == "events handled"]
    assert handled and handled[0]["unreadable"] == 1
