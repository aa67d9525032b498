"""SMOKE_SUBMIT_CHECK's result from the smoke job's own events, not from a Lambda that waits.

With SMOKE_RESULT=event the monitor submits the smoke job and ends (the check is SKIP in
that run: "result pending"). Batch then says how the job fared: RUNNING (enough unless
smoke.require_succeeded), SUCCEEDED, FAILED (the reason classified), or "Job Queue
Blocked" (it cannot start; the next smoke run terminates it). That verdict is the check's
result: its CheckFailed metric, and its incident when SMOKE_SUBMIT_CHECK is critical.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from batch_health.config import Target
from batch_health.domain.batch_events import BatchEvent, EventKind
from batch_health.domain.reason_hints import reason_hint
from batch_health.models import CheckResult, Report, Status, SuiteReport, utc_now
from batch_health.notify.incidents import process_incidents
from batch_health.notify.messages import format_duration
from batch_health.runtime.metric_state import MetricState, MetricStateUnavailable
from batch_health.runtime.metrics import emit_check_metrics
from batch_health.runtime.monitor import Runtime
from batch_health.runtime.observability import logger
from batch_health.runtime.settings import BatchEventSettings

SMOKE_CHECK = "SMOKE_SUBMIT_CHECK"


@dataclass(frozen=True)
class SmokeOutcome:
    message_id: str
    target: str
    result: CheckResult | None  # None: this event says nothing about the check
    retry: bool = False  # its notification was not sent: deliver the event again


def smoke_result(event: BatchEvent, target: Target) -> CheckResult | None:
    """The check's verdict from one smoke-job event, or None if it gives none."""
    d = event.detail
    job = f"smoke job {d.jobName} ({d.jobId})"
    after = ""
    if d.createdAt:
        waited = event.occurred_at.timestamp() - d.createdAt / 1000
        after = f" {format_duration(timedelta(seconds=max(0.0, waited)))} after submit"
    facts = {"job_id": d.jobId, "job_name": d.jobName, "status": d.status, "source": "event"}
    kind = event.kind
    if kind is EventKind.SUCCEEDED or (
        kind is EventKind.STARTED and not target.smoke.require_succeeded
    ):
        detail = f"{job} reached {d.status}{after} on {event.queue_name}"
        return CheckResult(SMOKE_CHECK, Status.OK, detail, data=facts)
    if kind not in (EventKind.FAILED, EventKind.BLOCKED):
        return None
    reason = event.reason()
    hints = [reason_hint(reason, event.hint_context(target.job_definition, target.log_group or ""))]
    facts.update(reason_class=reason.kind.value, statusReason=d.statusReason)
    if kind is EventKind.FAILED:
        detail = f"{job} FAILED{after}: {reason.describe()}"
    else:
        detail = (
            f"{job} cannot start, its queue {event.queue_name} is blocked: {reason.describe()}; "
            "the next smoke run terminates it"
        )
    return CheckResult(SMOKE_CHECK, Status.FAIL, detail, hints, data=facts)


def follow_metric_state(
    target: str, result: CheckResult, settings: BatchEventSettings, rt: Runtime, now: datetime
) -> None:
    """The check's `CheckFailed` as the monitor sends it (while failing, and once on
    recovery), with the target's failing-checks state kept where the monitor keeps it."""
    state = MetricState.load(settings.incident_table_name, rt.sessions, [target])
    previous = None if state.previous is None else state.previous.get(target, frozenset())
    was_failing = None if previous is None else SMOKE_CHECK in previous
    emit_check_metrics(
        target, result, namespace=settings.metrics_namespace, was_failing=was_failing
    )
    if state.store is None or was_failing is None:
        return
    failing = result.status is Status.FAIL
    if failing == was_failing:
        return
    changed = {SMOKE_CHECK}
    try:
        if failing:
            state.store.change(target, add=changed, now=now)
        else:
            state.store.change(target, remove=changed, now=now)
    except MetricStateUnavailable as exc:
        logger.warning("metric state not saved", extra={"target": target, "error": str(exc)})


def smoke_outcome(
    message_id: str, event: BatchEvent, target: Target, settings: BatchEventSettings, rt: Runtime
) -> SmokeOutcome:
    """Emit the check's metric and run its incident for one smoke-job event."""
    result = smoke_result(event, target)
    if result is None:
        return SmokeOutcome(message_id, target.name, None)
    now = utc_now()
    follow_metric_state(target.name, result, settings, rt, now)
    suite = SuiteReport([Report(target.name, event.region, [result], [], now, now)], now, now)
    outcome = process_incidents(suite, settings.notify_config(), rt.sessions, now=now)
    logger.info(
        "smoke result from event",
        extra={
            "target": target.name,
            "status": result.status.value,
            "detail": result.detail,
            "published": outcome.published,
            "failures": outcome.failures,
        },
    )
    return SmokeOutcome(message_id, target.name, result, retry=bool(outcome.failures))
