"""SMOKE_SUBMIT_CHECK when its result comes from the job's events (RunOptions.smoke_result
"event"): the run submits and ends; it only judges smoke jobs that earlier runs left.

A smoke job that never started sends no RUNNING, SUCCEEDED or FAILED event, and Batch's
"Job Queue Blocked" event is not promised for every wait. So the next smoke run looks for
earlier smoke jobs on the queue (ListJobs, name health-smoke-*) that are still waiting
after smoke.runnable_timeout_seconds: it terminates them and FAILs with Batch's reason,
instead of piling another job behind them.
"""

from __future__ import annotations

from typing import Any

from batch_health.aws.errors import AWS_ERRORS, classify
from batch_health.checks.base import CheckContext
from batch_health.domain.smoke import SMOKE_JOB_PREFIX
from batch_health.domain.status_reasons import classify_reason
from batch_health.models import CheckResult, Status

WAITING = frozenset({"SUBMITTED", "PENDING", "RUNNABLE"})
CHECK = "SMOKE_SUBMIT_CHECK"


def stuck_smoke_jobs(ctx: CheckContext, batch: Any, now_ms: int) -> list[dict[str, Any]]:
    """Earlier smoke jobs on the target's queue still waiting past the runnable timeout."""
    limit_ms = ctx.target.smoke.runnable_timeout_seconds * 1000
    response = batch.list_jobs(
        jobQueue=ctx.target.job_queue,
        filters=[{"name": "JOB_NAME", "values": [f"{SMOKE_JOB_PREFIX}*"]}],
    )
    return [
        job
        for job in response.get("jobSummaryList") or []
        if job.get("status") in WAITING and now_ms - int(job.get("createdAt") or now_ms) >= limit_ms
    ]


def judge_stuck(ctx: CheckContext, batch: Any, now_ms: int) -> CheckResult | None:
    """FAIL for earlier smoke jobs that never started (each terminated), or None."""
    try:
        stuck = stuck_smoke_jobs(ctx, batch, now_ms)
    except AWS_ERRORS as exc:
        failure = classify(exc)
        return CheckResult(
            CHECK,
            Status.FAIL,
            f"could not list earlier smoke jobs on {ctx.target.job_queue}: {failure.summary}",
            [failure.hint(action="batch:ListJobs", resource=ctx.target.job_queue)],
        )
    if not stuck:
        return None
    lines, terminated = [], []
    for job in stuck:
        reason = classify_reason(job.get("statusReason"))
        waited = (now_ms - int(job.get("createdAt") or now_ms)) // 60_000
        try:
            batch.terminate_job(jobId=job["jobId"], reason="batch-health smoke job never started")
            terminated.append(job["jobId"])
            end = "terminated"
        except AWS_ERRORS as exc:
            end = f"could not terminate it: {classify(exc).summary}"
        lines.append(
            f"{job.get('jobName')} ({job['jobId']}) still {job.get('status')} after {waited} min"
            f"{': ' + reason.describe() if reason.text else ''}; {end}"
        )
    newest = classify_reason(stuck[0].get("statusReason"))
    return CheckResult(
        CHECK,
        Status.FAIL,
        "an earlier smoke job never started: " + "; ".join(lines),
        [
            f"Find why jobs on {ctx.target.job_queue} wait (RUNNABLE_BACKLOG_CHECK, CE_CHECK); "
            f"Batch's reason: {newest.kind.value}"
        ],
        data={"stuck_jobs": [j["jobId"] for j in stuck], "terminated": terminated},
    )


def submitted(facts: dict[str, Any]) -> CheckResult:
    """The run's answer once the job is submitted: no verdict yet (SKIP), and where it comes."""
    return CheckResult(
        CHECK,
        Status.SKIP,
        f"submitted {facts['job_name']} (jobId={facts['job_id']}) to {facts['job_queue']}: "
        "the result comes from the job's own state-change event (BatchEventsFunction)",
        data={**facts, "result_from": "event"},
    )
