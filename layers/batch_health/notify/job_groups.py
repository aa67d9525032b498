"""Incidents from Batch's own events: what they are made of.

A failed job counts under JOB_FAILURES_CHECK, a blocked queue under RUNNABLE_BACKLOG_CHECK,
each with the class of its reason; one incident per (target, check, class). Its key in the
incident table, the newest job it shows, the events of one batch that fall under it, and
the incident as the table holds it. The table itself: batch_health.notify.job_incidents.

An array or multi-node job is one job, however many of its children fail: its parent's
event and its children's count the parent once, under one class (the family's, chosen once,
see batch_health.runtime.batch_events), and each failed child's reason is counted on the
family's own item, so the message can say "3 of 8 nodes failed: 2 out of memory, ...".
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from batch_health.domain.batch_events import FamilyKind
from batch_health.domain.reason_hints import OWNING_CHECK, RESOLVED_BY_OWNER
from batch_health.domain.status_reasons import ClassifiedReason, ReasonClass
from batch_health.limits import DYNAMODB_TRANSACTION_MAX_ITEMS
from batch_health.models import iso
from batch_health.notify.incidents import FAIL, OK
from batch_health.notify.messages import (
    Link,
    job_queue_url,
    job_url,
    log_group_url,
    log_stream_url,
)
from batch_health.text import clip, one_line

JOB_FAILURES_CHECK = "JOB_FAILURES_CHECK"
RUNNABLE_BACKLOG_CHECK = "RUNNABLE_BACKLOG_CHECK"
REASON_MAX = 1000


def incident_key(target: str, check: str, kind: ReasonClass, constraint: str = "") -> str:
    """One incident per (target, check, class); a job that can never run, per its
    placement constraint too."""
    return f"{target}#{check}#{kind.name}" + (f"#{constraint}" if constraint else "")


def index_key(target: str) -> str:
    return f"{target}#events"


def family_item_key(family_key: str) -> str:
    """The family's item: its class, size and the counts of its children's reasons."""
    return f"family#{family_key}"


def parse_incident_key(pk: str) -> tuple[str, str, ReasonClass] | None:
    target, _, rest = pk.partition("#")
    check, _, name = rest.partition("#")
    kind = ReasonClass.__members__.get(name.partition("#")[0])
    return (target, check, kind) if target and check and kind else None


def key_constraint(pk: str) -> str:
    """The placement constraint an incident's key names ("" for any other incident)."""
    return pk.split("#", 3)[3] if pk.count("#") >= 3 else ""


def resolving_checks(check: str, kind: ReasonClass) -> frozenset[str]:
    """The scheduled checks whose PASS ends the incident: the check it is filed under, and
    the check that owns its cause when that check proves the cause gone."""
    owner = OWNING_CHECK.get(kind)
    return frozenset({check, owner} if owner and kind in RESOLVED_BY_OWNER else {check})


@dataclass(frozen=True)
class JobExample:
    """The newest job of an incident: what the on-call engineer opens first."""

    job_id: str
    job_name: str = ""
    region: str = ""
    queue: str = ""  # the queue's ARN (or name)
    log_group: str = ""
    log_stream: str = ""
    reason: str = ""  # Batch's words, quoted around what decided the class
    at: datetime | None = None

    def to_json(self) -> str:
        data = {k: v for k, v in self.__dict__.items() if k != "at"}
        data["at"] = iso(self.at) if self.at else None
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> JobExample:
        data = json.loads(text)
        at = data.pop("at", None)
        known = {k: str(v) for k, v in data.items() if k in cls.__dataclass_fields__}
        parsed = datetime.fromisoformat(at.replace("Z", "+00:00")) if at else None
        return cls(**known, at=parsed)

    def links(self) -> tuple[Link, ...]:
        if not self.region:
            return ()
        links = [Link(f"Job {self.job_name or self.job_id}", job_url(self.region, self.job_id))]
        if self.log_group and self.log_stream:
            links.append(
                Link(
                    f"Log stream {self.log_stream}",
                    log_stream_url(self.region, self.log_group, self.log_stream),
                )
            )
        elif self.log_group:
            links.append(
                Link(f"Log group {self.log_group}", log_group_url(self.region, self.log_group))
            )
        if self.queue:
            name = self.queue.rsplit("/", 1)[-1]
            links.append(Link(f"Job queue {name}", job_queue_url(self.region, self.queue)))
        return tuple(links)


@dataclass(frozen=True)
class FamilyNote:
    """What one batch's events say about a family, written with its counts."""

    kind: FamilyKind
    size: int | None = None
    failed_children: int | None = None  # the parent's statusSummary

    def merged(self, other: FamilyNote) -> FamilyNote:
        return FamilyNote(
            self.kind,
            other.size if other.size is not None else self.size,
            max(self.failed_children or 0, other.failed_children or 0) or None,
        )


@dataclass(frozen=True)
class FamilyTally:
    """A family as its item holds it: how many children failed, and why."""

    kind: FamilyKind
    size: int | None = None
    failed_children: int | None = None  # the parent's statusSummary
    reasons: tuple[tuple[ReasonClass, int], ...] = ()  # the counted children, most first

    def describe(self) -> str:
        """ "3 of 8 nodes failed: 2 out of memory, 1 application exit code" ("" if nothing
        is known yet)."""
        counted = sum(n for _, n in self.reasons)
        failed = max(counted, self.failed_children or 0)
        if not failed:
            return ""
        word = "children" if self.kind is FamilyKind.ARRAY else "nodes"
        if failed == 1:
            word = "child" if self.kind is FamilyKind.ARRAY else "node"
        of = f" of {self.size}" if self.size else ""
        why = ", ".join(f"{n} {kind.value}" for kind, n in self.reasons)
        return f"{failed}{of} {word} failed" + (f": {why}" if why else "")


def tally_from_item(item: dict[str, Any]) -> FamilyTally | None:
    try:
        kind = FamilyKind(item.get("kind", {}).get("S", ""))
    except ValueError:
        return None

    def number(key: str) -> int | None:
        value = item.get(key, {}).get("N")
        return int(value) if value is not None else None

    reasons = [
        (ReasonClass[name.removeprefix("c_")], int(value["N"]))
        for name, value in item.items()
        if name.startswith("c_") and name.removeprefix("c_") in ReasonClass.__members__
    ]
    reasons.sort(key=lambda r: (-r[1], r[0].name))
    return FamilyTally(kind, number("size"), number("summary_failed"), tuple(reasons))


@dataclass(frozen=True)
class NeverPlaced:
    """Waiting jobs the placement analysis finds can never run: their incident is the
    constraint's, and its message says what to change (and what was cancelled)."""

    constraint: str
    cause: str  # the analysis's numbers, Batch's own reason quoted
    fix: str
    cancelled: tuple[str, ...] = ()
    cancel_failed: tuple[str, ...] = ()  # "job ID: why"

    def merged(self, other: NeverPlaced) -> NeverPlaced:
        """Two groups of jobs held by one constraint: their cancels together."""
        return replace(
            self,
            cancelled=tuple(dict.fromkeys(self.cancelled + other.cancelled)),
            cancel_failed=tuple(dict.fromkeys(self.cancel_failed + other.cancel_failed)),
        )

    def describe(self) -> str:
        note = ""
        if self.cancelled:
            note += f" Cancelled (CancelUnplaceable): {', '.join(self.cancelled[:10])}."
        if self.cancel_failed:
            note += f" Not cancelled: {'; '.join(self.cancel_failed[:5])}."
        return f"can never run [{self.constraint}]: {self.cause}.{note}"


@dataclass
class JobGroup:
    """The events of one batch that fall under one incident."""

    target: str
    region: str
    check: str
    reason: ClassifiedReason  # the newest event's
    example: JobExample  # the newest event's job
    first_at: datetime  # the oldest event's time
    event_keys: list[str] = field(default_factory=list)  # each counts one job
    message_ids: set[str] = field(default_factory=set)
    # A failed child's key -> its family's key and its own reason's class.
    children: dict[str, tuple[str, ReasonClass]] = field(default_factory=dict)
    families: dict[str, FamilyNote] = field(default_factory=dict)
    example_family: str = ""  # the newest job's family key, when it has one
    never: NeverPlaced | None = None

    @property
    def pk(self) -> str:
        constraint = self.never.constraint if self.never else ""
        return incident_key(self.target, self.check, self.reason.kind, constraint)

    def add(
        self,
        key: str,
        message_id: str,
        reason: ClassifiedReason,
        example: JobExample,
        family: tuple[str, FamilyNote] | None = None,
    ) -> None:
        self.event_keys.append(key)
        self.message_ids.add(message_id)
        at = example.at or self.first_at
        self.first_at = min(self.first_at, at)
        if self.example.at is None or at >= self.example.at:
            self.example = example
            self.example_family = family[0] if family else ""
            # A family's child of another class is counted here, but the incident's
            # reason stays one of its own class.
            if reason.kind is self.reason.kind:
                self.reason = reason
        if family:
            known = self.families.get(family[0])
            self.families[family[0]] = known.merged(family[1]) if known else family[1]

    def add_child(self, child_key: str, family_key: str, kind: ReasonClass) -> None:
        self.children[child_key] = (family_key, kind)


@dataclass(frozen=True)
class JobIncident:
    """One incident as the table holds it; version 0 means no item yet."""

    pk: str
    state: str = OK
    jobs: int = 0
    version: int = 0
    since: datetime | None = None
    notified_at: datetime | None = None
    reminders: int = 0
    newest_at: datetime | None = None
    example: JobExample | None = None
    # Set by a transition whose message is being sent, until then; removed once it is.
    # Past it, the message was never confirmed sent (the function stopped): due again.
    sending_until: datetime | None = None

    @property
    def open(self) -> bool:
        return self.state == FAIL


def incident_from_item(pk: str, item: dict[str, Any]) -> JobIncident:
    def number(key: str) -> int:
        return int(item.get(key, {}).get("N", "0"))

    def moment(key: str) -> datetime | None:
        value = item.get(key, {}).get("S")
        return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None

    newest = item.get("newest_at", {}).get("N")
    example = item.get("example", {}).get("S")
    return JobIncident(
        pk=pk,
        state=FAIL if item.get("state", {}).get("S") == FAIL else OK,
        jobs=number("jobs"),
        version=number("version"),
        since=moment("since"),
        notified_at=moment("notified_at"),
        reminders=number("reminders"),
        newest_at=datetime.fromtimestamp(int(newest) / 1000, UTC) if newest else None,
        example=JobExample.from_json(example) if example else None,
        sending_until=moment("sending_until"),
    )


def claimed_class(item: Mapping[str, Any]) -> ReasonClass | None:
    """The class a family's item holds, if any."""
    return ReasonClass.__members__.get(item.get("class", {}).get("S", ""))


def family_of_key(group: JobGroup, key: str) -> str:
    """The family a marker key adds to ("" for a plain job's)."""
    if key in group.children:
        return group.children[key][0]
    family = key.rpartition(":")[0]
    return family if family in group.families else ""


def families_touched(group: JobGroup, keys: Sequence[str]) -> dict[str, Counter[ReasonClass]]:
    """The families these keys add to, with the classes of their failed children."""
    touched: dict[str, Counter[ReasonClass]] = {}
    for key in keys:
        family = family_of_key(group, key)
        if family:
            kinds = touched.setdefault(family, Counter())
            if key in group.children:
                kinds[group.children[key][1]] += 1
    return touched


def count_chunks(group: JobGroup, keys: Sequence[str]) -> list[list[str]]:
    """The keys in transactions: each marker, the incident and every family it adds to
    within TransactWriteItems' limit."""
    chunks: list[list[str]] = []
    chunk: list[str] = []
    families: set[str] = set()
    for key in keys:
        family = family_of_key(group, key)
        grown = families | {family} if family else families
        if chunk and len(chunk) + 1 + 1 + len(grown) > DYNAMODB_TRANSACTION_MAX_ITEMS:
            chunks.append(chunk)
            chunk, grown = [], {family} if family else set()
        chunk.append(key)
        families = grown
    return [*chunks, chunk] if chunk else chunks


def quote_reason(reason: ClassifiedReason) -> str:
    return clip(one_line(reason.quote(REASON_MAX)), REASON_MAX)


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def state_update(s: JobIncident, *, reset_jobs: bool = False) -> tuple[str, dict[str, Any]]:
    """The UpdateExpression and values that write `s`'s state."""
    sets = ["#state = :state", "reminders = :reminders", "version = :version"]
    values: dict[str, Any] = {
        ":state": {"S": s.state},
        ":reminders": {"N": str(s.reminders)},
        ":version": {"N": str(s.version)},
    }
    removes = []
    moments = (("since", s.since), ("notified_at", s.notified_at))
    for name, value in (*moments, ("sending_until", s.sending_until)):
        if value is None:
            removes.append(name)
        else:
            sets.append(f"{name} = :{name}")
            values[f":{name}"] = {"S": iso(value)}
    if reset_jobs:
        sets.append("jobs = :zero")
        values[":zero"] = {"N": "0"}
    update = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
    return update, values
