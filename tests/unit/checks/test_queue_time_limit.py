"""QUEUE_CHECK on a queue without jobStateTimeLimitActions: a RUNNABLE limit timed from its
SUCCEEDED jobs (ListJobs JobSummary `createdAt`/`startedAt`, epoch milliseconds), bounded by
what `maxTimeSeconds` accepts (600 to 86,400), with the update-job-queue command that sets it.

The job summaries are AWS's documented SUCCEEDED job state change (events/batch/job-failed.json
as support.batch_events.succeeded turns it: `startedAt - createdAt` = 599.942 s), keeping the
fields a JobSummary shares with the event's detail.
"""

from __future__ import annotations

import json
import shlex
from typing import Any

from support.batch_events import succeeded
from support.checks import PLAIN_TARGET, check, client_error, patch_view, queue

from batch_health.checks.queue import longest_wait_s, suggested_time_limit_s
from batch_health.demo import QUEUE
from batch_health.models import Status

SUMMARY_FIELDS = ("jobArn", "jobId", "jobName", "createdAt", "startedAt", "stoppedAt", "status")


def summary(n: int, wait_s: float | None = None) -> dict[str, Any]:
    """A SUCCEEDED JobSummary; `wait_s` moves startedAt that far after createdAt."""
    detail = succeeded(n, queue=QUEUE, region="us-east-1")["detail"]
    job = {k: detail[k] for k in SUMMARY_FIELDS if k in detail}
    if wait_s is not None:
        job["startedAt"] = job["createdAt"] + int(wait_s * 1000)
    return job


def test_the_documented_job_waited_ten_minutes_and_the_limit_is_twice_that(aws, monkeypatch):
    patch_view(monkeypatch, job_queue=queue(), succeeded_jobs=[summary(1)])
    res = check(PLAIN_TARGET, "QUEUE_CHECK")
    assert res.status is Status.OK
    assert res.data["longest_wait_seconds"] == 599.942
    assert res.data["suggested_job_state_time_limit_seconds"] == 1200
    assert "no jobStateTimeLimitActions" in res.detail
    assert "suggested: cancel after 1200 s" in res.detail


def test_the_command_sets_a_cancel_for_each_documented_reason(aws, monkeypatch):
    patch_view(monkeypatch, job_queue=queue(), succeeded_jobs=[summary(1), summary(2, 1800)])
    res = check(PLAIN_TARGET, "QUEUE_CHECK")
    command = res.detail.split("`")[1]
    argv = shlex.split(command)
    assert argv[:5] == [
        "aws",
        "batch",
        "update-job-queue",
        "--job-queue",
        QUEUE,
    ]
    actions = json.loads(argv[argv.index("--job-state-time-limit-actions") + 1])
    assert {a["reason"] for a in actions} == {
        "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY",
        "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE",
        "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT",
    }
    assert {(a["state"], a["action"], a["maxTimeSeconds"]) for a in actions} == {
        ("RUNNABLE", "CANCEL", 3600)
    }


def test_the_limit_stays_within_what_max_time_seconds_accepts():
    assert suggested_time_limit_s(1) == 600
    assert suggested_time_limit_s(299.6) == 600
    assert suggested_time_limit_s(300.5) == 601
    assert suggested_time_limit_s(86_400) == 86_400


def test_jobs_without_both_times_are_not_timed():
    never_started = {k: v for k, v in summary(1).items() if k != "startedAt"}
    assert longest_wait_s([never_started, {"createdAt": "x", "startedAt": 5}]) is None
    assert longest_wait_s([never_started, summary(2, 42)]) == 42


def test_a_queue_with_limits_is_not_told_to_add_them(aws, monkeypatch):
    limits = [
        {
            "reason": "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY",
            "state": "RUNNABLE",
            "maxTimeSeconds": 600,
            "action": "CANCEL",
        }
    ]
    patch_view(
        monkeypatch,
        job_queue=queue(jobStateTimeLimitActions=limits),
        succeeded_jobs=[summary(1)],
    )
    res = check(PLAIN_TARGET, "QUEUE_CHECK")
    assert "suggested" not in res.detail
    assert "suggested_job_state_time_limit_seconds" not in res.data


def test_no_succeeded_job_and_an_unread_listing_add_nothing_but_say_why(aws, monkeypatch):
    patch_view(monkeypatch, job_queue=queue(), succeeded_jobs=[])
    res = check(PLAIN_TARGET, "QUEUE_CHECK")
    assert res.status is Status.OK
    assert "jobStateTimeLimitActions" not in res.detail
    assert res.data["time_limit_unsuggested"] == "no SUCCEEDED job to time"

    patch_view(monkeypatch, succeeded_jobs=client_error("AccessDeniedException", "ListJobs"))
    res = check(PLAIN_TARGET, "QUEUE_CHECK")
    assert res.status is Status.OK
    assert res.data["suggested_job_state_time_limit_seconds"] is None
    assert res.data["time_limit_unsuggested"].startswith("SUCCEEDED jobs unread: ")
    assert "ListJobs" in res.data["time_limit_unsuggested"]
