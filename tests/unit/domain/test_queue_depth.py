"""The queue's depth now, per status, and its oldest RUNNABLE and STARTING job's age, from
ListJobs' job summaries; and its round trip through a check result's data.

The summaries are shaped as AWS's JobSummary (jobArn, jobId, jobName, createdAt, status,
statusReason, startedAt only once RUNNING, epoch milliseconds):
https://docs.aws.amazon.com/batch/latest/APIReference/API_JobSummary.html
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from batch_health.domain.queue_depth import (
    NOT_LISTED,
    QUEUE_DEPTH_STATUSES,
    QueueDepth,
    queue_depth,
)

NOW_MS = 1_768_446_300_000  # 2026-01-15 03:05 UTC
ARN = "arn:aws:batch:ap-northeast-2:123456789012:job/"


def summary(n: int, status: str, age_s: float, **more: Any) -> dict[str, Any]:
    job_id = f"5c3b6c1e-0a4b-4f2e-9d7a-{n:012d}"
    return {
        "jobArn": ARN + job_id,
        "jobId": job_id,
        "jobName": f"encode-{n}",
        "createdAt": int(NOW_MS - age_s * 1000),
        "status": status,
        **more,
    }


def listed(**ages: list[float]) -> dict[str, list[dict[str, Any]]]:
    """Every status listed (none when not given), `ages` in seconds per status."""
    jobs: dict[str, list[dict[str, Any]]] = {s: [] for s in QUEUE_DEPTH_STATUSES}
    n = 0
    for status, seconds in ages.items():
        for age in seconds:
            n += 1
            jobs[status].append(summary(n, status, age))
    return jobs


def test_counts_every_status_and_the_oldest_runnable_and_starting_age():
    jobs = listed(SUBMITTED=[1], RUNNABLE=[30, 600.5, 90], STARTING=[45], RUNNING=[4000, 10])
    jobs["RUNNING"] = [{**j, "startedAt": NOW_MS - 5000} for j in jobs["RUNNING"]]
    depth = queue_depth(jobs, NOW_MS, cap=100)
    assert depth.counts == {
        "SUBMITTED": 1,
        "PENDING": 0,
        "RUNNABLE": 3,
        "STARTING": 1,
        "RUNNING": 2,
    }
    # RUNNING has no age gauge; STARTING's is counted from createdAt (no startedAt yet).
    assert depth.oldest_age_seconds == {"RUNNABLE": 600.5, "STARTING": 45.0}
    assert depth.capped == frozenset()
    assert depth.unread == {}


def test_no_runnable_or_starting_job_has_no_age():
    depth = queue_depth(listed(RUNNING=[100]), NOW_MS, cap=100)
    assert depth.oldest_age_seconds == {}
    assert depth.counts["RUNNABLE"] == depth.counts["STARTING"] == 0


def test_a_listing_that_reached_the_cap_is_a_lower_bound():
    jobs = listed(RUNNABLE=[float(i) for i in range(1, 6)], RUNNING=[1, 2, 3, 4])
    depth = queue_depth(jobs, NOW_MS, cap=5)
    assert depth.capped == {"RUNNABLE"}
    assert depth.counts["RUNNABLE"] == 5 and depth.counts["RUNNING"] == 4
    assert depth.oldest_age_seconds["RUNNABLE"] == 5.0


def test_an_unread_status_has_no_count_and_says_why():
    jobs = listed(RUNNABLE=[10], STARTING=[20])
    denied = {"STARTING": "AccessDeniedException: batch:ListJobs"}
    depth = queue_depth(jobs, NOW_MS, cap=100, unread=denied)
    assert "STARTING" not in depth.counts and "STARTING" not in depth.oldest_age_seconds
    assert depth.unread == denied
    assert depth.oldest_age_seconds == {"RUNNABLE": 10.0}


def test_a_status_not_listed_is_unread_never_a_made_up_0():
    jobs = listed(RUNNABLE=[10])
    del jobs["PENDING"]
    depth = queue_depth(jobs, NOW_MS, cap=100)
    assert "PENDING" not in depth.counts
    assert depth.unread == {"PENDING": NOT_LISTED}


def test_a_job_stamped_after_now_has_age_0_and_one_without_createdat_none():
    ahead = summary(1, "RUNNABLE", -3)  # the clock that stamped it is ahead
    undated = {k: v for k, v in summary(2, "STARTING", 5).items() if k != "createdAt"}
    jobs = {**listed(), "RUNNABLE": [ahead], "STARTING": [undated]}
    depth = queue_depth(jobs, NOW_MS, cap=100)
    assert depth.oldest_age_seconds == {"RUNNABLE": 0.0}
    assert depth.counts["STARTING"] == 1


def test_the_cap_must_be_positive():
    with pytest.raises(ValueError, match="cap"):
        queue_depth(listed(), NOW_MS, cap=0)


def test_the_data_is_json_and_reads_back():
    jobs = listed(RUNNABLE=[1, 2, 3], STARTING=[7])
    depth = queue_depth(jobs, NOW_MS, cap=3, unread={"PENDING": "ThrottlingException"})
    data = json.loads(json.dumps(depth.to_data()))
    assert set(data) == {
        "queue_depth",
        "queue_depth_capped",
        "oldest_age_seconds",
        "queue_depth_unread",
    }
    assert data["queue_depth_capped"] == ["RUNNABLE"]
    assert QueueDepth.from_data(data) == depth
    # Merged into a check result's data beside the check's own keys, it still reads back.
    assert QueueDepth.from_data({"runnable": 3, **data}) == depth


def test_data_without_a_queue_depth_reads_as_none():
    assert QueueDepth.from_data({}) is None
    assert QueueDepth.from_data({"runnable": 0}) is None
