"""What the checks of jobs share (the smoke job, the backlog, the failures): the names a
hint mentions, and job summaries completed from their full descriptions. Not a check."""

from __future__ import annotations

import time
from typing import Any

from batch_health.aws.errors import AWS_ERRORS, classify
from batch_health.checks.base import CheckContext
from batch_health.checks.job_logs import job_log_groups
from batch_health.domain.arns import role_name_from_arn
from batch_health.domain.reason_hints import HintContext
from batch_health.text import clip, one_line

MAX_DESCRIBE = 100  # one describe_jobs call: enough to explain the failures that matter
QUOTE_MAX = 120
# Batch's job-level reasons that only say "see the container": describe the job for more.
GENERIC_REASONS = ("Essential container in task exited", "Task failed to start")


def now_ms() -> int:
    return int(time.time() * 1000)


def short(text: str, limit: int = QUOTE_MAX) -> str:
    return clip(one_line(text), limit)


def job_hint_context(ctx: CheckContext, job_id: str = "") -> HintContext:
    """The resource names a job-failure hint mentions, as far as they can be read."""
    try:
        jd = ctx.aws.job_definition()
        ces = tuple(
            (ce or {}).get("computeEnvironmentName") or entry.get("computeEnvironment", "")
            for entry, ce in ctx.aws.compute_environments()
        )
    except AWS_ERRORS:
        jd, ces = None, ()
    return HintContext(
        region=ctx.aws.region or "",
        job_queue=ctx.target.job_queue,
        job_definition=ctx.target.job_definition,
        image=jd.image if jd else "",
        execution_role=role_name_from_arn(jd.execution_role_arn) if jd else "",
        log_group=job_log_groups(ctx).first or "",
        compute_environments=ces,
        job_id=job_id,
    )


def _needs_description(job: dict[str, Any]) -> bool:
    reason = str(job.get("statusReason") or "")
    container = job.get("container") or {}
    return not container.get("reason") and (not reason or reason.startswith(GENERIC_REASONS))


def with_descriptions(
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
    except AWS_ERRORS as exc:
        facts["describe_jobs_error"] = classify(exc).summary
        return jobs
    return [{**j, **described.get(j.get("jobId"), {})} for j in jobs]
