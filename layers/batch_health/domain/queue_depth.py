"""How many jobs a queue holds now, per status, and how long its oldest waiting jobs have
waited: the gauges AWS/Batch's own metrics do not give (runtime/metrics.py sends them).

Read from ListJobs' job summaries, one listing per status. A JobSummary carries
`createdAt`, `startedAt` and `stoppedAt` (epoch milliseconds,
https://docs.aws.amazon.com/batch/latest/APIReference/API_JobSummary.html): `createdAt`
is when the job was submitted, and `startedAt` is set only when it moves from STARTING to
RUNNING. No field says when a job entered RUNNABLE or STARTING, so both ages are counted
from `createdAt`: how long the job has been waiting to run.

A listing stopped at the read cap gives a lower bound: the count is then `capped`, and so
is the oldest age of that status (of the jobs read). A status that could not be listed is
`unread`, with why; it has no count, and a status neither listed nor unread is unread too
(a 0 is never made up).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

QUEUE_DEPTH_STATUSES = ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING")
AGED_STATUSES = ("RUNNABLE", "STARTING")  # the ones whose oldest job's age is kept
NOT_LISTED = "not listed"
NOTHING_UNREAD: Mapping[str, str] = MappingProxyType({})

# The keys of QueueDepth.to_data(), merged into RUNNABLE_BACKLOG_CHECK's result data.
COUNTS_KEY = "queue_depth"
CAPPED_KEY = "queue_depth_capped"
AGES_KEY = "oldest_age_seconds"
UNREAD_KEY = "queue_depth_unread"


@dataclass(frozen=True)
class QueueDepth:
    """Jobs per status now (`counts`, of the statuses read), the statuses whose count is a
    lower bound (`capped`), the oldest RUNNABLE and STARTING job's age in seconds (absent
    when there is none) and why a status could not be listed (`unread`)."""

    counts: Mapping[str, int]
    capped: frozenset[str] = frozenset()
    oldest_age_seconds: Mapping[str, float] = field(default_factory=dict)
    unread: Mapping[str, str] = field(default_factory=dict)

    def to_data(self) -> dict[str, Any]:
        """JSON-able, for a check result's data; `from_data` reads it back."""
        return {
            COUNTS_KEY: {s: int(n) for s, n in self.counts.items()},
            CAPPED_KEY: sorted(self.capped),
            AGES_KEY: {s: float(a) for s, a in self.oldest_age_seconds.items()},
            UNREAD_KEY: {s: str(why) for s, why in self.unread.items()},
        }

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> QueueDepth | None:
        """The QueueDepth `to_data` wrote into `data`; None when `data` has none."""
        counts = data.get(COUNTS_KEY)
        if not isinstance(counts, Mapping):
            return None
        return cls(
            counts={str(s): int(n) for s, n in counts.items()},
            capped=frozenset(str(s) for s in data.get(CAPPED_KEY) or ()),
            oldest_age_seconds={str(s): float(a) for s, a in (data.get(AGES_KEY) or {}).items()},
            unread={str(s): str(why) for s, why in (data.get(UNREAD_KEY) or {}).items()},
        )


def oldest_age_seconds(jobs: Sequence[Mapping[str, Any]], now_ms: int) -> float | None:
    """Seconds since the earliest `createdAt` of `jobs` (0 for one stamped after `now_ms`,
    a clock ahead); None when no job has one."""
    created = [int(c) for j in jobs if isinstance(c := j.get("createdAt"), int | float)]
    if not created:
        return None
    return round(max(0, now_ms - min(created)) / 1000, 1)


def queue_depth(
    jobs_by_status: Mapping[str, Sequence[Mapping[str, Any]]],
    now_ms: int,
    cap: int,
    unread: Mapping[str, str] = NOTHING_UNREAD,
) -> QueueDepth:
    """The QueueDepth of ListJobs' summaries per status (`jobs_by_status`), at `now_ms`
    (epoch milliseconds). A listing of `cap` jobs or more stopped at the read cap: its
    status is capped. `unread`: the statuses that could not be listed, and why."""
    if cap < 1:
        raise ValueError(f"cap must be at least 1, not {cap}")
    missing = {s: unread.get(s, NOT_LISTED) for s in QUEUE_DEPTH_STATUSES}
    counts: dict[str, int] = {}
    capped: set[str] = set()
    ages: dict[str, float] = {}
    for status in QUEUE_DEPTH_STATUSES:
        jobs = jobs_by_status.get(status)
        if status in unread or jobs is None:
            continue
        del missing[status]
        counts[status] = len(jobs)
        if len(jobs) >= cap:
            capped.add(status)
        if status in AGED_STATUSES and (age := oldest_age_seconds(jobs, now_ms)) is not None:
            ages[status] = age
    return QueueDepth(counts, frozenset(capped), ages, missing)
