"""Waiting jobs judged on arrival: will this job ever leave RUNNABLE?

Batch sends a `Batch Job State Change` event when a job enters RUNNABLE, and a `Batch Job
Queue Blocked` event, if ever, only after the job has waited. The events function places
each waiting job against its queue's compute environments as soon as its event is read
(batch_health.domain.placement), so a job that can never run is named, with its
constraint, its numbers and the fix, seconds after it was submitted. Such jobs form one
incident per (target, constraint), counted like failures (a job's arrival and its queue's
block are one job); a blocked job the analysis finds placeable keeps Batch's own class.

Each target's queue facts (batch_health.aws.placement_reads) are read once and kept
`FACTS_TTL_S` in the warm function (`FactsCache`), through the same paced clients as every
read; the targets of one batch are read side by side. A target whose facts cannot be read
is not judged: its blocked events are filed by Batch's reason, its arrivals left alone.
With CancelUnplaceable the jobs judged NEVER are cancelled, with a reason naming the
constraint, and the incident lists them; their FAILED events are not a second incident.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from batch_health.aws.concurrency import fan_out
from batch_health.aws.inventory import Inventory
from batch_health.aws.sessions import AwsSessions
from batch_health.checks.placement import cancel_never, queue_environments
from batch_health.config import Target
from batch_health.domain.batch_events import FamilyKind
from batch_health.domain.instance_types import EnvironmentFacts
from batch_health.domain.placement import Verdict
from batch_health.domain.placement_report import JudgedJobs, fixes, judge_jobs
from batch_health.domain.scope import DeploymentScope
from batch_health.notify.job_groups import NeverPlaced
from batch_health.runtime.observability import logger

# How long a target's queue facts serve the jobs that arrive: a compute environment's
# maxvCpus or instance types changed meanwhile are seen this much later at most (and the
# scheduled RUNNABLE_BACKLOG_CHECK, reading afresh, resolves what they no longer hold).
FACTS_TTL_S = 300.0

Facts = list[EnvironmentFacts] | str  # str: why the queue cannot be judged
Reader = Callable[[Sequence[Target]], list[Facts]]


def cache_key(target: Target) -> tuple[str, ...]:
    return (target.name, target.job_queue, target.region or "", target.role_arn or "")


@dataclass
class FactsCache:
    """Each target's queue facts, kept `ttl_s` in the warm function."""

    ttl_s: float = FACTS_TTL_S
    clock: Callable[[], float] = time.monotonic
    entries: dict[tuple[str, ...], tuple[float, Facts]] = field(default_factory=dict)
    reads: int = 0  # targets read (not served from the cache), for the log and the bench

    def facts(self, targets: Iterable[Target], read: Reader) -> dict[str, Facts]:
        now = self.clock()
        found: dict[str, Facts] = {}
        stale: list[Target] = []
        for t in targets:
            hit = self.entries.get(cache_key(t))
            if hit is not None and now - hit[0] < self.ttl_s:
                found[t.name] = hit[1]
            else:
                stale.append(t)
        if stale:
            self.reads += len(stale)
            for t, facts in zip(stale, read(stale), strict=True):
                self.entries[cache_key(t)] = (now, facts)
                found[t.name] = facts
        return found


def read_facts(
    targets: Sequence[Target], sessions: AwsSessions, scope: DeploymentScope | None
) -> list[Facts]:
    """The targets' queue facts, read side by side (one batched read per API and account);
    a target outside the deployment's regions is not read."""
    inventory = Inventory(sessions, scope)
    calls: list[Callable[[], Facts]] = []
    for t in targets:
        problem = scope.region_problem(t, sessions.region_for(t.region)) if scope else None
        if problem:
            calls.append(partial(str, problem))
            continue
        inventory.account(t).queues.register([t.job_queue])
        calls.append(partial(queue_environments, inventory.view(t)))
    return fan_out(calls)


def judged_here(event: Any) -> bool:
    """Whether a waiting event is judged itself: a multi-node job's nodes are judged as
    their parent (what a node asks is the parent's node range, placed as one job)."""
    family = event.family
    return not (family and family.is_child and family.kind is FamilyKind.MULTI_NODE)


def waiting_id(event: Any) -> str:
    """The job a waiting event stands for: an array child's parent. Only children enter
    RUNNABLE ("An array parent job is updated to PENDING when any child job is updated to
    RUNNABLE", https://docs.aws.amazon.com/batch/latest/userguide/array_jobs.html), and
    cancelling the parent cancels them all ("AWS Batch attempts to cancel all child jobs",
    https://docs.aws.amazon.com/batch/latest/APIReference/API_CancelJob.html): one job to
    judge and to cancel, not one per child."""
    family = event.family
    if family and family.is_child and family.kind is FamilyKind.ARRAY:
        return str(family.parent_id)
    return str(event.detail.jobId)


@dataclass
class Judged:
    """One batch's waiting jobs after the analysis."""

    never: dict[str, JudgedJobs] = field(default_factory=dict)  # waiting_id -> its group
    notes: dict[int, NeverPlaced] = field(default_factory=dict)  # id(group) -> its note
    unjudged: dict[str, str] = field(default_factory=dict)  # target -> why not judged


def judge_waiting(
    waiting: Sequence[tuple[Any, Target]],
    cache: FactsCache,
    read: Reader,
    *,
    cancel: Callable[[Target, JudgedJobs], dict[str, Any]] | None = None,
) -> Judged:
    """Judge each target's waiting jobs (`(Received, Target)` pairs) against its queue;
    cancel the jobs that can never run when `cancel` is given."""
    by_target: dict[str, tuple[Target, dict[str, dict[str, Any]]]] = {}
    for item, target in waiting:
        jobs = by_target.setdefault(target.name, (target, {}))[1]
        job_id = waiting_id(item.event)
        jobs.setdefault(job_id, {**item.event.detail.model_dump(), "jobId": job_id})
    facts = cache.facts([t for t, _ in by_target.values()], read)
    judged = Judged()
    for name, (target, jobs) in by_target.items():
        envs = facts.get(name, "not read")
        if isinstance(envs, str):
            judged.unjudged[name] = envs
            continue
        for group in judge_jobs(jobs.values(), envs):
            if group.placement.verdict is not Verdict.NEVER:
                continue
            outcome = cancel(target, group) if cancel else {}
            judged.notes[id(group)] = never_note(group, outcome)
            judged.never.update(dict.fromkeys(group.job_ids, group))
    if judged.unjudged:
        logger.info("waiting jobs not judged", extra={"targets": judged.unjudged})
    return judged


def never_note(group: JudgedJobs, cancelled: dict[str, Any]) -> NeverPlaced:
    p = group.placement
    failed = cancelled.get("cancel_failed") or {}
    return NeverPlaced(
        constraint=p.constraint.value if p.constraint else "?",
        cause=group.cause,
        fix="; ".join(fixes(p)) or "see the analysis above",
        cancelled=tuple(cancelled.get("cancelled") or ()),
        cancel_failed=tuple(f"{job}: {why}" for job, why in failed.items()),
    )


def canceller(sessions: AwsSessions) -> Callable[[Target, JudgedJobs], dict[str, Any]]:
    """Cancels a group's jobs with the target's own clients (CancelUnplaceable)."""
    inventory = Inventory(sessions)
    return lambda target, group: cancel_never(inventory.view(target), group)
