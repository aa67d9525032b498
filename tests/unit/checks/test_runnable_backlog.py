"""RUNNABLE_BACKLOG_CHECK: jobs waiting in RUNNABLE, how long the oldest has waited, and the
statusReason that says why, with its hints."""

from __future__ import annotations

import pytest
from support.checks import check, job, listed
from support.suite import run_target

from batch_health.aws.inventory import TargetView
from batch_health.demo import CE, QUEUE
from batch_health.models import Status

MAX_RESOURCE = (
    "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE - CE(s) associated with the job queue "
    "cannot meet the CPU requirement of the job."
)


def test_empty_queue_is_ok(queue_target):
    report = run_target(queue_target, checks=["RUNNABLE_BACKLOG_CHECK", "JOB_FAILURES_CHECK"])
    assert (
        report.result("RUNNABLE_BACKLOG_CHECK").detail == f"no job waiting in RUNNABLE in {QUEUE}"
    )
    assert report.result("JOB_FAILURES_CHECK").status is Status.OK
    assert report.overall is Status.OK


def test_young_runnable_jobs_are_ok(queue_target, monkeypatch):
    listed(monkeypatch, RUNNABLE=[job("j1", 5), job("j2", 1)])
    result = check(queue_target, "RUNNABLE_BACKLOG_CHECK")
    assert result.status is Status.OK
    assert result.detail.startswith(
        f"2 job(s) RUNNABLE in {QUEUE}, oldest transcode (j1) for 5 min"
    )


def test_runnable_past_warn_threshold_warns_with_reason_and_hints(queue_target, monkeypatch):
    listed(
        monkeypatch,
        RUNNABLE=[
            job("j1", 45, statusReason=MAX_RESOURCE),
            job("j2", 50, statusReason=MAX_RESOURCE),
            job("j3", 2),
        ],
    )
    result = check(queue_target, "RUNNABLE_BACKLOG_CHECK")
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


def test_runnable_past_fail_threshold_fails(queue_target, monkeypatch):
    capacity = "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY - Service cannot fulfill the capacity"
    listed(monkeypatch, RUNNABLE=[job("j1", 130, statusReason=capacity)])
    result = check(queue_target, "RUNNABLE_BACKLOG_CHECK")
    assert result.status is Status.FAIL
    assert any("instance types" in h and "Availability Zones" in h for h in result.hints)


def test_runnable_thresholds_are_configurable(queue_target, monkeypatch):
    listed(monkeypatch, RUNNABLE=[job("j1", 12)])
    tight = {
        **queue_target,
        "thresholds": {"runnable_warn_minutes": 5, "runnable_fail_minutes": 10},
    }
    assert check(tight, "RUNNABLE_BACKLOG_CHECK").status is Status.FAIL


def test_runnable_reason_is_read_from_the_job_when_the_summary_has_none(queue_target, monkeypatch):
    listed(monkeypatch, RUNNABLE=[job("j1", 40)])
    described: list[tuple[str, ...]] = []

    def describe_jobs(self, job_ids):
        described.append(job_ids)
        return [{"jobId": "j1", "statusReason": MAX_RESOURCE}]

    monkeypatch.setattr(TargetView, "describe_jobs", describe_jobs)
    result = check(queue_target, "RUNNABLE_BACKLOG_CHECK")
    assert described == [("j1",)]
    assert "statusReason: MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE" in result.detail
