"""The Batch events function in-process (moto): AWS's documented events in SQS batches through
the handler; what is published, counted, confirmed, retried and resolved."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from support.batch_events import (
    EPOCH_MS,
    JOB_TOO_LARGE,
    LOG_GROUP_MISSING,
    Resources,
    blocked,
    context,
    documented,
    events_function_env,
    failed,
    monitor_behind_invoke,
    sqs_batch,
    succeeded,
)
from support.sns import document_of

from batch_health.aws.sessions import AwsSessions
from batch_health.demo import JOBDEF, LOG_GROUP, QUEUE, REGION
from batch_health.models import CheckResult, Report, Status, SuiteReport
from batch_health.notify.job_incidents import JobIncidentStore
from batch_health.notify.job_messages import resolve_by_checks
from batch_health.runtime import monitor
from batch_health.runtime.batch_events import handle
from batch_health.runtime.confirmation import monitor_confirmer
from batch_health.runtime.monitor import Runtime
from batch_health.runtime.settings import BatchEventSettings

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

OOM = "OutOfMemoryError: Container killed due to memory usage"
T0 = datetime.fromtimestamp(EPOCH_MS / 1000, UTC)


@pytest.fixture
def fn(seed_world, monkeypatch) -> Iterator[SimpleNamespace]:
    """The ops report's world (log group missing), the stack's table and topic, and the
    function with its environment; `run(events)` hands it one SQS batch."""
    monitor.reset_runtime()
    res = Resources(REGION)
    env = {
        **events_function_env(res.topic_arn, res.table),
        "POWERTOOLS_METRICS_NAMESPACE": "BatchHealth",
    }
    rt = Runtime(sessions=AwsSessions(REGION))
    invoked = monitor_behind_invoke(rt.sessions.client("lambda", single_attempt=True), env, REGION)
    confirm = monitor_confirmer(rt.sessions, env["MONITOR_FUNCTION_NAME"])
    state: dict[str, Any] = {"now": T0 + timedelta(minutes=1)}

    def run(events: list[dict[str, Any]], prefix: str = "m", **changes: str) -> dict[str, Any]:
        settings = BatchEventSettings.from_env({**env, **changes})
        return handle(
            sqs_batch(events, prefix),
            context(REGION),
            settings,
            rt=rt,
            confirm=confirm,
            now=state["now"],
        )

    yield SimpleNamespace(run=run, res=res, invoked=invoked, env=env, state=state, rt=rt)
    monitor.reset_runtime()


def fail(n: int, reason: str = LOG_GROUP_MISSING, **kw: Any) -> dict[str, Any]:
    return failed(n, queue=QUEUE, region=REGION, reason=reason, log_group=LOG_GROUP, **kw)


def test_a_failed_job_opens_one_incident_confirmed_by_the_check_that_owns_its_cause(fn):
    assert fn.run([fail(1)]) == {"batchItemFailures": []}
    [envelope] = fn.res.messages()
    doc = document_of(envelope)
    assert envelope["Subject"].startswith(
        "[FAIL] academy-video JOB_FAILURES_CHECK: 1 job failed: log group missing"
    )
    assert (doc["event"], doc["check"], doc["reason_class"], doc["jobs"]) == (
        "FAIL",
        "JOB_FAILURES_CHECK",
        "log group missing",
        1,
    )
    # LOG_GROUP_CHECK ran for this target at once, in the monitor, and says what it found.
    assert fn.invoked == [
        {"targets": ["academy-video"], "checks": ["LOG_GROUP_CHECK"], "notify": False}
    ]
    assert doc["confirmation"].startswith(f"LOG_GROUP_CHECK FAIL: log group missing: {LOG_GROUP}")
    assert doc["hints"] == [
        f"Create the log group: `aws logs create-log-group --log-group-name {LOG_GROUP} "
        f"--region {REGION}` (or set awslogs-create-group=true and allow the execution role "
        "logs:CreateLogGroup)"
    ]
    job_id = "00000000-0000-4000-8000-000000000001"
    assert f"newest: transcode-1 ({job_id}) at 2026-11-18" in doc["detail"]
    labels = [link["label"] for link in doc["links"]]
    assert labels == [
        "Job transcode-1",
        f"Log stream {JOBDEF}/default/00000001",
        f"Job queue {QUEUE}",
    ]
    assert f"#jobs/detail/{job_id}" in doc["links"][0]["url"]
    assert "Confirmed by check:" in envelope["Message"]


def test_more_failures_of_the_same_cause_are_counted_not_announced(fn):
    fn.run([fail(1)])
    fn.res.messages()
    assert fn.run([fail(n) for n in range(2, 40)]) == {"batchItemFailures": []}
    assert fn.res.messages() == []
    item = fn.res.item("academy-video#JOB_FAILURES_CHECK#LOG_GROUP_MISSING")
    assert item["jobs"] == {"N": "39"}
    assert len(fn.invoked) == 1  # the owning check ran once, when the incident opened


def test_another_cause_is_another_incident_and_a_cause_without_an_owning_check_runs_none(fn):
    fn.run([fail(1), fail(2, OOM)])
    subjects = sorted(e["Subject"] for e in fn.res.messages())
    assert len(subjects) == 2
    assert "1 job failed: out of memory" in subjects[1]
    assert len(fn.invoked) == 1


def test_a_repeated_delivery_changes_nothing(fn):
    events = [fail(n) for n in range(1, 6)]
    fn.run(events)
    fn.run(events, prefix="again")  # SQS at-least-once, or EventBridge retrying
    assert len(fn.res.messages()) == 1
    assert fn.res.item("academy-video#JOB_FAILURES_CHECK#LOG_GROUP_MISSING")["jobs"] == {"N": "5"}


def test_an_unreadable_message_comes_back_and_the_rest_are_handled(fn):
    batch = sqs_batch([fail(1), fail(2)])
    batch["Records"][1]["body"] = "{not json"
    settings = BatchEventSettings.from_env(fn.env)
    out = handle(batch, context(REGION), settings, rt=fn.rt)
    assert out == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}
    assert len(fn.res.messages()) == 1


def test_other_queues_and_other_state_changes_are_left_alone(fn):
    other = failed(1, queue="someone-elses-queue", region=REGION, reason=LOG_GROUP_MISSING)
    runnable = documented("job-state-change")  # RUNNABLE, another account's queue
    assert fn.run([other, runnable]) == {"batchItemFailures": []}
    assert fn.res.messages() == []


def test_an_unsent_message_brings_its_events_back_and_the_count_stays_exact(fn):
    fn.state["now"] = T0
    events = [fail(n) for n in range(1, 4)]
    missing_topic = fn.env["ALERT_TOPIC_ARN"] + "-gone"
    out = fn.run(events, ALERT_TOPIC_ARN=missing_topic)
    assert sorted(x["itemIdentifier"] for x in out["batchItemFailures"]) == ["m-0", "m-1", "m-2"]
    assert fn.res.messages() == []
    # SQS delivers them again: now the topic answers; counted once, announced once.
    assert fn.run(events) == {"batchItemFailures": []}
    [envelope] = fn.res.messages()
    assert document_of(envelope)["jobs"] == 3


def test_without_its_table_nothing_is_lost(fn):
    out = fn.run([fail(1), fail(2, OOM)], INCIDENT_TABLE_NAME="no-such-table")
    assert len(out["batchItemFailures"]) == 2
    assert fn.res.messages() == []


def test_a_reminder_carries_the_count_so_far(fn):
    fn.run([fail(1)])
    fn.state["now"] += timedelta(hours=6)
    fn.run([fail(n) for n in range(2, 12)])
    [reminder] = fn.res.messages()[1:]
    doc = document_of(reminder)
    assert (doc["event"], doc["jobs"]) == ("REMINDER", 11)


def test_a_later_success_resolves_after_the_quiet_period(fn):
    fn.run([fail(1, at_ms=EPOCH_MS)])
    fn.res.messages()
    soon = succeeded(2, queue=QUEUE, region=REGION, at_ms=EPOCH_MS + 5 * 60_000)
    fn.run([soon])
    assert fn.res.messages() == []  # 5 minutes after the failure: could be luck
    later = succeeded(3, queue=QUEUE, region=REGION, at_ms=EPOCH_MS + 11 * 60_000)
    fn.run([later])
    [resolved] = fn.res.messages()
    doc = document_of(resolved)
    assert (doc["event"], doc["status"], doc["jobs"]) == ("RESOLVED", "OK", 1)
    assert "job transcode-3 (00000000-0000-4000-8000-000000000003) succeeded" in doc["detail"]


def scheduled_run(result: CheckResult) -> SuiteReport:
    now = T0 + timedelta(minutes=5)
    return SuiteReport([Report("academy-video", REGION, [result], [], now, now)], now, now)


def test_a_passing_scheduled_check_resolves(fn):
    fn.run([fail(1)])
    fn.res.messages()
    store = JobIncidentStore(fn.rt.sessions.client("dynamodb"), fn.res.table)
    still = scheduled_run(CheckResult("LOG_GROUP_CHECK", Status.FAIL, "missing"))
    assert resolve_by_checks(still, store, fn.res.topic_arn, fn.rt.sessions).published == []
    passed = scheduled_run(CheckResult("LOG_GROUP_CHECK", Status.OK, "exists"))
    outcome = resolve_by_checks(passed, store, fn.res.topic_arn, fn.rt.sessions)
    assert [p["event"] for p in outcome.published] == ["RESOLVED"]
    [resolved] = fn.res.messages()
    assert "LOG_GROUP_CHECK passed in the scheduled run" in document_of(resolved)["detail"]


def test_a_blocked_queue_is_its_own_incident_confirmed_by_ce_check(fn):
    fn.run([blocked(1, queue=QUEUE, region=REGION, reason=JOB_TOO_LARGE)])
    [envelope] = fn.res.messages()
    doc = document_of(envelope)
    assert (doc["check"], doc["reason_class"]) == (
        "RUNNABLE_BACKLOG_CHECK",
        "job larger than any instance",
    )
    assert doc["detail"].startswith("1 job blocked in RUNNABLE: job larger than any instance")
    assert fn.invoked[-1]["checks"] == ["CE_CHECK"]
    assert doc["confirmation"].startswith("CE_CHECK")


def test_job_failures_are_metrics_by_target_and_reason_class(fn, capsys):
    fn.run(
        [
            fail(1),
            fail(2),
            fail(3, OOM),
            blocked(4, queue=QUEUE, region=REGION, reason=JOB_TOO_LARGE),
        ]
    )
    emf = [json.loads(x) for x in capsys.readouterr().out.splitlines() if '"_aws"' in x]
    values = {
        (d.get("ReasonClass"), name): d[name]
        for d in emf
        for name in ("JobFailures", "JobsBlocked")
        if name in d
    }
    assert values == {
        ("LOG_GROUP_MISSING", "JobFailures"): [2.0],
        ("OUT_OF_MEMORY", "JobFailures"): [1.0],
        ("JOB_RESOURCE_REQUIREMENT", "JobsBlocked"): [1.0],
    }
    assert all(d["Target"] == "academy-video" for d in emf if "JobFailures" in d)


def test_a_failing_confirmation_does_not_hold_the_message_back(fn):
    settings = BatchEventSettings.from_env(fn.env)

    def broken(target: str, check: str) -> str:
        raise RuntimeError("monitor unreachable")

    handle(sqs_batch([fail(1)]), context(REGION), settings, rt=fn.rt, confirm=broken)
    [envelope] = fn.res.messages()
    assert document_of(envelope)["confirmation"] == (
        "LOG_GROUP_CHECK could not be run for academy-video: RuntimeError: monitor unreachable"
    )
