"""AWS Batch's events as the tests send them: AWS's documented examples (events/batch/),
varied only in the fields AWS's JobDetail defines, wrapped in the SQS batches Lambda hands
the function; and the resources the events function works with, in moto.
"""

from __future__ import annotations

import contextlib
import copy
import importlib.util
import json
from collections.abc import Callable, Iterable
from io import BytesIO
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import boto3
from botocore.response import StreamingBody

from batch_health.cli.invoke import LocalContext
from batch_health.runtime import monitor
from batch_health.runtime.observability import metrics
from batch_health.runtime.settings import BatchEventSettings, MonitorSettings

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events" / "batch"
APP = ROOT / "functions" / "batch_events" / "app.py"
EPOCH_MS = 1_795_000_000_000  # 2026-11-18
# Reasons as AWS writes them (each is in tests/data/reason_corpus.json with its source).
LOG_GROUP_MISSING = (
    "ResourceInitializationError: failed to validate logger args: create stream has been "
    "retried 1 times: failed to create Cloudwatch log stream: ResourceNotFoundException: The "
    "specified log group does not exist. : exit status 1"
)
JOB_TOO_LARGE = (
    "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT - The job resource requirement (vCPU/memory/GPU)"
    " is higher than that can be met by the CE(s) attached to the job queue."
)


def documented(name: str) -> dict[str, Any]:
    """events/batch/<name>.json: AWS's example (job-state-change, job-queue-blocked) or its
    FAILED form (job-failed)."""
    return json.loads((EVENTS / f"{name}.json").read_text())


def queue_arn(queue: str, region: str, account: str = "123456789012") -> str:
    return f"arn:aws:batch:{region}:{account}:job-queue/{queue}"


def failed(
    n: int,
    *,
    queue: str,
    region: str,
    reason: str,
    status_reason: str = "Essential container in task exited",
    job_definition: str = "academy-video-batch-jobdef",
    account: str = "123456789012",
    at_ms: int = EPOCH_MS,
    status: str = "FAILED",
    name: str = "",
    log_group: str = "/aws/batch/academy-video",
) -> dict[str, Any]:
    """The documented FAILED event of job number `n`, with these values."""
    event = documented("job-failed")
    job_id = f"00000000-0000-4000-8000-{n:012d}"
    event.update(id=f"ev-{account}-{n}", account=account, region=region)
    d = event["detail"]
    d.update(
        jobId=job_id,
        jobName=name or f"transcode-{n}",
        jobArn=f"arn:aws:batch:{region}:{account}:job/{job_id}",
        jobQueue=queue_arn(queue, region, account),
        jobDefinition=f"arn:aws:batch:{region}:{account}:job-definition/{job_definition}:3",
        status=status,
        statusReason=status_reason,
        stoppedAt=at_ms,
    )
    attempt = d["attempts"][0]
    attempt["stoppedAt"] = at_ms
    attempt["container"]["reason"] = reason
    attempt["container"]["logStreamName"] = f"{job_definition}/default/{n:08d}"
    d["container"].update(reason=reason, logStreamName=attempt["container"]["logStreamName"])
    d["container"]["logConfiguration"]["options"]["awslogs-group"] = log_group
    if status != "FAILED":
        for part in (attempt["container"], d["container"]):
            part.pop("reason", None)
            part["exitCode"] = 0
        d["statusReason"] = status_reason
    return event


def succeeded(n: int, **kw: Any) -> dict[str, Any]:
    return failed(n, status="SUCCEEDED", reason="", **kw)


def blocked(
    n: int, *, queue: str, region: str, reason: str, account: str = "123456789012"
) -> dict[str, Any]:
    """AWS's documented "Job Queue Blocked" example with a real blocked reason."""
    event = documented("job-queue-blocked")
    event.update(id=f"blocked-{n}", account=account, region=region)
    event["detail"].update(
        jobId=f"10000000-0000-4000-8000-{n:012d}",
        jobQueue=queue_arn(queue, region, account),
        statusReason=reason,
    )
    return event


def sqs_batch(events: Iterable[dict[str, Any]], prefix: str = "m") -> dict[str, Any]:
    """The SQS event Lambda hands the function (events/batch/sqs-job-failed.json's shape)."""
    template = documented("sqs-job-failed")["Records"][0]
    records = []
    for i, event in enumerate(events):
        record = copy.deepcopy(template)
        record.update(messageId=f"{prefix}-{i}", body=json.dumps(event))
        records.append(record)
    return {"Records": records}


def load_app() -> ModuleType:
    """functions/batch_events/app.py (its module name, `app`, is the monitor's too)."""
    spec = importlib.util.spec_from_file_location("batch_events_app", APP)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def events_function_env(topic_arn: str, table: str) -> dict[str, str]:
    """The events function's environment for the ops report's workload, as the template
    sets it: its target, the alert topic, the incident table, the monitor to confirm with."""
    from batch_health.demo import JOBDEF, LOG_GROUP, QUEUE, REGION

    return {
        "AWS_REGION": REGION,
        "JOB_QUEUE": QUEUE,
        "JOB_DEFINITION": JOBDEF,
        "TARGET_NAME": "academy-video",
        "LOG_GROUP": LOG_GROUP,
        "ALERT_TOPIC_ARN": topic_arn,
        "INCIDENT_TABLE_NAME": table,
        "MONITOR_FUNCTION_NAME": "batch-health-monitor",
    }


class Resources:
    """The stack's table and topic in moto, and an SQS queue subscribed to the topic (what
    an e-mail or the Slack notifier would receive)."""

    def __init__(self, region: str, table: str = "incidents", topic: str = "alerts") -> None:
        self.region = region
        self.table = table
        ddb = boto3.client("dynamodb", region_name=region)
        ddb.create_table(
            TableName=table,
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        sns = boto3.client("sns", region_name=region)
        self.topic_arn = sns.create_topic(Name=topic)["TopicArn"]
        sqs = boto3.client("sqs", region_name=region)
        self.queue_url = sqs.create_queue(QueueName=f"{topic}-copy")["QueueUrl"]
        queue = sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])
        sns.subscribe(
            TopicArn=self.topic_arn,
            Protocol="sqs",
            Endpoint=queue["Attributes"]["QueueArn"],
            Attributes={"RawMessageDelivery": "false"},
        )
        self._sqs = sqs
        self._ddb = ddb

    def messages(self) -> list[dict[str, Any]]:
        """Every SNS envelope published so far (each read once)."""
        out: list[dict[str, Any]] = []
        while True:
            got = self._sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10)
            batch = got.get("Messages", [])
            if not batch:
                return out
            for m in batch:
                out.append(json.loads(m["Body"]))
                self._sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=m["ReceiptHandle"])

    def item(self, pk: str) -> dict[str, Any]:
        return self._ddb.get_item(TableName=self.table, Key={"pk": {"S": pk}}).get("Item", {})


def settings(env: dict[str, str]) -> BatchEventSettings:
    return BatchEventSettings.from_env({"POWERTOOLS_METRICS_NAMESPACE": "BatchHealth", **env})


def context(region: str) -> LocalContext:
    return LocalContext(function_name="batch-health-events", region=region)


def monitor_behind_invoke(
    client: Any,
    monitor_env: dict[str, str],
    region: str,
    around: Callable[[], Any] | None = None,
) -> list[dict[str, Any]]:
    """Answer the client's lambda Invoke calls with the monitor's handler, run in-process
    (moto's Lambda would need Docker); returns the payloads the monitor got."""
    payloads: list[dict[str, Any]] = []

    def answer(params: dict[str, Any], **_: Any) -> tuple[Any, dict[str, Any]]:
        payload = json.loads(params["body"])  # the serialized request: Payload is its body
        payloads.append(payload)
        settings = MonitorSettings.from_env(monitor_env)
        with around() if around else contextlib.nullcontext():
            try:
                body = monitor.handle(payload, LocalContext(region=region), settings)
            finally:
                metrics.flush_metrics()
        raw = json.dumps(body).encode()
        http = SimpleNamespace(status_code=200, headers={})
        return http, {"StatusCode": 200, "Payload": StreamingBody(BytesIO(raw), len(raw))}

    client.meta.events.register("before-call.lambda.Invoke", answer)
    return payloads


# Array and multi-node jobs. AWS documents no complete event of a child or of such a parent,
# so these are the documented FAILED event (job-failed) with the JobDetail fields AWS
# documents for them: a child's ID `<parent>:<index>` and `arrayProperties.index`, the
# parent's `arrayProperties.size`/`statusSummary`
# (https://docs.aws.amazon.com/batch/latest/userguide/array_jobs.html,
# https://docs.aws.amazon.com/batch/latest/APIReference/API_ArrayPropertiesDetail.html); a
# node's ID `<parent>#<node>` and `nodeDetails`, the parent's `nodeProperties`
# (https://docs.aws.amazon.com/batch/latest/APIReference/API_NodeDetails.html,
# https://docs.aws.amazon.com/batch/latest/APIReference/API_NodeProperties.html).
def _child(event: dict[str, Any], suffix: str) -> dict[str, Any]:
    d = event["detail"]
    d["jobId"] += suffix
    d["jobArn"] += suffix
    event["resources"] = [d["jobArn"]]
    event["id"] += suffix
    stream = d["container"]["logStreamName"] + suffix.replace(":", "-").replace("#", "-")
    d["container"]["logStreamName"] = d["attempts"][0]["container"]["logStreamName"] = stream
    return event


def _parent(event: dict[str, Any]) -> dict[str, Any]:
    """A parent runs no container of its own: no attempt, no container reason."""
    d = event["detail"]
    d["attempts"] = []
    for key in ("reason", "exitCode", "logStreamName"):
        d["container"].pop(key, None)
    d.pop("statusReason", None)
    return event


def array_child(n: int, index: int, **kw: Any) -> dict[str, Any]:
    """Child `index` of array job number `n` failed (failed()'s keywords)."""
    event = _child(failed(n, **kw), f":{index}")
    event["detail"]["arrayProperties"] = {"index": index}
    return event


def array_parent(n: int, size: int, failed_children: int, **kw: Any) -> dict[str, Any]:
    """Array job number `n` ended FAILED, its statusSummary counting its children."""
    kw.setdefault("reason", "")
    event = _parent(failed(n, **kw))
    summary = {"SUCCEEDED": size - failed_children, "FAILED": failed_children}
    event["detail"]["arrayProperties"] = {"size": size, "statusSummary": summary}
    return event


def node_failed(n: int, node: int, **kw: Any) -> dict[str, Any]:
    """Node `node` of multi-node job number `n` failed (node 0 is the main node)."""
    event = _child(failed(n, **kw), f"#{node}")
    event["detail"]["nodeDetails"] = {"nodeIndex": node, "isMainNode": node == 0}
    return event


def multi_node_parent(n: int, nodes: int, **kw: Any) -> dict[str, Any]:
    """Multi-node job number `n` ended FAILED."""
    kw.setdefault("reason", "")
    event = _parent(failed(n, **kw))
    event["detail"]["nodeProperties"] = {
        "numNodes": nodes,
        "mainNode": 0,
        "nodeRangeProperties": [{"targetNodes": "0:", "container": {"image": "mpi:latest"}}],
    }
    return event
