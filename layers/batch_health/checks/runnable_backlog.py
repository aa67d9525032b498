"""RUNNABLE_BACKLOG_CHECK: no job of the queue waits in RUNNABLE too long, and none waits
for what it can never get (the placement analysis, batch_health.checks.placement)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from batch_health.aws.errors import AWS_ERRORS
from batch_health.checks.base import Check, CheckContext
from batch_health.checks.job_context import job_hint_context, now_ms, short
from batch_health.checks.placement import (
    cancel_never,
    judge_runnable,
    never_hints,
    queue_environments,
    unknown_note,
    verdict_line,
)
from batch_health.domain.placement import Verdict
from batch_health.domain.placement_report import JudgedJobs, by_verdict, placement_data
from batch_health.domain.queue_depth import queue_depth
from batch_health.domain.reason_hints import reason_hint
from batch_health.domain.status_reasons import PLACEMENT, classify_job
from batch_health.models import CheckResult


class RunnableBacklogCheck(Check):
    name = "RUNNABLE_BACKLOG_CHECK"
    step = 6
    step_title = "JOBS"
    title = "No job waits in RUNNABLE too long"
    verifies = (
        "Jobs in RUNNABLE in the queue: fails at once when the placement analysis finds one "
        "no compute environment can ever place (too large for every allowed instance type, "
        "above maxvCpus or the vCPU quota, wrong platform, types not offered in the subnets' "
        "zones, environments disabled); warns past thresholds.runnable_warn_minutes, fails "
        "past runnable_fail_minutes; reports count, oldest age, Batch's statusReason and "
        "what holds the capacity; its data carries the jobs per status (SUBMITTED to RUNNING) "
        "and the oldest RUNNABLE and STARTING ages, sent as QueueDepth gauges"
    )
    depends_on = ("QUEUE_CHECK",)
    needs = ("jobs_now", "placement_environments", "queue_front")
    services = ("batch", "ec2", "service-quotas")
    priority = 40

    def run(self, ctx: CheckContext) -> CheckResult:
        """The verdict on the RUNNABLE jobs, with the queue's depth in its data."""
        listed, unread = ctx.aws.jobs_now()
        now = now_ms()
        result = self._judge(ctx, listed.get("RUNNABLE"), now)
        if ctx.options.queue_depth:
            depth = queue_depth(listed, now, ctx.aws.JOBS_READ_CAP, unread)
            result.data.update(depth.to_data())
        return result

    def _judge(self, ctx: CheckContext, jobs: list[dict[str, Any]] | None, now: int) -> CheckResult:
        queue = ctx.target.job_queue
        if jobs is None:  # not listed: the read raises again, for its error
            try:
                jobs = ctx.aws.runnable_jobs()
            except AWS_ERRORS as exc:
                return self.aws_fail(
                    exc, action="batch:ListJobs", resource=queue, what=f"RUNNABLE jobs in {queue}"
                )
        aged = sorted(  # oldest first; jobs created in the same millisecond keep their order
            (((now - int(j.get("createdAt") or now)) / 60_000, j) for j in jobs if j.get("jobId")),
            key=lambda pair: pair[0],
            reverse=True,
        )
        if not aged:
            return self.ok(f"no job waiting in RUNNABLE in {queue}", runnable=0)
        facts: dict[str, Any] = {}
        envs = queue_environments(ctx.aws)
        judged: list[JudgedJobs] = []
        described: dict[str, dict[str, Any]] = {}
        if isinstance(envs, str):
            facts["placement_unjudged"] = envs
        else:
            judged, described = judge_runnable(ctx, envs, [j for _, j in aged], facts)
            facts["placement"] = [placement_data(g) for g in judged]
        never = by_verdict(judged, Verdict.NEVER)
        if never:
            return self._never(ctx, never, len(aged), facts)
        return self._aged(ctx, aged, judged, described, facts)

    def _never(
        self, ctx: CheckContext, never: list[JudgedJobs], runnable: int, facts: dict[str, Any]
    ) -> CheckResult:
        region, queue = ctx.aws.region or "", ctx.target.job_queue
        hints = [h for g in never for h in never_hints(g, region)]
        if ctx.options.cancel_unplaceable:
            facts["cancelled"] = [cancel_never(ctx.aws, g) for g in never]
            done = sum(len(c["cancelled"]) for c in facts["cancelled"])
            hints.insert(
                0, f"Cancelled {done} of them (CancelUnplaceable): their callers see FAILED"
            )
        lines = " | ".join(verdict_line(g) for g in never)
        detail = f"of {runnable} RUNNABLE job(s) in {queue}, {lines}"
        return self.fail(detail, list(dict.fromkeys(hints)), runnable=runnable, **facts)

    def _aged(
        self,
        ctx: CheckContext,
        aged: list[tuple[float, dict[str, Any]]],
        judged: list[JudgedJobs],
        described: dict[str, dict[str, Any]],
        facts: dict[str, Any],
    ) -> CheckResult:
        queue, region = ctx.target.job_queue, ctx.aws.region
        thresholds = ctx.target.thresholds
        waiting = [
            {**j, **described.get(str(j["jobId"]), {})}
            for age, j in aged
            if age >= thresholds.runnable_warn_minutes
        ]
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
        notes = [verdict_line(g) for g in by_verdict(judged, Verdict.WAITING)]
        notes += [
            n for g in by_verdict(judged, Verdict.UNKNOWN) if (n := unknown_note(g.placement))
        ]
        if not waiting:
            line = f"{summary} (warn at {thresholds.runnable_warn_minutes:g} min)"
            return self.ok("; ".join([line, *notes]), **facts)
        top_reason, _ = reasons.most_common(1)[0]
        detail = (
            f"{len(waiting)} of {summary}; past {thresholds.runnable_warn_minutes:g} min; "
            f"statusReason: {short(top_reason)}"
        )
        detail = "; ".join([detail, *notes])
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
