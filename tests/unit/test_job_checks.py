"""RUNNABLE_BACKLOG_CHECK and JOB_FAILURES_CHECK: stuck and failing jobs, with their reasons."""

from __future__ import annotations

import time
from typing import Any

import pytest
from support.suite import light_queue, run_target

from batch_health.aws.inventory import TargetView
from batch_health.demo import CE, JOBDEF, QUEUE, WORKER_COMMAND
from batch_health.models import CheckResult, Status

MAX_RESOURCE = (
    "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE - CE(s) associated with the job queue "
    "cannot meet the CPU requirement of the job."
)
PULL = "CannotPullContainerError: failed to resolve ref academy-video-worker:latest: not found"


@pytest.fixture
def target(world) -> dict[str, Any]:
    light_queue(world)
    world.job_definition(command=WORKER_COMMAND, parameters={"job_id": "none"})
    return {"job_queue": QUEUE, "job_definition": JOBDEF}


def ago(minutes: float) -> int:
    return int((time.time() - minutes * 60) * 1000)


def job(job_id: str, minutes_ago: float, name: str = "transcode", **fields: Any) -> dict[str, Any]:
    return {"jobId": job_id, "jobName": name, "createdAt": ago(minutes_ago), **fields}


def listed(monkeypatch, **by_status: list[dict[str, Any]]) -> None:
    """list_jobs answers (moto cannot hold jobs in RUNNABLE or give them reasons)."""
    monkeypatch.setattr(
        TargetView, "jobs", lambda self, status, max_items=500: by_status.get(status, [])
    )


def check(target: dict[str, Any], name: str) -> CheckResult:
    result = run_target(target, checks=[name]).result(name)
    assert result is not None
    return result


def test_empty_queue_is_ok(target):
    report = run_target(target, checks=["RUNNABLE_BACKLOG_CHECK", "JOB_FAILURES_CHECK"])
    assert (
        report.result("RUNNABLE_BACKLOG_CHECK").detail == f"no job waiting in RUNNABLE in {QUEUE}"
    )
    assert report.result("JOB_FAILURES_CHECK").status is Status.OK
    assert report.overall is Status.OK


def test_young_runnable_jobs_are_ok(target, monkeypatch):
    listed(monkeypatch, RUNNABLE=[job("j1", 5), job("j2", 1)])
    result = check(target, "RUNNABLE_BACKLOG_CHECK")
    assert result.status is Status.OK
    assert result.detail.startswith(
        f"2 job(s) RUNNABLE in {QUEUE}, oldest transcode (j1) for 5 min"
    )


def test_runnable_past_warn_threshold_warns_with_reason_and_hints(target, monkeypatch):
    listed(
        monkeypatch,
        RUNNABLE=[
            job("j1", 45, statusReason=MAX_RESOURCE),
            job("j2", 50, statusReason=MAX_RESOURCE),
            job("j3", 2),
        ],
    )
    result = check(target, "RUNNABLE_BACKLOG_CHECK")
    assert result.status is Status.WARN
    assert result.detail.startswith(
        f"2 of 3 job(s) RUNNABLE in {QUEUE}, oldest transcode (j2) for 50 min"
    )
    assert "statusReason: MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE" in result.detail
    assert result.data["oldest_age_minutes"] == pytest.approx(50, abs=0.2)
    assert result.data["status_reasons"] == {MAX_RESOURCE: 2}
    assert any(CE in h and "maxvCpus" in h for h in result.hints)
    assert any(
        "aws batch describe-jobs --jobs j2 --region ap-northeast-2" in h for h in result.hints
    )


def test_runnable_past_fail_threshold_fails(target, monkeypatch):
    capacity = "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY - Service cannot fulfill the capacity"
    listed(monkeypatch, RUNNABLE=[job("j1", 130, statusReason=capacity)])
    result = check(target, "RUNNABLE_BACKLOG_CHECK")
    assert result.status is Status.FAIL
    assert any("instance types" in h and "Availability Zones" in h for h in result.hints)


def test_runnable_thresholds_are_configurable(target, monkeypatch):
    listed(monkeypatch, RUNNABLE=[job("j1", 12)])
    tight = {**target, "thresholds": {"runnable_warn_minutes": 5, "runnable_fail_minutes": 10}}
    assert check(tight, "RUNNABLE_BACKLOG_CHECK").status is Status.FAIL


def test_runnable_reason_is_read_from_the_job_when_the_summary_has_none(target, monkeypatch):
    listed(monkeypatch, RUNNABLE=[job("j1", 40)])
    described: list[tuple[str, ...]] = []

    def describe_jobs(self, job_ids):
        described.append(job_ids)
        return [{"jobId": "j1", "statusReason": MAX_RESOURCE}]

    monkeypatch.setattr(TargetView, "describe_jobs", describe_jobs)
    result = check(target, "RUNNABLE_BACKLOG_CHECK")
    assert described == [("j1",)]
    assert "statusReason: MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE" in result.detail


def finished(job_id: str, minutes_ago: float, **fields: Any) -> dict[str, Any]:
    return job(job_id, minutes_ago + 5, stoppedAt=ago(minutes_ago), **fields)


def test_failures_are_grouped_by_reason_class(target, monkeypatch):
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
    result = check(target, "JOB_FAILURES_CHECK")
    assert result.status is Status.WARN  # 3 of 10 is below the default 50 % fail ratio
    assert result.detail.startswith(
        f"3 FAILED of 10 finished job(s) in {QUEUE} in the last 60 min (30%)"
    )
    assert (
        "image pull x2 (e.g. transcode: Task failed to start; CannotPullContainerError"
        in result.detail
    )
    assert "essential container exit code x1" in result.detail
    assert result.data["by_class"]["image pull"]["count"] == 2
    assert any("academy-video-worker" in h and "ecr:BatchGetImage" in h for h in result.hints)
    assert any("exited with code 2" in h for h in result.hints)


def test_failure_ratio_fails(target, monkeypatch):
    listed(
        monkeypatch,
        FAILED=[finished("f1", 10, statusReason=PULL), finished("f2", 12, statusReason=PULL)],
        SUCCEEDED=[finished("s1", 5)],
    )
    result = check(target, "JOB_FAILURES_CHECK")
    assert result.status is Status.FAIL
    assert "(67%)" in result.detail


def test_failures_outside_the_window_and_smoke_jobs_are_ignored(target, monkeypatch):
    listed(
        monkeypatch,
        FAILED=[
            finished("old", 90, statusReason=PULL),
            finished("smoke", 5, name="health-smoke-20260222T101500Z", statusReason=PULL),
        ],
        SUCCEEDED=[finished("s1", 5)],
    )
    result = check(target, "JOB_FAILURES_CHECK")
    assert result.status is Status.OK
    assert result.detail == f"no FAILED job in {QUEUE} in the last 60 min"


def test_failure_thresholds_are_configurable(target, monkeypatch):
    listed(
        monkeypatch,
        FAILED=[finished("f1", 10, statusReason=PULL)],
        SUCCEEDED=[finished(f"s{i}", 5) for i in range(9)],
    )
    lenient = {**target, "thresholds": {"job_failures_warn_count": 2}}
    assert check(lenient, "JOB_FAILURES_CHECK").status is Status.OK
    strict = {**target, "thresholds": {"job_failures_fail_ratio": 0.1}}
    assert check(strict, "JOB_FAILURES_CHECK").status is Status.FAIL


def test_failed_jobs_from_the_emulator_are_counted(target, world, monkeypatch):
    batch = world.client("batch")
    for i in range(3):
        batch.submit_job(jobName=f"ok-{i}", jobQueue=QUEUE, jobDefinition=JOBDEF)
    monkeypatch.setenv("MOTO_SIMPLE_BATCH_FAIL_AFTER", "0")
    batch.submit_job(jobName="broken", jobQueue=QUEUE, jobDefinition=JOBDEF)
    batch.submit_job(jobName="health-smoke-20260222T101500Z", jobQueue=QUEUE, jobDefinition=JOBDEF)
    result = check(target, "JOB_FAILURES_CHECK")
    assert result.status is Status.WARN
    assert result.data["failed"] == 1 and result.data["succeeded"] == 3
    assert "1 FAILED of 4 finished job(s)" in result.detail


def test_a_queue_without_failures_does_not_list_its_succeeded_jobs(target, monkeypatch):
    asked: list[str] = []

    def jobs(self, status, max_items=500):
        asked.append(status)
        return [finished("s1", 5)] if status == "SUCCEEDED" else []

    monkeypatch.setattr(TargetView, "jobs", jobs)
    result = check(target, "JOB_FAILURES_CHECK")
    assert result.status is Status.OK
    assert "FAILED" in asked and "SUCCEEDED" not in asked
