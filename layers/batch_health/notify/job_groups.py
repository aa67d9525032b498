"""Incidents from Batch's own events: what they are made of.

A failed job counts under JOB_FAILURES_CHECK, a blocked queue under RUNNABLE_BACKLOG_CHECK,
each with the class of its reason; one incident per (target, check, class). Its key in the
incident table, the newest job it shows, the events of one batch that fall under it, and
the incident as the table holds it. The table itself: batch_health.notify.job_incidents.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from batch_health.domain.reason_hints import OWNING_CHECK, RESOLVED_BY_OWNER
from batch_health.domain.status_reasons import ClassifiedReason, ReasonClass
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


def incident_key(target: str, check: str, kind: ReasonClass) -> str:
    return f"{target}#{check}#{kind.name}"


def index_key(target: str) -> str:
    return f"{target}#events"


def parse_incident_key(pk: str) -> tuple[str, str, ReasonClass] | None:
    target, _, rest = pk.partition("#")
    check, _, name = rest.partition("#")
    kind = ReasonClass.__members__.get(name)
    return (target, check, kind) if target and check and kind else None


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


@dataclass
class JobGroup:
    """The events of one batch that fall under one incident."""

    target: str
    region: str
    check: str
    reason: ClassifiedReason  # the newest event's
    example: JobExample  # the newest event's job
    first_at: datetime  # the oldest event's time
    event_keys: list[str] = field(default_factory=list)
    message_ids: set[str] = field(default_factory=set)

    @property
    def pk(self) -> str:
        return incident_key(self.target, self.check, self.reason.kind)

    def add(self, key: str, message_id: str, reason: ClassifiedReason, example: JobExample) -> None:
        self.event_keys.append(key)
        self.message_ids.add(message_id)
        at = example.at or self.first_at
        self.first_at = min(self.first_at, at)
        if self.example.at is None or at >= self.example.at:
            self.example, self.reason = example, reason


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
    )


def quote_reason(reason: ClassifiedReason) -> str:
    return clip(one_line(reason.quote(REASON_MAX)), REASON_MAX)


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"
