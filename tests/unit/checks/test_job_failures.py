"""JOB_FAILURES_CHECK: FAILED jobs in the window, grouped by the class of their reason, as a
count and a share of the finished ones."""

from __future__ import annotations

from typing import Any

from support.checks import ago, check, job, listed

from batch_health.aws.inventory import TargetView
from batch_health.demo import JOBDEF, QUEUE
from batch_health.models import Status

PULL = "CannotPullContainerError: failed to resolve ref academy-video-worker:latest: not found"


def finished(job_id: str, minutes_ago: float, **fields: Any) -> dict[str, Any]:
    return job(job_id, minutes_ago + 5, stoppedAt=ago(minutes_ago), **fields)


def test_failures_are_grouped_by_reason_class(queue_target, monkeypatch):
    listed(
        monkeypatch,
        FAILED=[
            finished("f1", 10, statusReason="Task failed to start", container={"reason": PULL}),
            finished("f2", 20, statusReason=PULL),
            finished(
                "f3",
                30,
                statusReason="Essential container in task exited",
                container={"exitCode": 2, "reason": "exit"},
            ),
        ],
        SUCCEEDED=[finished(f"s{i}", 15) for i in range(7)],
    )
    result = check(queue_target, "JOB_FAILURES_CHECK")
    assert result.status is Status.WARN  # 3 of 10 is below the default 50 % fail ratio
    assert result.detail.startswith(
        f"3 FAILED of 10 finished job(s) in {QUEUE} in the last 60 min (30%)"
    )
    assert (
        "image or tag not found x2 (e.g. transcode: Task failed to start; "
        "CannotPullContainerError" in result.detail
    )
    assert "application exit code x1" in result.detail
    assert result.data["by_class"]["image or tag not found"]["count"] == 2
    assert any("academy-video-worker" in h and "tag that exists" in h for h in result.hints)
    assert any("exited with code 2" in h for h in result.hints)


def test_failure_ratio_fails(queue_target, monkeypatch):
    listed(
        monkeypatch,
        FAILED=[finished("f1", 10, statusReason=PULL), finished("f2", 12, statusReason=PULL)],
        SUCCEEDED=[finished("s1", 5)],
    )
    result = check(queue_target, "JOB_FAILURES_CHECK")
    assert result.status is Status.FAIL
    assert "(67%)" in result.detail


def test_failures_outside_the_window_and_smoke_jobs_are_ignored(queue_target, monkeypatch):
    listed(
        monkeypatch,
        FAILED=[
            finished("old", 90, statusReason=PULL),
            finished("smoke", 5, name="health-smoke-20260222T101500Z", statusReason=PULL),
        ],
        SUCCEEDED=[finished("s1", 5)],
    )
    result = check(queue_target, "JOB_FAILURES_CHECK")
    assert result.status is Status.OK
    assert result.detail == f"no FAILED job in {QUEUE} in the last 60 min"


def test_failure_thresholds_are_configurable(queue_target, monkeypatch):
    listed(
        monkeypatch,
        FAILED=[finished("f1", 10, statusReason=PULL)],
        SUCCEEDED=[finished(f"s{i}", 5) for i in range(9)],
    )
    lenient = {**queue_target, "thresholds": {"job_failures_warn_count": 2}}
    assert check(lenient, "JOB_FAILURES_CHECK").status is Status.OK
    strict = {**queue_target, "thresholds": {"job_failures_fail_ratio": 0.1}}
    assert check(strict, "JOB_FAILURES_CHECK").status is Status.FAIL


def test_failed_jobs_from_the_emulator_are_counted(queue_target, world, monkeypatch):
    batch = world.client("batch")
    for i in range(3):
        batch.submit_job(jobName=f"ok-{i}", jobQueue=QUEUE, jobDefinition=JOBDEF)
    monkeypatch.setenv("MOTO_SIMPLE_BATCH_FAIL_AFTER", "0")
    batch.submit_job(jobName="broken", jobQueue=QUEUE, jobDefinition=JOBDEF)
    batch.submit_job(jobName="health-smoke-20260222T101500Z", jobQueue=QUEUE, jobDefinition=JOBDEF)
    result = check(queue_target, "JOB_FAILURES_CHECK")
    assert result.status is Status.WARN
    assert result.data["failed"] == 1 and result.data["succeeded"] == 3
    assert "1 FAILED of 4 finished job(s)" in result.detail


def test_a_queue_without_failures_does_not_list_its_succeeded_jobs(queue_target, monkeypatch):
    asked: list[str] = []

    def jobs(self, status, max_items=500):
        asked.append(status)
        return [finished("s1", 5)] if status == "SUCCEEDED" else []

    monkeypatch.setattr(TargetView, "jobs", jobs)
    result = check(queue_target, "JOB_FAILURES_CHECK")
    assert result.status is Status.OK
    assert "FAILED" in asked and "SUCCEEDED" not in asked
