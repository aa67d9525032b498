"""JOB_FAILURES_CHECK: recent jobs of the queue do not fail, grouped by why they did.

An array or multi-node job is one job: ListJobs on a queue lists jobs, and a parent's
children only when asked by `arrayJobId` or `multiNodeJobId`
(https://docs.aws.amazon.com/batch/latest/APIReference/API_ListJobs.html). A child that is
listed all the same (ID `<parent>:<index>` or `<parent>#<node>`) is folded into its parent.
The children's reasons come from DescribeJobs of their IDs, which the parent's size names
(`arrayProperties.size`, `nodeProperties.numNodes`), within the one DescribeJobs call of up
to 100 IDs the check makes anyway; how many children failed, from the parent's
`arrayProperties.statusSummary` (https://docs.aws.amazon.com/batch/latest/APIReference/
API_ArrayPropertiesSummary.html) when the described children do not say more.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from batch_health.aws.errors import AWS_ERRORS
from batch_health.checks.base import Check, CheckContext
from batch_health.checks.job_context import (
    MAX_DESCRIBE,
    job_hint_context,
    now_ms,
    short,
    with_descriptions,
)
from batch_health.domain.batch_events import FamilyKind, JobFamily, job_family
from batch_health.domain.reason_hints import reason_hint
from batch_health.domain.smoke import is_smoke_job
from batch_health.domain.status_reasons import ClassifiedReason, ReasonClass, classify_job
from batch_health.models import CheckResult


def _finished_ms(job: dict[str, Any]) -> int:
    return int(job.get("stoppedAt") or job.get("createdAt") or 0)


def fold_children(
    jobs: list[dict[str, Any]],
) -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    """The parents (a listed child stands for its unlisted parent), and each parent's
    listed children."""
    parents: dict[str, dict[str, Any]] = {}
    children: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for job in jobs:
        family = job_family(job)
        if family is not None and family.is_child:
            children[family.parent_id].append(job)
            parents.setdefault(family.parent_id, {**job, "jobId": family.parent_id})
        else:
            parents[str(job.get("jobId") or "")] = job
    return list(parents.values()), children


def child_ids(parents: list[dict[str, Any]], room: int) -> tuple[str, ...]:
    """IDs of the children of the parents listed, as many as `room` allows."""
    ids: list[str] = []
    for job in parents:
        family = job_family(job)
        if family is None or family.is_child or not family.size:
            continue
        sep = ":" if family.kind is FamilyKind.ARRAY else "#"
        ids += [f"{family.parent_id}{sep}{i}" for i in range(family.size)]
    return tuple(ids[: max(0, room)])


def children_said(family: JobFamily, kinds: Counter[ReasonClass]) -> str:
    """ "array job, 3 of 8 children failed: 2 out of memory, 1 application exit code" """
    failed = max(sum(kinds.values()), family.failed_children or 0)
    of = f" of {family.size}" if family.size else ""
    why = ", ".join(f"{n} {k.value}" for k, n in sorted(kinds.items(), key=lambda i: -i[1]))
    return f"{family.kind.value} job, {failed}{of} {family.children} failed" + (
        f": {why}" if why else ""
    )


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
        failed, listed_children = fold_children(failed)
        facts["failed"] = len(failed)
        finished = len(failed) + len(succeeded)
        room = MAX_DESCRIBE - sum(1 for j in failed if not j.get("statusReason"))
        asked = [{"jobId": i} for i in child_ids(failed, room)]
        described = with_descriptions(ctx, [*failed, *asked], facts)
        failed = described[: len(failed)]
        for child in described[len(failed) :]:
            if child.get("status") == "FAILED" and (family := job_family(child)):
                listed_children[family.parent_id].append(child)
        failed.sort(key=_finished_ms, reverse=True)
        groups: dict[ReasonClass, list[tuple[dict[str, Any], ClassifiedReason]]] = defaultdict(list)
        said: dict[str, str] = {}
        for job in failed:
            reason = classify_job(job)
            family = job_family(job)
            kids = {str(c.get("jobId")): c for c in listed_children.get(str(job.get("jobId")), [])}
            if family is not None:
                kinds = Counter(classify_job(c).kind for c in kids.values())
                said[str(job.get("jobId"))] = children_said(family, kinds)
                if kinds:  # the children's most common reason is the job's
                    kind = min(kinds, key=lambda k: (-kinds[k], k.name))
                    reason = next(r for c in kids.values() if (r := classify_job(c)).kind is kind)
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
                        "children": said.get(str(items[0][0].get("jobId")), ""),
                    },
                }
                for kind, items in ranked
            },
        )
        parts = []
        for kind, items in ranked:
            job, reason = items[0]
            children = said.get(str(job.get("jobId")), "")
            quoted = short(reason.text) if reason.text else ""
            text = "; ".join(t for t in (children, quoted) if t)
            example = f" (e.g. {job.get('jobName')}: {text})" if text else ""
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
