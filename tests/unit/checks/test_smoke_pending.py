"""SMOKE_SUBMIT_CHECK with its result from the job's events: the run submits and ends, and
judges the smoke jobs earlier runs left waiting."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from botocore.exceptions import ClientError
from support.suite import light_queue, run_target

from batch_health.checks.smoke_pending import judge_stuck
from batch_health.config import Target
from batch_health.demo import JOBDEF, QUEUE
from batch_health.models import Status


@pytest.fixture
def target(world) -> dict[str, Any]:
    light_queue(world)
    world.job_definition(command=["echo", "ok"])
    return {"name": "academy-video", "job_queue": QUEUE, "job_definition": JOBDEF}


def smoke(target: dict[str, Any]):
    report = run_target(
        target, checks=["SMOKE_SUBMIT_CHECK"], allow_test_submit=True, smoke_result="event"
    )
    return report.result("SMOKE_SUBMIT_CHECK")


def test_the_run_submits_and_leaves_the_verdict_to_the_jobs_event(target, world):
    result = smoke(target)
    assert result.status is Status.SKIP
    assert "the result comes from the job's own state-change event" in result.detail
    job_id = result.data["job_id"]
    [job] = world.client("batch").describe_jobs(jobs=[job_id])["jobs"]
    assert job["jobName"].startswith("health-smoke-")
    assert job["tags"]["batch-health:smoke"] == "true"


class Batch:
    """A Batch client with earlier smoke jobs in the given states."""

    def __init__(self, jobs: list[dict[str, Any]], refuse_terminate: bool = False) -> None:
        self.jobs, self.refuse, self.terminated, self.filters = jobs, refuse_terminate, [], []

    def list_jobs(self, jobQueue: str, filters: list[dict[str, Any]]) -> dict[str, Any]:
        self.filters.append(filters)
        return {"jobSummaryList": self.jobs}

    def terminate_job(self, jobId: str, reason: str) -> dict[str, Any]:
        if self.refuse:
            raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "T")
        self.terminated.append(jobId)
        return {}


NOW_MS = 1_795_000_000_000
BLOCKED = "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT - The job resource requirement is higher"


def judge(jobs: list[dict[str, Any]], **kw: Any):
    target = Target.model_validate(
        {"job_queue": QUEUE, "job_definition": JOBDEF, "smoke": {"runnable_timeout_seconds": 600}}
    )
    batch = Batch(jobs, **kw)
    return judge_stuck(SimpleNamespace(target=target), batch, NOW_MS), batch


def job(n: int, status: str, minutes_ago: int, reason: str = "") -> dict[str, Any]:
    return {
        "jobId": f"j{n}",
        "jobName": f"health-smoke-{n}",
        "status": status,
        "createdAt": NOW_MS - minutes_ago * 60_000,
        "statusReason": reason,
    }


def test_an_earlier_smoke_job_that_never_started_is_terminated_and_fails_the_check():
    result, batch = judge(
        [job(1, "RUNNABLE", 62, BLOCKED), job(2, "RUNNABLE", 3), job(3, "RUNNING", 90)]
    )
    assert result is not None and result.status is Status.FAIL
    assert batch.terminated == ["j1"]  # not the one still young, not the one that started
    assert batch.filters == [[{"name": "JOB_NAME", "values": ["health-smoke-*"]}]]
    assert "health-smoke-1 (j1) still RUNNABLE after 62 min" in result.detail
    assert "job larger than any instance" in result.detail and result.detail.endswith("terminated")


def test_a_job_that_cannot_be_terminated_says_so():
    result, _ = judge([job(1, "SUBMITTED", 30)], refuse_terminate=True)
    assert result is not None
    assert "could not terminate it: access denied" in result.detail


def test_nothing_waiting_means_nothing_to_judge():
    assert judge([job(1, "SUCCEEDED", 90), job(2, "FAILED", 80)])[0] is None
