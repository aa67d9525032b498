"""RUNNABLE_BACKLOG_CHECK: no job of the queue waits in RUNNABLE too long."""

from __future__ import annotations

from collections import Counter
from typing import Any

from batch_health.aws.errors import AWS_ERRORS
from batch_health.checks.base import Check, CheckContext
from batch_health.checks.job_context import job_hint_context, now_ms, short, with_descriptions
from batch_health.domain.reason_hints import reason_hint
from batch_health.domain.status_reasons import PLACEMENT, classify_job
from batch_health.models import CheckResult


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
        except AWS_ERRORS as exc:
            return self.aws_fail(
                exc, action="batch:ListJobs", resource=queue, what=f"RUNNABLE jobs in {queue}"
            )
        now = now_ms()
        aged = sorted(
            ((now - int(j.get("createdAt") or now)) / 60_000, j) for j in jobs if j.get("jobId")
        )
        aged.reverse()  # oldest first
        if not aged:
            return self.ok(f"no job waiting in RUNNABLE in {queue}", runnable=0)
        facts: dict[str, Any] = {}
        waiting = [j for age, j in aged if age >= thresholds.runnable_warn_minutes]
        waiting = with_descriptions(ctx, waiting, facts)
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
            f"statusReason: {short(top_reason)}"
        )
        context = job_hint_context(ctx, str(oldest.get("jobId") or ""))
        hints: list[str] = []
        for job in waiting:
            reason = classify_job(job)
            if reason.kind in PLACEMENT:
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
