"""SMOKE_SUBMIT_CHECK's result from the smoke job's own events, not from a Lambda that waits.

With SMOKE_RESULT=event the monitor submits the smoke job and ends (the check is SKIP in
that run: "result pending"). Batch then says how the job fared: RUNNING (enough unless
smoke.require_succeeded), SUCCEEDED, FAILED (the reason classified), or "Job Queue
Blocked" (it cannot start; the next smoke run terminates it). That verdict is the check's
result: its CheckFailed metric, and its incident when SMOKE_SUBMIT_CHECK is critical.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from batch_health.config import Target
from batch_health.domain.batch_events import BatchEvent, EventKind
from batch_health.domain.reason_hints import reason_hint
from batch_health.models import CheckResult, Report, Status, SuiteReport, utc_now
from batch_health.notify.incidents import NotifyConfig, process_incidents
from batch_health.notify.messages import format_duration
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


def smoke_outcome(
    message_id: str, event: BatchEvent, target: Target, settings: BatchEventSettings, rt: Runtime
) -> SmokeOutcome:
    """Emit the check's metric and run its incident for one smoke-job event."""
    result = smoke_result(event, target)
    if result is None:
        return SmokeOutcome(message_id, target.name, None)
    emit_check_metrics(target.name, result, namespace=settings.metrics_namespace)
    now = utc_now()
    suite = SuiteReport([Report(target.name, event.region, [result], [], now, now)], now, now)
    config = NotifyConfig(
        topic_arn=settings.alert_topic_arn,
        table_name=settings.incident_table_name,
        critical_checks=settings.critical_checks,
        failure_threshold=settings.failure_threshold,
        remind_after_minutes=settings.remind_after_minutes,
    )
    outcome = process_incidents(suite, config, rt.sessions, now=now)
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
