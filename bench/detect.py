"""`make bench`, time to detect: a Batch event in, the incident's SNS publish out (p50, p95),
beside the schedule's worst case.

Against the bench's emulator (moto behind the latency proxy, --latency-ms per request,
AWS's quotas enforced: world.py), in the ops report's world (log group missing), the events
function's handler takes one SQS batch holding one FAILED event per trial, as Lambda's
event source hands it over, and opens an incident:

- "with confirmation": the class has an owning check (log group missing: LOG_GROUP_CHECK),
  run for the target in the monitor before the message goes out (the monitor's handler
  in-process, its AWS calls through the proxy; the Invoke itself costs one more latency);
- "without": a class no check owns (out of memory).

Measured from the handler's start to the moment SNS answers the Publish. Before the handler
runs, the event source may hold the batch up to its MaximumBatchingWindowInSeconds, and
EventBridge delivers to SQS: both are added from the template's settings, not measured.
The schedule's worst case is a failure just after a run: one CheckSchedule period, plus a
run of JOB_FAILURES_CHECK (measured here the same way).

Then a job that can never run: AWS's documented RUNNABLE state change
(events/batch/job-state-change.json) asking more memory than any instance type of the
demo's compute environment, judged on arrival: for the first job of a target (its queue's
facts read through the proxy) and for later jobs (facts cached, FACTS_TTL_S). Beside it,
what AWS documents of its own answer: a `Batch Job Queue Blocked` event only for the job at
the head of the queue, once Batch detects the block, with no delay stated
(https://docs.aws.amazon.com/batch/latest/userguide/batch-job-queue-blocked-events.html),
and jobStateTimeLimitActions acting after maxTimeSeconds, at least 600 s
(https://docs.aws.amazon.com/batch/latest/APIReference/API_JobStateTimeLimitAction.html).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from io import BytesIO
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from botocore.response import StreamingBody
from samcli.yamlhelper import yaml_parse
from world import Emulator

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from support.batch_events import events_function_env

from batch_health.aws.sessions import AwsSessions
from batch_health.cli.invoke import LocalContext
from batch_health.demo import FAKE_ENV, JOBDEF, QUEUE, REGION, WorldBuilder, build_seed
from batch_health.runtime import monitor
from batch_health.runtime.batch_events import handle
from batch_health.runtime.confirmation import monitor_confirmer
from batch_health.runtime.observability import logger, metrics
from batch_health.runtime.settings import BatchEventSettings, MonitorSettings

ROOT = Path(__file__).resolve().parents[1]
TABLE, TOPIC = "batch-health-incidents", "batch-health-alerts"
REASONS = {
    "with confirmation (log group missing: LOG_GROUP_CHECK runs first)": (
        "ResourceInitializationError: failed to validate logger args: create stream has been "
        "retried 1 times: failed to create Cloudwatch log stream: ResourceNotFoundException: "
        "The specified log group does not exist. : exit status 1"
    ),
    "without (out of memory: no check owns it)": (
        "OutOfMemoryError: Container killed due to memory usage"
    ),
}
ARRIVAL_COLD = "can never run, first job of a target (its queue's facts read)"
ARRIVAL_WARM = "can never run, later jobs (facts cached)"
SCHEDULE_SECONDS = {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20, help="incidents per kind (default 20)")
    parser.add_argument("--latency-ms", type=float, default=50.0)
    return parser.parse_args(argv)


def template_settings() -> tuple[int, str]:
    """(the event source's MaximumBatchingWindowInSeconds, CheckSchedule's default)."""
    template = yaml_parse((ROOT / "template.yaml").read_text())
    source = template["Resources"]["BatchEventsSource"]["Properties"]
    return int(source["MaximumBatchingWindowInSeconds"]), template["Parameters"]["CheckSchedule"][
        "Default"
    ]


def period_seconds(expression: str) -> int:
    """`rate(5 minutes)` -> 300."""
    count, unit = expression.removeprefix("rate(").removesuffix(")").split()
    return int(count) * SCHEDULE_SECONDS[unit]


def event(n: int, reason: str) -> dict[str, Any]:
    """AWS's documented FAILED job event (events/batch/job-failed.json), on the demo queue."""
    body = json.loads((ROOT / "events" / "batch" / "job-failed.json").read_text())
    job_id = f"00000000-0000-4000-8000-{n:012d}"
    body.update(id=f"detect-{n}", region=REGION)
    d = body["detail"]
    d.update(
        jobId=job_id,
        jobQueue=f"arn:aws:batch:{REGION}:123456789012:job-queue/{QUEUE}",
        jobDefinition=f"arn:aws:batch:{REGION}:123456789012:job-definition/{JOBDEF}:1",
        stoppedAt=int(time.time() * 1000),
    )
    d["container"]["reason"] = d["attempts"][0]["container"]["reason"] = reason
    return {"Records": [{"messageId": f"m-{n}", "body": json.dumps(body)}]}


def arrival(n: int) -> dict[str, Any]:
    """AWS's documented RUNNABLE state change, on the demo queue, asking 4,000,000 MiB."""
    body = json.loads((ROOT / "events" / "batch" / "job-state-change.json").read_text())
    body.update(id=f"arrival-{n}", region=REGION)
    d = body["detail"]
    d.update(
        jobId=f"30000000-0000-4000-8000-{n:012d}",
        jobQueue=f"arn:aws:batch:{REGION}:123456789012:job-queue/{QUEUE}",
        jobDefinition=f"arn:aws:batch:{REGION}:123456789012:job-definition/{JOBDEF}:1",
    )
    d["container"]["resourceRequirements"] = [
        {"type": "VCPU", "value": "2"},
        {"type": "MEMORY", "value": "4000000"},
    ]
    return {"Records": [{"messageId": f"a-{n}", "body": json.dumps(body)}]}


def monitor_in_process(client: Any, env: dict[str, str], latency_s: float) -> None:
    """The monitor answers the events function's Invoke (in-process; one round trip)."""

    def answer(params: dict[str, Any], **_: Any) -> tuple[Any, dict[str, Any]]:
        time.sleep(latency_s)
        body = monitor.handle(
            json.loads(params["body"]), LocalContext(region=REGION), MonitorSettings.from_env(env)
        )
        metrics.flush_metrics()
        raw = json.dumps(body).encode()
        return SimpleNamespace(status_code=200, headers={}), {
            "StatusCode": 200,
            "Payload": StreamingBody(BytesIO(raw), len(raw)),
        }

    client.meta.events.register("before-call.lambda.Invoke", answer)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def trials(
    count: int,
    make: Callable[[int], dict[str, Any]],
    run: Callable[[dict[str, Any]], None],
    published: list[float],
    start: int,
    before: Callable[[], None] = lambda: None,
) -> list[float]:
    out = []
    for i in range(count):
        before()
        published.clear()
        began = time.perf_counter()
        run(make(start + i))
        assert published, "no incident was published"
        out.append(published[0] - began)
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logger.setLevel("WARNING")  # the functions' JSON log lines are not the report
    with contextlib.redirect_stdout(io.StringIO()):  # nor their EMF metric lines
        results, scheduled_run = measure(args)
    report(args, results, scheduled_run)
    return 0


def measure(args: argparse.Namespace) -> tuple[dict[str, list[float]], float]:
    emu = Emulator(args.latency_ms)
    try:
        os.environ.update(FAKE_ENV)
        setup = WorldBuilder(emu.moto_url)
        with tempfile.TemporaryDirectory() as tmp:
            build_seed(setup, Path(tmp))
        topic = setup.client("sns").create_topic(Name=TOPIC)["TopicArn"]
        ddb = setup.client("dynamodb")
        ddb.create_table(
            TableName=TABLE,
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        os.environ["AWS_ENDPOINT_URL"] = emu.proxy_url
        env = events_function_env(topic, TABLE)
        settings = BatchEventSettings.from_env(env)
        rt = monitor.Runtime(sessions=AwsSessions(REGION))
        monitor_in_process(
            rt.sessions.client("lambda", single_attempt=True), env, args.latency_ms / 1000
        )
        published: list[float] = []
        rt.sessions.client("sns").meta.events.register(
            "after-call.sns.Publish", lambda **_: published.append(time.perf_counter())
        )
        confirm = monitor_confirmer(rt.sessions, env["MONITOR_FUNCTION_NAME"])
        context = LocalContext(function_name="batch-health-events", region=REGION)

        def run(batch: dict[str, Any]) -> None:
            # Each trial a new incident: the last one is forgotten first (not timed).
            for item in ddb.scan(TableName=TABLE)["Items"]:
                ddb.delete_item(TableName=TABLE, Key={"pk": item["pk"]})
            handle(batch, context, settings, rt=rt, confirm=confirm)
            metrics.flush_metrics()

        results = {}
        for n, (kind, reason) in enumerate(REASONS.items()):
            results[kind] = trials(
                args.trials, lambda i, r=reason: event(i, r), run, published, n * 10_000
            )
        forget = rt.placement_facts.entries.clear
        results[ARRIVAL_COLD] = trials(args.trials, arrival, run, published, 50_000, forget)
        results[ARRIVAL_WARM] = trials(args.trials, arrival, run, published, 60_000)
        began = time.perf_counter()
        monitor.handle(
            {"checks": ["JOB_FAILURES_CHECK"], "notify": False},
            LocalContext(region=REGION),
            MonitorSettings.from_env(env),
            rt=rt,
        )
        metrics.flush_metrics()
        scheduled_run = time.perf_counter() - began
    finally:
        emu.close()
    return results, scheduled_run


def report(args: argparse.Namespace, results: dict[str, list[float]], scheduled_run: float) -> None:
    window_s, schedule = template_settings()
    period = period_seconds(schedule)
    print(
        f"\nTime to detect a failed job ({args.latency_ms:.0f} ms per AWS request, "
        f"{args.trials} incidents each; event in -> SNS publish out):"
    )
    for kind, values in results.items():
        if kind in (ARRIVAL_COLD, ARRIVAL_WARM):
            continue
        print(f"  {kind}: {summary(values)}")
    print(
        f"  + up to {window_s} s the event source holds a batch "
        "(BatchEventsSource.MaximumBatchingWindowInSeconds), + EventBridge's delivery to SQS"
    )
    print(
        f"  the schedule's worst case ({schedule}): {period} s + a JOB_FAILURES_CHECK run "
        f"({scheduled_run:.2f} s) = {period + scheduled_run:.0f} s"
    )
    print("\nTime to name a job that can never leave RUNNABLE (its RUNNABLE event in -> SNS out):")
    for kind in (ARRIVAL_COLD, ARRIVAL_WARM):
        print(f"  {kind}: {summary(results[kind])}")
    print(f"  + up to {window_s} s the event source holds a batch, + EventBridge's delivery to SQS")
    print(
        "  Batch's own: a Job Queue Blocked event only for the job at the head of the queue,\n"
        "  once Batch detects the block, no delay documented (batch-job-queue-blocked-events);\n"
        "  jobStateTimeLimitActions cancels after maxTimeSeconds >= 600 s at the earliest\n"
        "  (API_JobStateTimeLimitAction); a job behind others waits for its turn at the head."
    )


def summary(values: list[float]) -> str:
    return f"p50 {statistics.median(values):.2f} s, p95 {percentile(values, 0.95):.2f} s"


if __name__ == "__main__":
    sys.exit(main())
