"""What the Batch events function does with one batch of SQS messages.

EventBridge puts Batch's "Job State Change" (FAILED, SUCCEEDED, RUNNABLE; RUNNING for
smoke jobs) and "Job Queue Blocked" events of the monitored queues on an SQS queue; Lambda
hands them over in batches (at most MaximumConcurrency at once). For each batch:

1. Read each message (a malformed one is reported as failed: SQS retries it, then moves
   it to the dead-letter queue; nothing is dropped).
2. Route each event to its target (account, region and queue; the job definition decides
   between targets sharing a queue). Events of queues no target names are left out.
3. Fold array and multi-node jobs into their parents: a failed child and the parent's own
   FAILED event are one job. The first of a family's events to be read (in this batch or an
   earlier one, in any order) claims the family's class in the incident table: its failed
   children's most common class, else the parent's own. Every later event of the family,
   whatever its own reason, is counted under that class, so one incident results; each
   failed child's reason is counted on the family (batch_health.notify.job_groups). A
   child's success or start is left to its parent's event.
4. Judge each waiting job (entered RUNNABLE, or blocking its queue) against its queue's
   compute environments (batch_health.runtime.placement_events): one that can never run
   is filed under its constraint; any other arrival needs nothing.
5. Group failures and blocks by (target, check, reason class); count each group exactly
   (batch_health.notify.job_incidents); open the incident (FAIL) the first time, with the
   check that owns the cause run for that target at once, or remind when due.
6. A job that succeeded resolves its target's incidents whose newest failure is older than
   the quiet period. A smoke job's own event gives SMOKE_SUBMIT_CHECK its result.
7. Emit `JobFailures` (and `JobsBlocked`) by Target and ReasonClass.

Messages whose group could not be counted or announced are returned as
`batchItemFailures`: SQS delivers them again, and the count stays exact because counted
events are remembered.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from batch_health.config import SuiteConfig, Target
from batch_health.domain.batch_events import (
    BatchEvent,
    EventKind,
    family_class,
)
from batch_health.domain.placement_report import CANCEL_PREFIX, constraint_class
from batch_health.domain.reason_hints import OWNING_CHECK, HintContext
from batch_health.domain.status_reasons import ClassifiedReason, ReasonClass
from batch_health.models import utc_now
from batch_health.notify.incidents import NotifyOutcome, StateUnavailable, publish_notification
from batch_health.notify.job_groups import (
    JOB_FAILURES_CHECK,
    RUNNABLE_BACKLOG_CHECK,
    FamilyNote,
    FamilyTally,
    JobExample,
    JobGroup,
    NeverPlaced,
    key_constraint,
    quote_reason,
)
from batch_health.notify.job_incidents import JobIncidentStore
from batch_health.notify.job_messages import incident_message, resolved_message
from batch_health.notify.messages import Event
from batch_health.runtime.confirmation import Confirmer
from batch_health.runtime.event_routing import Received, TargetRouter, home_account, read_messages
from batch_health.runtime.metrics import emit_job_metric
from batch_health.runtime.monitor import Runtime, known_target_roles, load_targets
from batch_health.runtime.observability import logger
from batch_health.runtime.placement_events import (
    canceller,
    judge_waiting,
    judged_here,
    read_facts,
    waiting_id,
)
from batch_health.runtime.settings import BatchEventSettings
from batch_health.runtime.smoke_events import SmokeOutcome, smoke_outcome


def example_of(event: BatchEvent, reason: ClassifiedReason, target: Target) -> JobExample:
    """The job an incident shows: a child's parent (it is what was counted), with the
    child's own log stream and reason."""
    d = event.detail
    family = event.family if event.kind in (EventKind.FAILED, EventKind.RUNNABLE) else None
    return JobExample(
        job_id=family.parent_id if family else d.jobId,
        job_name=d.jobName,
        region=event.region,
        queue=d.jobQueue,
        log_group=event.log_group() or target.log_group or "",
        log_stream=event.log_stream(),
        reason=quote_reason(reason),
        at=event.occurred_at,
    )


@dataclass
class Sorted:
    """One batch's events by what they call for."""

    groups: dict[str, JobGroup] = field(default_factory=dict)
    contexts: dict[str, HintContext] = field(default_factory=dict)
    successes: dict[str, tuple[datetime, BatchEvent]] = field(default_factory=dict)
    smoke: list[tuple[Received, Target]] = field(default_factory=list)
    waiting: list[tuple[Received, Target]] = field(default_factory=list)  # judged on arrival
    # A family's key -> its failed jobs' events, filed once the family's class is known.
    families: dict[str, list[tuple[Received, Target]]] = field(default_factory=dict)
    ignored: int = 0

    def add(self, item: Received, target: Target) -> None:
        event = item.event
        if event.is_smoke and event.kind is not EventKind.RUNNABLE:
            self.smoke.append((item, target))
            return
        if event.waits and not event.is_smoke and judged_here(event):
            self.waiting.append((item, target))
            return
        family = event.family
        if (family and family.is_child and event.kind is not EventKind.FAILED) or (
            event.detail.statusReason.startswith(CANCEL_PREFIX)
        ):
            # The parent's own event says how the job ended; a job cancelled as one that
            # can never run is in the incident that cancelled it.
            self.ignored += 1
            return
        if event.kind is EventKind.SUCCEEDED:
            newest = self.successes.get(target.name)
            if newest is None or event.occurred_at > newest[0]:
                self.successes[target.name] = (event.occurred_at, event)
            return
        if event.kind not in (EventKind.FAILED, EventKind.BLOCKED):
            self.ignored += 1
            return
        if family and event.kind is EventKind.FAILED:
            self.families.setdefault(event.family_key, []).append((item, target))
            return
        self.file(item, target)

    def file(
        self,
        item: Received,
        target: Target,
        kind: ReasonClass | None = None,
        never: NeverPlaced | None = None,
    ) -> None:
        """Into its group: a family's event under the family's class `kind`; a job that
        can never run under its constraint's (`never`), Batch's words kept."""
        event = item.event
        check = RUNNABLE_BACKLOG_CHECK if event.waits else JOB_FAILURES_CHECK
        reason = event.reason()
        filed = reason if kind is None or reason.kind is kind else ClassifiedReason(kind, "")
        if never is not None and kind is not None:
            filed = replace(reason, kind=kind)
        example = example_of(event, reason, target)
        group = JobGroup(target.name, event.region, check, filed, example, event.occurred_at)
        group.never = never
        group = self.groups.setdefault(group.pk, group)
        if never is not None and group.never is not never:
            group.never = group.never.merged(never) if group.never else never
        family = event.family if kind is not None else None
        note = None
        if family is not None:
            note = (event.family_key, FamilyNote(family.kind, family.size, family.failed_children))
            if family.is_child:
                group.add_child(event.child_key, event.family_key, reason.kind)
        group.add(event.key, item.message_id, reason, example, note)
        if group.example is example:
            names = event.hint_context(target.job_definition, target.log_group or "")
            self.contexts[group.pk] = names


class EventRun:
    """One batch: count, announce, resolve; which messages must come again."""

    def __init__(
        self,
        settings: BatchEventSettings,
        rt: Runtime,
        confirm: Confirmer | None,
        now: datetime,
    ) -> None:
        assert settings.incident_table_name and settings.alert_topic_arn
        self.settings = settings
        self.rt = rt
        self.confirm = confirm
        self.now = now
        self.topic = settings.alert_topic_arn
        self.store = JobIncidentStore(rt.sessions.client("dynamodb"), settings.incident_table_name)
        self.outcome = NotifyOutcome(published=[], failures=[])
        self.retry: set[str] = set()
        self.counted: dict[str, int] = {}

    @property
    def remind_after(self) -> timedelta | None:
        minutes = self.settings.remind_after_minutes
        return timedelta(minutes=minutes) if minutes else None

    def place_families(self, batch: Sorted) -> None:
        """File each family's events under the family's class (claimed once, see above)."""
        if not batch.families:
            return
        proposals = {
            fk: family_class([i.event for i, _ in items]) for fk, items in batch.families.items()
        }
        try:
            classes = self.store.claim_families(proposals, self.now)
        except StateUnavailable as exc:
            ids = {item.message_id for items in batch.families.values() for item, _ in items}
            self._lost(ids, str(exc))
            return
        for fk, items in batch.families.items():
            for item, target in items:
                batch.file(item, target, classes[fk])

    def place_waiting(self, batch: Sorted) -> None:
        """Judge the batch's waiting jobs: those that can never run are filed under their
        constraint; other blocked jobs under Batch's reason; other arrivals need nothing."""
        if not batch.waiting:
            return
        scope = self.settings.scope(known_target_roles(self.settings, self.rt))
        cancel = canceller(self.rt.sessions) if self.settings.cancel_unplaceable else None
        try:
            judged = judge_waiting(
                batch.waiting,
                self.rt.placement_facts,
                lambda targets: read_facts(targets, self.rt.sessions, scope),
                cancel=cancel,
            )
        except Exception as exc:  # the analysis is extra: Batch's blocked events still count
            logger.exception("waiting jobs not judged")
            self.outcome.failures.append(f"placement analysis: {type(exc).__name__}: {exc}")
            judged = None
        for item, target in batch.waiting:
            group = judged.never.get(waiting_id(item.event)) if judged else None
            if judged is not None and group is not None:
                kind = constraint_class(group.placement.constraint)
                batch.file(item, target, kind, judged.notes[id(group)])
            elif item.event.kind is EventKind.BLOCKED:
                batch.file(item, target)
            else:
                batch.ignored += 1

    def _family(self, group: JobGroup) -> FamilyTally | None:
        if not group.example_family:
            return None
        try:
            return self.store.load_family(group.example_family)
        except StateUnavailable as exc:  # the message goes out without the children's tally
            self.outcome.failures.append(str(exc))
            return None

    def group(self, group: JobGroup, context: HintContext) -> None:
        try:
            # The newest failure first: a success being resolved meanwhile sees it, and
            # does not end the incident these jobs belong to.
            self.store.note_newest(group)
            self.store.note_families(group)
            self.counted[group.pk] = self.store.count(group, self.now)
            event, before, after = self.store.open_or_remind(group, self.now, self.remind_after)
        except StateUnavailable as exc:
            self._lost(group.message_ids, str(exc))
            return
        if event is None:
            return
        kind = Event.FAIL if event == "FAIL" else Event.REMINDER
        confirmation = self._confirmation(group) if kind is Event.FAIL else ""
        message = incident_message(
            kind,
            group,
            after,
            context,
            self.now,
            confirmation=confirmation,
            family=self._family(group),
        )
        if not publish_notification(self.rt.sessions, self.topic, message, self.outcome):
            try:
                self.store.revert(before, after)
            except StateUnavailable as exc:  # its claim runs out: the retry sends it
                self.outcome.failures.append(str(exc))
            self.retry |= group.message_ids
            return
        try:
            self.store.sent(after)
        except StateUnavailable as exc:  # sent, but once its claim runs out it may go again
            self.outcome.failures.append(str(exc))

    def _confirmation(self, group: JobGroup) -> str:
        owner = OWNING_CHECK.get(group.reason.kind)
        # A job that can never run was judged from facts read just now: nothing to confirm.
        if owner is None or self.confirm is None or group.never is not None:
            return ""
        try:
            return self.confirm(group.target, owner)
        except Exception as exc:  # a confirmation is extra: the incident goes out without it
            logger.exception("confirmation failed")
            return f"{owner} could not be run for {group.target}: {type(exc).__name__}: {exc}"

    def resolve_succeeded(self, target: str, at: datetime, event: BatchEvent) -> None:
        quiet = timedelta(minutes=self.settings.resolve_quiet_minutes)
        d = event.detail
        why = f"job {d.jobName or d.jobId} ({d.jobId}) succeeded at {at:%Y-%m-%dT%H:%M:%SZ}"
        try:
            keys = self.store.open_keys([target]).get(target, [])
            # Another job's success says nothing of a job that can never run: that incident
            # ends when the scheduled RUNNABLE_BACKLOG_CHECK finds no such job.
            for pk in (k for k in keys if not key_constraint(k)):
                ended = self.store.resolve(pk, at, quiet)
                if ended is not None:
                    message = resolved_message(ended, event.region, why, self.now)
                    if message is not None:
                        publish_notification(self.rt.sessions, self.topic, message, self.outcome)
        except StateUnavailable as exc:
            # Not retried: the next success, or the scheduled check, resolves it.
            self.outcome.failures.append(str(exc))

    def _lost(self, message_ids: set[str], problem: str) -> None:
        logger.warning("events not counted; SQS delivers them again", extra={"error": problem})
        self.outcome.failures.append(problem)
        self.retry |= message_ids


def handle(
    event: Any,
    context: Any,
    settings: BatchEventSettings,
    *,
    rt: Runtime,
    confirm: Confirmer | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """One SQS batch; returns the partial batch response (`batchItemFailures`)."""
    received, bad = read_messages(event)
    config: SuiteConfig = load_targets(settings, rt)
    router = TargetRouter(config.targets, settings.region or "", home_account(context))
    batch = Sorted()
    for item in received:
        target = router.route(item.event)
        if target is None:
            batch.ignored += 1
        else:
            batch.add(item, target)
    run = EventRun(settings, rt, confirm, now or utc_now())
    run.place_families(batch)
    run.place_waiting(batch)
    for pk, group in batch.groups.items():
        run.group(group, batch.contexts[pk])
    for name, (at, success) in batch.successes.items():
        run.resolve_succeeded(name, at, success)
    smoke: list[SmokeOutcome] = [
        smoke_outcome(item.message_id, item.event, target, settings, rt)
        for item, target in batch.smoke
    ]
    retry = run.retry | set(bad) | {o.message_id for o in smoke if o.retry}
    for group in batch.groups.values():
        if not group.message_ids & retry:
            emit_job_metric(
                group.target,
                group.reason.kind.name,
                run.counted.get(group.pk, 0),
                blocked=group.check == RUNNABLE_BACKLOG_CHECK,
                namespace=settings.metrics_namespace,
            )
    logger.info(
        "events handled",
        extra={
            "received": len(received) + len(bad),
            "unreadable": len(bad),
            "not_monitored": batch.ignored,
            "groups": {pk: run.counted.get(pk, 0) for pk in batch.groups},
            "published": run.outcome.published,
            "failures": run.outcome.failures,
            "retry": len(retry),
        },
    )
    return {"batchItemFailures": [{"itemIdentifier": m} for m in sorted(retry)]}
