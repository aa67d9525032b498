"""RUNNABLE_BACKLOG_CHECK and JOB_FAILURES_CHECK: what the queue's real jobs are going through."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from batch_health.checks.base import Check, CheckContext
from batch_health.checks.smoke import is_smoke_job, job_hint_context
from batch_health.errors import classify
from batch_health.models import CheckResult
from batch_health.status_reasons import (
    ClassifiedReason,
    ReasonClass,
    classify_job,
    reason_hint,
)
from batch_health.text import clip, one_line

MAX_DESCRIBE = 100  # one describe_jobs call: enough to explain the failures that matter
QUOTE_MAX = 120
# Batch's job-level reasons that only say "see the container": describe the job for more.
GENERIC_REASONS = ("Essential container in task exited", "Task failed to start")


def _now_ms() -> int:
    return int(time.time() * 1000)


def _short(text: str, limit: int = QUOTE_MAX) -> str:
    return clip(one_line(text), limit)


def _needs_description(job: dict[str, Any]) -> bool:
    reason = str(job.get("statusReason") or "")
    container = job.get("container") or {}
    return not container.get("reason") and (not reason or reason.startswith(GENERIC_REASONS))


def _with_descriptions(
    ctx: CheckContext, jobs: list[dict[str, Any]], facts: dict[str, Any]
) -> list[dict[str, Any]]:
    """Summaries whose reasons say too little, completed from their full descriptions.

    A failed describe leaves the summaries as they are and is recorded in `facts`.
    """
    ids = tuple(j["jobId"] for j in jobs if j.get("jobId") and _needs_description(j))
    if not ids:
        return jobs
    try:
        described = {d.get("jobId"): d for d in ctx.aws.describe_jobs(ids[:MAX_DESCRIBE])}
    except (ClientError, BotoCoreError) as exc:
        facts["describe_jobs_error"] = classify(exc).summary
        return jobs
    return [{**j, **described.get(j.get("jobId"), {})} for j in jobs]


class RunnableBacklogCheck(Check):
    name = "RUNNABLE_BACKLOG_CHECK"
    step = 6
    step_title = "JOBS"
    title = "No job waits in RUNNABLE too long"
    verifies = (
        "Jobs in RUNNABLE in the queue: warns past thresholds.runnable_warn_minutes, fails past "
        "runnable_fail_minutes; reports count, oldest age and Batch's statusReason"
    )
    depends_on = ("QUEUE_CHECK",)
    needs = ("runnable_jobs",)
    services = ("batch",)
    priority = 40

    def run(self, ctx: CheckContext) -> CheckResult:
        queue, region = ctx.target.job_queue, ctx.aws.region
        thresholds = ctx.target.thresholds
        try:
            jobs = ctx.aws.runnable_jobs()
        except (ClientError, BotoCoreError) as exc:
            return self.aws_fail(
                exc, action="batch:ListJobs", resource=queue, what=f"RUNNABLE jobs in {queue}"
            )
        now = _now_ms()
        aged = sorted(
            ((now - int(j.get("createdAt") or now)) / 60_000, j) for j in jobs if j.get("jobId")
        )
        aged.reverse()  # oldest first
        if not aged:
            return self.ok(f"no job waiting in RUNNABLE in {queue}", runnable=0)
        facts: dict[str, Any] = {}
        waiting = [j for age, j in aged if age >= thresholds.runnable_warn_minutes]
        waiting = _with_descriptions(ctx, waiting, facts)
        oldest_age, oldest = aged[0]
        reasons = Counter(str(j.get("statusReason") or "no statusReason given") for j in waiting)
        facts |= {
            "runnable": len(aged),
            "waiting_past_warn": len(waiting),
            "oldest_age_minutes": round(oldest_age, 1),
            "oldest_job": {"jobId": oldest.get("jobId"), "jobName": oldest.get("jobName")},
            "status_reasons": dict(reasons),
        }
        summary = (
            f"{len(aged)} job(s) RUNNABLE in {queue}, oldest {oldest.get('jobName')} "
            f"({oldest.get('jobId')}) for {oldest_age:.0f} min"
        )
        if not waiting:
            return self.ok(f"{summary} (warn at {thresholds.runnable_warn_minutes:g} min)", **facts)
        top_reason, _ = reasons.most_common(1)[0]
        detail = (
            f"{len(waiting)} of {summary}; past {thresholds.runnable_warn_minutes:g} min; "
            f"statusReason: {_short(top_reason)}"
        )
        context = job_hint_context(ctx, str(oldest.get("jobId") or ""))
        hints: list[str] = []
        for job in waiting:
            reason = classify_job(job)
            if reason.kind is ReasonClass.RESOURCES:
                hint = reason_hint(reason, context)
                if hint not in hints:
                    hints.append(hint)
        ces = ", ".join(context.compute_environments) or f"the CEs of {queue}"
        hints.append(
            f"Check that {ces} can place the jobs (ENABLED/VALID, maxvCpus, instance types, "
            f"subnets; see CE_CHECK) and inspect the oldest: `aws batch describe-jobs --jobs "
            f"{oldest.get('jobId')} --region {region}`"
        )
        if oldest_age >= thresholds.runnable_fail_minutes:
            return self.fail(detail, hints, **facts)
        return self.warn(detail, hints, **facts)


def _finished_ms(job: dict[str, Any]) -> int:
    return int(job.get("stoppedAt") or job.get("createdAt") or 0)


class JobFailuresCheck(Check):
    name = "JOB_FAILURES_CHECK"
    step = 6
    step_title = "JOBS"
    title = "Recent jobs do not fail"
    verifies = (
        "FAILED jobs in the queue within thresholds.job_failure_window_minutes, grouped by "
        "statusReason class (image pull, log group, resources, exit code, host termination, "
        "timeout); warns at job_failures_warn_count, fails at job_failures_fail_ratio of "
        "finished jobs; the monitor's own smoke jobs are ignored"
    )
    depends_on = ("QUEUE_CHECK",)
    # SUCCEEDED jobs matter only for the failure ratio, so they are listed only when
    # something failed: a healthy queue costs one ListJobs here, not two.
    needs = ("failed_jobs",)
    services = ("batch",)
    priority = 41

    def run(self, ctx: CheckContext) -> CheckResult:
        queue = ctx.target.job_queue
        thresholds = ctx.target.thresholds
        window = thresholds.job_failure_window_minutes
        since = _now_ms() - int(window * 60_000)

        def recent(jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return [j for j in jobs if not is_smoke_job(j) and _finished_ms(j) >= since]

        try:
            failed = recent(ctx.aws.failed_jobs())
            succeeded = recent(ctx.aws.succeeded_jobs()) if failed else []
        except (ClientError, BotoCoreError) as exc:
            return self.aws_fail(
                exc, action="batch:ListJobs", resource=queue, what=f"finished jobs in {queue}"
            )
        if not failed:
            return self.ok(
                f"no FAILED job in {queue} in the last {window:g} min",
                window_minutes=window,
                failed=0,
            )
        finished = len(failed) + len(succeeded)
        facts: dict[str, Any] = {
            "window_minutes": window,
            "failed": len(failed),
            "succeeded": len(succeeded),
        }
        failed = _with_descriptions(ctx, failed, facts)
        failed.sort(key=_finished_ms, reverse=True)
        groups: dict[ReasonClass, list[tuple[dict[str, Any], ClassifiedReason]]] = defaultdict(list)
        for job in failed:
            reason = classify_job(job)
            groups[reason.kind].append((job, reason))
        ranked = sorted(groups.items(), key=lambda item: -len(item[1]))
        ratio = len(failed) / finished
        facts.update(
            failure_ratio=round(ratio, 3),
            by_class={
                kind.value: {
                    "count": len(items),
                    "example": {
                        "jobId": items[0][0].get("jobId"),
                        "jobName": items[0][0].get("jobName"),
                        "reason": items[0][1].text,
                    },
                }
                for kind, items in ranked
            },
        )
        parts = []
        for kind, items in ranked:
            job, reason = items[0]
            example = f" (e.g. {job.get('jobName')}: {_short(reason.text)})" if reason.text else ""
            parts.append(f"{kind.value} x{len(items)}{example}")
        detail = (
            f"{len(failed)} FAILED of {finished} finished job(s) in {queue} in the last "
            f"{window:g} min ({ratio:.0%}): " + "; ".join(parts)
        )
        hints = [
            reason_hint(items[0][1], job_hint_context(ctx, str(items[0][0].get("jobId") or "")))
            for _, items in ranked
        ]
        if ratio >= thresholds.job_failures_fail_ratio:
            return self.fail(detail, hints, **facts)
        if len(failed) >= thresholds.job_failures_warn_count:
            return self.warn(detail, hints, **facts)
        return self.ok(detail, **facts)
