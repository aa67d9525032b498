"""The messages of incidents from Batch's events: what failed, how often, the newest job,
what to do, and what the owning check found."""

from __future__ import annotations

from datetime import datetime, timedelta

from batch_health.aws.sessions import AwsSessions
from batch_health.domain.reason_hints import HintContext, reason_hint
from batch_health.models import Status, SuiteReport, iso
from batch_health.notify.incidents import (
    DETAIL_MAX,
    HINT_MAX,
    NotifyOutcome,
    StateUnavailable,
    publish_notification,
)
from batch_health.notify.job_groups import (
    RUNNABLE_BACKLOG_CHECK,
    FamilyTally,
    JobGroup,
    JobIncident,
    parse_incident_key,
    plural,
    resolving_checks,
)
from batch_health.notify.job_incidents import JobIncidentStore
from batch_health.notify.messages import Event, Notification
from batch_health.text import clip


def _what(check: str) -> str:
    return "blocked in RUNNABLE" if check == RUNNABLE_BACKLOG_CHECK else "failed"


def incident_message(
    event: Event,
    group: JobGroup,
    incident: JobIncident,
    hint_context: HintContext,
    now: datetime,
    *,
    confirmation: str = "",
    family: FamilyTally | None = None,
) -> Notification:
    """FAIL (an incident opened) or REMINDER (it goes on) for the events of `group`;
    `family`: the newest job's children, when it is an array or multi-node job."""
    example = group.example
    since = incident.since or group.first_at
    newest = f"{example.job_name or example.job_id} ({example.job_id})"
    if example.at is not None:
        newest += f" at {iso(example.at)}"
    queue = example.queue.rsplit("/", 1)[-1]
    children = family.describe() if family else ""
    if family and children:
        kind = "Array job" if family.kind.value == "array" else "Multi-node job"
        children = f" {kind} {example.job_name or example.job_id}: {children}."
    what = f"{_what(group.check)}: {group.reason.describe(DETAIL_MAX // 2)}."
    hint = reason_hint(group.reason, hint_context)
    if group.never is not None:
        what, hint = group.never.describe(), group.never.fix
    detail = (
        f"{plural(incident.jobs, 'job')} {what}{children} Queue {queue}, "
        f"since {iso(since)}; newest: {newest}"
    )
    return Notification(
        event=event,
        target=group.target,
        region=group.region,
        check=group.check,
        status="FAIL",
        detail=clip(detail, DETAIL_MAX),
        occurred_at=now,
        hints=(clip(hint, HINT_MAX),),
        links=example.links(),
        since=since,
        reason_class=group.reason.kind.value,
        jobs=incident.jobs,
        confirmation=clip(confirmation, DETAIL_MAX),
    )


def resolved_message(
    incident: JobIncident, region: str, why: str, now: datetime
) -> Notification | None:
    """RESOLVED for an incident that ended; None when its key is not an incident's."""
    parsed = parse_incident_key(incident.pk)
    if parsed is None:
        return None
    target, check, kind = parsed
    window = f"from {iso(incident.since)}" if incident.since else ""
    if incident.newest_at is not None:
        window += f" to {iso(incident.newest_at)}"
    detail = f"{plural(incident.jobs, 'job')} {_what(check)} with {kind.value} {window}; {why}"
    example = incident.example
    return Notification(
        event=Event.RESOLVED,
        target=target,
        region=region,
        check=check,
        status="OK",
        detail=clip(" ".join(detail.split()), DETAIL_MAX),
        occurred_at=now,
        links=example.links() if example else (),
        since=incident.since,
        reason_class=kind.value,
        jobs=incident.jobs,
    )


def resolve_by_checks(
    suite: SuiteReport, store: JobIncidentStore, topic_arn: str, sessions: AwsSessions
) -> NotifyOutcome:
    """RESOLVED for the incidents from events whose scheduled check passed in `suite`."""
    outcome = NotifyOutcome(published=[], failures=[])
    passing = {r.target: {c.name for c in r.checks if c.status is Status.OK} for r in suite.reports}
    regions = {r.target: r.region for r in suite.reports}
    now = suite.finished_at
    try:
        open_keys = store.open_keys(list(passing))
        for target, keys in open_keys.items():
            for pk in keys:
                parsed = parse_incident_key(pk)
                passed = (
                    resolving_checks(parsed[1], parsed[2]) & passing[target] if parsed else set()
                )
                if not passed:
                    continue
                ended = store.resolve(pk, now, timedelta(0))
                why = f"{' and '.join(sorted(passed))} passed in the scheduled run"
                message = resolved_message(ended, regions[target], why, now) if ended else None
                if message is not None:
                    publish_notification(sessions, topic_arn, message, outcome)
    except StateUnavailable as exc:
        outcome.failures.append(f"incidents from events: {exc}")
    return outcome
