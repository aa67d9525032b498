"""The placement analysis (batch_health.domain.placement) of many jobs at once, and what a
check or an incident says of its verdict.

Jobs that ask the same (vCPUs, memory, GPUs, nodes, platform, pinned types) are judged once:
a queue of a thousand RUNNABLE jobs from one job definition is one judgement. Each group
keeps its jobs and Batch's own reasons for them, so the report can quote Batch beside the
analysis (`blocked_cause`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from batch_health.domain.instance_types import EnvironmentFacts
from batch_health.domain.placement import JobNeeds, Placement, Verdict, blocked_cause, judge
from batch_health.domain.service_quotas import Constraint
from batch_health.domain.status_reasons import ReasonClass
from batch_health.text import clip

NeedsKey = tuple[Any, ...]
# How the reason of a job cancelled as one that can never run begins (CancelUnplaceable).
CANCEL_PREFIX = "batch-health: can never run"

# The blocked-queue class of each constraint: the code Batch gives, or would give, a job the
# constraint holds (https://docs.aws.amazon.com/batch/latest/userguide/job_stuck_in_runnable.html).
# An incident of jobs that can never run is the constraint's; its class is its label.
CONSTRAINT_CLASS: Mapping[Constraint, ReasonClass] = {
    Constraint.ENVIRONMENT_DISABLED: ReasonClass.CE_ACTION_REQUIRED,
    Constraint.ENVIRONMENT_INVALID: ReasonClass.CE_ACTION_REQUIRED,
    Constraint.ALL_ENVIRONMENTS_DISABLED_OR_INVALID: ReasonClass.CE_ACTION_REQUIRED,
    Constraint.NO_ENVIRONMENTS: ReasonClass.CE_ACTION_REQUIRED,
    Constraint.ABOVE_MAX_VCPUS: ReasonClass.CE_MAX_RESOURCE,
    Constraint.TYPES_NOT_OFFERED_IN_SUBNET_AZS: ReasonClass.INSTANCE_CONFIGURATION_UNSUPPORTED,
    Constraint.ABOVE_VCPU_QUOTA: ReasonClass.INSUFFICIENT_CAPACITY,
}


def constraint_class(constraint: Constraint | None) -> ReasonClass:
    """What Batch calls a job too large or too odd for the queue, unless listed above."""
    if constraint is None:
        return ReasonClass.BLOCKED_UNDETERMINED
    return CONSTRAINT_CLASS.get(constraint, ReasonClass.JOB_RESOURCE_REQUIREMENT)


def needs_key(needs: JobNeeds) -> NeedsKey:
    """What the analysis reads of a job: equal keys, equal verdicts."""
    return (
        needs.vcpus,
        needs.memory_mib,
        needs.gpus,
        needs.nodes,
        needs.platform,
        needs.multi_node,
        needs.instance_types,
    )


@dataclass
class JudgedJobs:
    """Jobs that ask the same, and the verdict on them."""

    placement: Placement
    job_ids: list[str] = field(default_factory=list)
    reasons: Counter[str] = field(default_factory=Counter)

    @property
    def batch_reason(self) -> str:
        """Batch's most common statusReason for these jobs ("" when it gave none)."""
        given = [(n, r) for r, n in self.reasons.items() if r]
        return max(given)[1] if given else ""

    @property
    def cause(self) -> str:
        return blocked_cause(self.batch_reason, self.placement)


def judge_jobs(
    jobs: Iterable[Mapping[str, Any]], environments: list[EnvironmentFacts]
) -> list[JudgedJobs]:
    """DescribeJobs entries judged against the queue's environments, one judgement per
    distinct ask, in the order the jobs came (the queue's front first, when it is)."""
    groups: dict[NeedsKey, JudgedJobs] = {}
    for job in jobs:
        needs = JobNeeds.from_job(job)
        key = needs_key(needs)
        if key not in groups:
            groups[key] = JudgedJobs(judge(needs, environments))
        group = groups[key]
        group.job_ids.append(str(job.get("jobId") or "?"))
        group.reasons[str(job.get("statusReason") or "")] += 1
    return list(groups.values())


def by_verdict(groups: Sequence[JudgedJobs], verdict: Verdict) -> list[JudgedJobs]:
    return [g for g in groups if g.placement.verdict is verdict]


def fixes(placement: Placement) -> list[str]:
    """Each unmet constraint's fix, once, prefixed with its environment."""
    found = [
        f"{f.environment}: {u.fix}" if f.environment != "-" else u.fix
        for f in placement.findings
        for u in f.unmet
    ]
    return list(dict.fromkeys(found))


def unchecked(placement: Placement) -> list[str]:
    """What the analysis could not check, and why (facts it could not read)."""
    notes = [f"{f.environment}: {n}" for f in placement.findings for n in f.unchecked]
    notes += [f.text for f in placement.findings if f.verdict is Verdict.UNKNOWN]
    return list(dict.fromkeys(notes))


def placement_data(group: JudgedJobs, *, limit: int = 20) -> dict[str, Any]:
    """The verdict as data (a check's `data`, an incident's record)."""
    p = group.placement
    return {
        "verdict": p.verdict.value,
        "constraint": p.constraint.value if p.constraint else None,
        "asks": p.needs.asks,
        "jobs": len(group.job_ids),
        "job_ids": group.job_ids[:limit],
        "batch_reason": group.batch_reason,
        "environments": [
            {
                "name": f.environment,
                "verdict": f.verdict.value,
                "reason": clip(f.reason, 500),
                "unmet": [u.code.value for u in f.unmet],
            }
            for f in p.findings
        ],
        "unchecked": unchecked(p),
    }
