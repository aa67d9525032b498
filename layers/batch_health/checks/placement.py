"""What the checks share of the placement analysis (batch_health.domain.placement): the
queue's compute environments with their facts, its RUNNABLE jobs judged, the wording of a
verdict, and the opt-in cancel of jobs that can never run. Not a check."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from batch_health.aws.errors import AWS_ERRORS, classify
from batch_health.aws.inventory import TargetView
from batch_health.checks.base import CheckContext
from batch_health.domain.arns import resource_name
from batch_health.domain.instance_types import EnvironmentFacts
from batch_health.domain.job_definition import JobDefinitionView
from batch_health.domain.placement import JobNeeds, Placement, Verdict, judge
from batch_health.domain.placement_report import (
    CANCEL_PREFIX,
    JudgedJobs,
    fixes,
    judge_jobs,
    unchecked,
)
from batch_health.domain.smoke import NodeChoice
from batch_health.text import clip

JUDGED_MAX = 100  # one DescribeJobs call: the queue's front and its oldest jobs
CANCEL_REASON_MAX = 1000


def queue_environments(view: TargetView) -> list[EnvironmentFacts] | str:
    """The queue's compute environments with what each offers; or why they cannot be
    judged (the queue or its environments missing or unreadable: other checks say so)."""
    queue = view.target.job_queue
    try:
        if view.job_queue() is None:
            return f"job queue {queue} not found (see QUEUE_CHECK)"
        attached = view.compute_environments()
        envs = view.placement_environments()
    except AWS_ERRORS as exc:
        return f"the compute environments of {queue} could not be read: {classify(exc).summary}"
    if attached and not envs:
        return f"no compute environment of {queue} was found (see CE_CHECK)"
    return envs


def _front_ids(ctx: CheckContext, facts: dict[str, Any]) -> list[str]:
    try:
        return [resource_name(j["jobArn"]) for j in ctx.aws.queue_front()]
    except AWS_ERRORS as exc:
        facts["queue_front_unread"] = f"batch:GetJobQueueSnapshot: {classify(exc).summary}"
        return []


def judge_runnable(
    ctx: CheckContext,
    envs: list[EnvironmentFacts],
    oldest_first: list[dict[str, Any]],
    facts: dict[str, Any],
) -> tuple[list[JudgedJobs], dict[str, dict[str, Any]]]:
    """The queue's front (GetJobQueueSnapshot) and its oldest RUNNABLE jobs, described in
    one call and judged; and the descriptions by job ID. A failed read is noted in
    `facts`, and whatever could be judged is."""
    listed = [str(j.get("jobId")) for j in oldest_first if j.get("jobId")]
    ids = tuple(dict.fromkeys([*_front_ids(ctx, facts), *listed]))[:JUDGED_MAX]
    if not ids:
        return [], {}
    try:
        described = {str(d.get("jobId")): d for d in ctx.aws.describe_jobs(ids)}
    except AWS_ERRORS as exc:
        facts["describe_jobs_error"] = classify(exc).summary
        return [], {}
    runnable = [described[i] for i in ids if described.get(i, {}).get("status") == "RUNNABLE"]
    return judge_jobs(runnable, envs), described


def verdict_line(group: JudgedJobs) -> str:
    """ "3 job(s) (vCPU ...) can never run: ..." and Batch's own words."""
    p = group.placement
    what = f"{len(group.job_ids)} job(s)"
    if p.verdict is Verdict.NEVER:
        code = p.constraint.value if p.constraint else "?"
        return f"{what} can never run [{code}]: {group.cause}"
    if p.verdict is Verdict.WAITING:
        return f"{what} fit but wait for capacity: {p.summary}"
    return f"{what}: {p.summary}"


def never_hints(group: JudgedJobs, region: str) -> list[str]:
    p = group.placement
    hints = [f"Fix: {f}" for f in fixes(p)]
    example = group.job_ids[0]
    hints.append(
        f"Such jobs never leave RUNNABLE: cancel them (`aws batch cancel-job --job-id {example} "
        f'--reason "{p.constraint}" --region {region}`) or let the queue\'s '
        "jobStateTimeLimitActions cancel them, then resubmit once fixed"
    )
    return hints


def unknown_note(placement: Placement) -> str:
    notes = unchecked(placement)
    return "placement not fully checked: " + "; ".join(notes[:3]) if notes else ""


def cancel_reason(group: JudgedJobs) -> str:
    p = group.placement
    return clip(f"{CANCEL_PREFIX} ({p.constraint}): {p.summary}", CANCEL_REASON_MAX)


def cancel_never(view: TargetView, group: JudgedJobs) -> dict[str, Any]:
    """Cancel the group's jobs (the opt-in action): each cancelled or why not."""
    batch, reason = view.client("batch"), cancel_reason(group)
    cancelled: list[str] = []
    failed: dict[str, str] = {}
    for job_id in group.job_ids:
        try:
            batch.cancel_job(jobId=job_id, reason=reason)
            cancelled.append(job_id)
        except AWS_ERRORS as exc:
            failed[job_id] = classify(exc).summary
    return {"cancelled": cancelled, "cancel_failed": failed, "cancel_reason": reason}


def smoke_never(
    ctx: CheckContext, jd: JobDefinitionView, nodes: NodeChoice | None
) -> tuple[str, list[str], dict[str, Any]] | None:
    """Why the smoke job would wait in RUNNABLE forever (detail, hints, data), judged before
    it is submitted; None when it can run or the queue cannot be judged."""
    envs = queue_environments(ctx.aws)
    if isinstance(envs, str):
        return None
    needs = JobNeeds.from_job_definition(jd, source=f"the smoke job ({jd.label('?')})")
    if nodes is not None and nodes.override and nodes.num_nodes:
        needs = replace(needs, nodes=nodes.num_nodes)
    placement = judge(needs, envs)
    if placement.verdict is not Verdict.NEVER:
        return None
    detail = (
        f"not submitted: the smoke job can never run on {ctx.target.job_queue} "
        f"[{placement.constraint}]: {placement.summary}"
    )
    hints = [f"Fix: {f}" for f in fixes(placement)]
    data = {"placement": {"verdict": placement.verdict.value, "constraint": placement.constraint}}
    return detail, hints, data
