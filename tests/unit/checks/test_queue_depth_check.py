"""RUNNABLE_BACKLOG_CHECK lists the queue's jobs in every active status each run and carries
the counts and the oldest waits in its data (what runtime/metrics.py sends as QueueDepth and
OldestRunnableAgeSeconds). ListJobs answers with AWS's JobSummary fields
(https://docs.aws.amazon.com/batch/latest/APIReference/API_JobSummary.html); moto holds no
job in these statuses without Docker, so the listing is answered on the view, as
support.placement's queue_holds does."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from botocore.exceptions import ClientError
from support.checks import ago, check
from support.placement import Answers, placement_world, runnable_job, summary_of

from batch_health.aws.inventory import TargetView
from batch_health.demo import JOBDEF, QUEUE, WorldBuilder
from batch_health.domain.queue_depth import QueueDepth
from batch_health.models import Status

TARGET = {"name": "video", "region": "us-east-1", "job_queue": QUEUE, "job_definition": JOBDEF}


def job(job_id: str, status: str, minutes_ago: float) -> dict[str, Any]:
    described = runnable_job(job_id, created_at=ago(minutes_ago))
    described["status"] = status
    return described


def listing(monkeypatch, jobs: list[dict[str, Any]], denied: str = "") -> list[str]:
    """ListJobs per status over `jobs` (AccessDenied for status `denied`); DescribeJobs."""
    asked: list[str] = []

    def jobs_of(self, status, max_items=500):
        asked.append(status)
        if status == denied:
            error = {"Code": "AccessDeniedException", "Message": "not authorized: ListJobs"}
            raise ClientError({"Error": error}, "ListJobs")
        return [summary_of(j) for j in jobs if j["status"] == status]

    by_id = {j["jobId"]: j for j in jobs}
    monkeypatch.setattr(TargetView, "jobs", jobs_of)
    monkeypatch.setattr(
        TargetView, "describe_jobs", lambda self, ids: [copy.deepcopy(by_id[i]) for i in ids]
    )
    return asked


@pytest.fixture
def east(aws, monkeypatch) -> WorldBuilder:
    Answers().install(monkeypatch)
    world = WorldBuilder(None, region="us-east-1")
    placement_world(world, ["m4.large"])
    return world


def test_the_check_counts_every_active_status_and_the_oldest_waits(east, monkeypatch):
    jobs = [
        job("s-1", "SUBMITTED", 1),
        job("r-1", "RUNNABLE", 3),
        job("r-2", "RUNNABLE", 1),
        job("t-1", "STARTING", 2),
        job("u-1", "RUNNING", 10),
        job("u-2", "RUNNING", 9),
    ]
    asked = listing(monkeypatch, jobs)
    result = check(TARGET, "RUNNABLE_BACKLOG_CHECK")
    assert result.status is Status.OK
    assert set(asked) >= {"SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING"}
    depth = QueueDepth.from_data(result.data)
    assert depth is not None
    assert dict(depth.counts) == {
        "SUBMITTED": 1,
        "PENDING": 0,
        "RUNNABLE": 2,
        "STARTING": 1,
        "RUNNING": 2,
    }
    assert 170 <= depth.oldest_age_seconds["RUNNABLE"] <= 200
    assert 110 <= depth.oldest_age_seconds["STARTING"] <= 140
    assert not depth.unread and not depth.capped


def test_a_status_that_cannot_be_listed_is_named_and_the_others_still_counted(east, monkeypatch):
    listing(monkeypatch, [job("r-1", "RUNNABLE", 1), job("u-1", "RUNNING", 5)], denied="STARTING")
    result = check(TARGET, "RUNNABLE_BACKLOG_CHECK")
    depth = QueueDepth.from_data(result.data)
    assert depth is not None
    assert "STARTING" not in depth.counts  # no count is made up
    assert "AccessDenied" in depth.unread["STARTING"]
    assert depth.counts["RUNNABLE"] == 1 and depth.counts["RUNNING"] == 1


def test_without_the_gauges_only_runnable_is_listed_and_no_depth_is_carried(east, monkeypatch):
    """QueueDepthGauges=false, for fleets near the ListJobs quota."""
    asked = listing(monkeypatch, [job("r-1", "RUNNABLE", 3), job("u-1", "RUNNING", 10)])
    result = check(TARGET, "RUNNABLE_BACKLOG_CHECK", queue_depth=False)
    assert set(asked) == {"RUNNABLE"}  # no SUBMITTED, PENDING, STARTING or RUNNING listing
    assert QueueDepth.from_data(result.data) is None
    assert result.status is Status.OK  # the RUNNABLE job is still judged: it fits m4.large
