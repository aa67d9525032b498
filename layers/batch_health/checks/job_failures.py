"""JOB_FAILURES_CHECK: recent jobs of the queue do not fail, grouped by why they did."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from batch_health.aws.errors import AWS_ERRORS
from batch_health.checks.base import Check, CheckContext
from batch_health.checks.job_context import job_hint_context, now_ms, short, with_descriptions
from batch_health.domain.reason_hints import reason_hint
from batch_health.domain.smoke import is_smoke_job
from batch_health.domain.status_reasons import ClassifiedReason, ReasonClass, classify_job
from batch_health.models import CheckResult


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
        since = now_ms() - int(window * 60_000)

        def recent(jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return [j for j in jobs if not is_smoke_job(j) and _finished_ms(j) >= since]

        try:
            failed = recent(ctx.aws.failed_jobs())
            succeeded = recent(ctx.aws.succeeded_jobs()) if failed else []
        except AWS_ERRORS as exc:
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
        failed = with_descriptions(ctx, failed, facts)
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
            example = f" (e.g. {job.get('jobName')}: {short(reason.text)})" if reason.text else ""
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
