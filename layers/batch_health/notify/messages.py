"""One notification, rendered for people (SNS subject and text) and programs (a JSON document).

The SNS message is the text, for e-mail and every subscriber that shows it as it is; the
JSON document travels beside it as the `document` message attribute, with `target`,
`check`, `status` and `event` for subscription filter policies. (Attributes are delivered
only with a String message structure, not with MessageStructure=json.) The Slack notifier
renders Block Kit from the document, so every channel shows the same facts.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any
from urllib.parse import quote

from batch_health.limits import SNS_MESSAGE_MAX_BYTES, SNS_SUBJECT_MAX_CHARS
from batch_health.models import Report, iso
from batch_health.text import clip, utf8_size, valid_text

DOCUMENT_KIND = "batch-health.notification"
DOCUMENT_ATTRIBUTE = "document"
SCHEMA_VERSION = 1
# Shorter and shorter forms of a notification, until its Publish request fits:
# (characters per detail, hint and note; hints kept).
SHRINK_STEPS = ((4000, 20), (1000, 10), (300, 5), (100, 3), (100, 0))


class Event(StrEnum):
    FAIL = "FAIL"
    REMINDER = "REMINDER"
    RESOLVED = "RESOLVED"
    TEST = "TEST"


@dataclass(frozen=True)
class Link:
    label: str
    url: str


@dataclass(frozen=True)
class Notification:
    """What happened to one check on one target, and what to do about it."""

    event: Event
    target: str
    region: str
    check: str
    status: str  # the check's status in the run that sent this
    detail: str
    occurred_at: datetime
    hints: tuple[str, ...] = ()
    links: tuple[Link, ...] = ()
    since: datetime | None = None  # first failed run of the incident
    failures: int = 0  # consecutive failed runs
    note: str = ""  # e.g. why this message may repeat
    # An incident from Batch's events: the reason class, how many jobs so far, and what
    # the check that owns the cause found when it ran for this incident.
    reason_class: str = ""
    jobs: int = 0
    confirmation: str = ""

    @property
    def duration(self) -> timedelta | None:
        return None if self.since is None else max(timedelta(0), self.occurred_at - self.since)

    def to_document(self) -> dict[str, Any]:
        duration = self.duration
        return {
            "kind": DOCUMENT_KIND,
            "schema": SCHEMA_VERSION,
            "event": self.event.value,
            "target": self.target,
            "region": self.region,
            "check": self.check,
            "status": self.status,
            "detail": self.detail,
            "hints": list(self.hints),
            "links": [{"label": link.label, "url": link.url} for link in self.links],
            "occurred_at": iso(self.occurred_at),
            "since": iso(self.since) if self.since else None,
            "duration_seconds": int(duration.total_seconds()) if duration is not None else None,
            "duration": format_duration(duration) if duration is not None else None,
            "failures": self.failures,
            "note": self.note,
            "reason_class": self.reason_class,
            "jobs": self.jobs,
            "confirmation": self.confirmation,
            "subject": subject(self),
        }

    @classmethod
    def from_document(cls, doc: Any) -> Notification:
        """The inverse of `to_document`; ValueError names the first field that is wrong."""
        if not isinstance(doc, dict) or doc.get("kind") != DOCUMENT_KIND:
            raise ValueError(f"not a {DOCUMENT_KIND} document")
        try:
            event = Event(_text(doc, "event"))
        except ValueError:
            raise ValueError(f"event: unknown value {doc.get('event')!r}") from None
        hints = doc.get("hints") or []
        links = doc.get("links") or []
        if not isinstance(hints, list) or not all(isinstance(h, str) for h in hints):
            raise ValueError("hints: expected a list of strings")
        if not isinstance(links, list) or not all(
            isinstance(x, dict) and isinstance(x.get("url"), str) for x in links
        ):
            raise ValueError("links: expected a list of {label, url}")
        failures = doc.get("failures") or 0
        jobs = doc.get("jobs") or 0
        for key, value in (("failures", failures), ("jobs", jobs)):
            if not isinstance(value, int) or isinstance(value, bool):
                raise ValueError(f"{key}: expected an integer")
        return cls(
            event=event,
            target=_text(doc, "target"),
            region=_text(doc, "region", required=False),
            check=_text(doc, "check"),
            status=_text(doc, "status"),
            detail=_text(doc, "detail", required=False),
            occurred_at=_time(doc, "occurred_at") or datetime.now(UTC),
            hints=tuple(hints),
            links=tuple(Link(str(x.get("label") or x["url"]), x["url"]) for x in links),
            since=_time(doc, "since"),
            failures=failures,
            note=_text(doc, "note", required=False),
            reason_class=_text(doc, "reason_class", required=False),
            jobs=jobs,
            confirmation=_text(doc, "confirmation", required=False),
        )


def _text(doc: dict[str, Any], key: str, *, required: bool = True) -> str:
    value = doc.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value):
        raise ValueError(f"{key}: expected a non-empty string")
    return value


def _time(doc: dict[str, Any], key: str) -> datetime | None:
    value = doc.get(key)
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{key}: expected an ISO-8601 time, got {value!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def format_duration(duration: timedelta) -> str:
    """`< 1 min`, `42 min`, `3 h 5 min`, `2 d 4 h`: what an on-call reader scans for."""
    minutes = int(duration.total_seconds() // 60)
    if minutes < 1:
        return "< 1 min"
    if minutes < 60:
        return f"{minutes} min"
    hours, mins = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h" + (f" {mins} min" if mins else "")
    days, hours = divmod(hours, 24)
    return f"{days} d" + (f" {hours} h" if hours else "")


def headline(n: Notification) -> str:
    """One sentence saying what happened, used as the subject's tail and the text's title."""
    duration = format_duration(n.duration) if n.duration is not None else ""
    if n.event is Event.FAIL:
        return n.detail or f"{n.check} failed"
    if n.event is Event.REMINDER:
        return f"still failing after {duration}: {n.detail}" if duration else n.detail
    if n.event is Event.RESOLVED:
        return f"resolved after {duration}" if duration else "resolved"
    return n.detail or "test message"


def subject(n: Notification) -> str:
    """`[FAIL] academy-video LOG_GROUP_CHECK: log group ... missing`, under 100 characters.

    SNS rejects subjects with line breaks or control characters, or of 100 characters or
    more (older documentation also asked for ASCII), and e-mail clients cut long ones
    anyway, so the text is folded to printable ASCII and shortened.
    """
    if n.event is Event.TEST:
        text = "[TEST] batch-health notification test (no action needed)"
    else:
        text = f"[{n.event}] {n.target} {n.check}: {headline(n)}"
    return clip(ascii_fold(text), SNS_SUBJECT_MAX_CHARS, marker="...")


def ascii_fold(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^\x20-\x7e]+", " ", re.sub(r"\s+", " ", folded)).strip()


def render_text(n: Notification) -> str:
    """The plain-text body for email and other people-facing SNS subscribers."""
    lines = [subject_line(n), ""]
    facts = [("Target", n.target), ("Region", n.region), ("Check", n.check), ("Status", n.status)]
    facts.append(("Event", n.event.value))
    if n.reason_class:
        facts.append(("Reason", n.reason_class))
    if n.jobs:
        facts.append(("Jobs", str(n.jobs)))
    if n.since is not None and n.event is not Event.TEST:
        runs = f" ({n.failures} failed run{'s' if n.failures != 1 else ''})" if n.failures else ""
        facts.append(("Failing since", f"{iso(n.since)}{runs}"))
        if n.event is Event.RESOLVED:
            facts.append(("Resolved at", iso(n.occurred_at)))
        if n.duration is not None and (
            n.event is Event.RESOLVED or n.duration.total_seconds() >= 60
        ):
            label = "Failed for" if n.event is Event.RESOLVED else "Failing for"
            facts.append((label, format_duration(n.duration)))
    width = max(len(k) for k, _ in facts) + 2
    lines += [f"{k + ':':<{width}}{v}" for k, v in facts if v]
    if n.detail:
        lines += ["", "Detail:", f"  {n.detail}"]
    if n.confirmation:
        lines += ["", "Confirmed by check:", f"  {n.confirmation}"]
    if n.hints:
        lines += ["", "Hints:"] + [f"  - {h}" for h in n.hints]
    if n.links:
        lines += ["", "Links:"] + [f"  - {link.label}: {link.url}" for link in n.links]
    if n.note:
        lines += ["", f"Note: {n.note}"]
    lines += ["", f"-- batch-health monitor, {iso(n.occurred_at)}"]
    return "\n".join(lines) + "\n"


def subject_line(n: Notification) -> str:
    if n.event is Event.FAIL:
        return f"FAIL: {n.check} is failing on {n.target}"
    if n.event is Event.REMINDER:
        return f"REMINDER: {n.check} is still failing on {n.target}"
    if n.event is Event.RESOLVED:
        return f"RESOLVED: {n.check} on {n.target} ({headline(n)})"
    return "TEST: batch-health notification test (no action needed)"


def message_attributes(n: Notification) -> dict[str, dict[str, str]]:
    """`target`, `check`, `status`, `event` for SNS subscription filter policies, and the
    JSON document for programs (the Slack notifier)."""
    values = {
        "target": n.target,
        "check": n.check,
        "status": n.status,
        "event": n.event.value,
        "reason_class": n.reason_class,
        DOCUMENT_ATTRIBUTE: json.dumps(n.to_document(), ensure_ascii=False),
    }
    return {k: {"DataType": "String", "StringValue": valid_text(v)} for k, v in values.items() if v}


def publish_size(request: dict[str, Any]) -> int:
    """What SNS counts against its message size: the message and every attribute's name,
    type and value, in UTF-8 bytes (the subject too, to be safe)."""
    attributes = request.get("MessageAttributes", {})
    return (
        utf8_size(request["Message"])
        + utf8_size(request.get("Subject", ""))
        + sum(
            utf8_size(name) + utf8_size(a["DataType"]) + utf8_size(a.get("StringValue", ""))
            for name, a in attributes.items()
        )
    )


def shrinking(n: Notification) -> Iterator[Notification]:
    """The notification, then shorter forms of it (details, hints and note clipped)."""
    yield n
    for chars, count in SHRINK_STEPS:
        yield replace(
            n,
            detail=clip(n.detail, chars),
            hints=tuple(clip(h, chars) for h in n.hints[:count]),
            note=clip(n.note, chars),
            confirmation=clip(n.confirmation, chars),
        )


def publish_request(n: Notification) -> dict[str, Any]:
    """Publish's Subject, Message and MessageAttributes for `n`, within SNS's limits: the
    whole request at most SNS_MESSAGE_MAX_BYTES, the subject under 100 characters."""
    request: dict[str, Any] = {}
    for form in shrinking(n):
        request = {
            "Subject": subject(form),
            "Message": valid_text(render_text(form)),
            "MessageAttributes": message_attributes(form),
        }
        if publish_size(request) <= SNS_MESSAGE_MAX_BYTES:
            return request
    raise ValueError(f"notification too large for SNS even when shortened: {subject(n)}")


# ---- console links ---------------------------------------------------------------------

_LOG_GROUP_KEYS = ("log_group", "logGroupName", "logGroup", "log_group_name")
_QUEUE_KEYS = ("jobQueueArn", "job_queue_arn", "job_queue", "jobQueue")


def console_base(region: str) -> str:
    if region.startswith("cn-"):
        return "https://console.amazonaws.cn"
    if region.startswith("us-gov-"):
        return "https://console.amazonaws-us-gov.com"
    return f"https://{region}.console.aws.amazon.com"


def log_group_url(region: str, name: str) -> str:
    # The CloudWatch console wants the name URL-encoded twice with `%` spelled `$`.
    encoded = quote(quote(name, safe="", errors="replace"), safe="").replace("%", "$")
    return (
        f"{console_base(region)}/cloudwatch/home?region={region}"
        f"#logsV2:log-groups/log-group/{encoded}"
    )


def job_queue_url(region: str, queue: str) -> str:
    where = f"queues/detail/{queue}" if queue.startswith("arn:") else "queues"
    return f"{console_base(region)}/batch/home?region={region}#{where}"


def job_url(region: str, job_id: str) -> str:
    return f"{console_base(region)}/batch/home?region={region}#jobs/detail/{quote(job_id)}"


def log_stream_url(region: str, group: str, stream: str) -> str:
    encoded = quote(quote(stream, safe="", errors="replace"), safe="").replace("%", "$")
    return f"{log_group_url(region, group)}/log-events/{encoded}"


def alarm_url(region: str, name: str) -> str:
    return f"{console_base(region)}/cloudwatch/home?region={region}#alarmsV2:alarm/{quote(name)}"


def _first_value(report: Report, keys: tuple[str, ...]) -> str:
    for key in keys:
        for result in report.checks:
            value = result.data.get(key)
            if isinstance(value, str) and value:
                return value
    return ""


def console_links(report: Report) -> tuple[Link, ...]:
    """Links to the target's log group and job queue, as far as the run learned them."""
    if not report.region:
        return ()
    links = []
    log_group = _first_value(report, _LOG_GROUP_KEYS)
    if log_group:
        links.append(Link(f"Log group {log_group}", log_group_url(report.region, log_group)))
    queue = _first_value(report, _QUEUE_KEYS)
    if queue:
        name = queue.rsplit("/", 1)[-1]
        links.append(Link(f"Job queue {name}", job_queue_url(report.region, queue)))
    return tuple(links)
