"""What the monitor function does with one invocation; the handler only wires it up.

1. Validate the event (nothing runs or is sent for a bad one).
2. Targets: the single target from the function's settings, or the JSON document in the
   TARGETS_PARAMETER SSM parameter (Powertools Parameters, cached across invocations).
3. Run the suite within the invocation's remaining time minus a safety margin.
4. Log each target's results, emit the metrics, notify for the critical checks.
5. Return the JSON report.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from botocore.exceptions import BotoCoreError

from batch_health.aws.errors import classify
from batch_health.aws.sessions import AwsSessions
from batch_health.aws.targets_store import read_targets
from batch_health.checks import RunOptions
from batch_health.config import SuiteConfig
from batch_health.engine import run_suite
from batch_health.limits import LAMBDA_RESPONSE_MAX_BYTES, LOGGED_DETAIL_MAX_CHARS
from batch_health.models import SuiteReport, utc_now
from batch_health.runtime.event import InvalidEventError, MonitorEvent, parse_event
from batch_health.runtime.lease import LeaseOutcome, LeaseState, RunLease, lease_name
from batch_health.runtime.metric_state import MetricState
from batch_health.runtime.metrics import (
    emit_suite_metrics,
    emit_suite_run,
    record_notification_failures,
)
from batch_health.runtime.observability import logger, metrics, tracer
from batch_health.runtime.placement_events import FactsCache
from batch_health.runtime.settings import MonitorSettings
from batch_health.text import clip

# (suite, settings, sessions) -> one line per failed notification
Notifier = Callable[[SuiteReport, MonitorSettings, AwsSessions], list[str]]


@dataclass
class Runtime:
    """What outlives one invocation in a warm function: AWS clients (and the assumed-role
    credentials they cache) and the Parameters provider's cache."""

    sessions: AwsSessions = field(default_factory=AwsSessions)
    # The events function's queue facts for judging waiting jobs on arrival.
    placement_facts: FactsCache = field(default_factory=FactsCache)
    _ssm_provider: Any = None

    def ssm_provider(self) -> Any:
        if self._ssm_provider is None:
            # Imported here: only deployments with TARGETS_PARAMETER pay for it.
            from aws_lambda_powertools.utilities.parameters import SSMProvider

            self._ssm_provider = SSMProvider(boto3_client=self.sessions.client("ssm"))
        return self._ssm_provider


_runtime: Runtime | None = None


def runtime() -> Runtime:
    """The process-wide runtime, created on first use (never at import)."""
    global _runtime
    if _runtime is None:
        _runtime = Runtime()
    return _runtime


def reset_runtime() -> None:
    """Forget clients and cached parameters (a new process, as far as this module knows)."""
    global _runtime
    _runtime = None


def load_targets(settings: MonitorSettings, rt: Runtime) -> SuiteConfig:
    if settings.targets_parameter is None:
        return SuiteConfig(targets=[settings.single_target()])
    return read_targets(
        settings.targets_parameter, rt.ssm_provider(), settings.targets_max_age_seconds
    )


def known_target_roles(settings: MonitorSettings, rt: Runtime) -> frozenset[str] | None:
    """The roles the deployment may assume (TargetRoleArns, from the parameter the stack
    writes it to); None when not known: any role is tried, and the role decides."""
    name = settings.target_roles_parameter
    if name is None:
        return None
    if not name:
        return frozenset()
    try:
        value = rt.ssm_provider().get(name, max_age=settings.targets_max_age_seconds)
    except Exception as exc:  # GetParameterError, wrapping the AWS error
        logger.warning("target roles not read", extra={"parameter": name, "error": str(exc)})
        return None
    return frozenset(r.strip() for r in str(value).split(",") if r.strip())


def select_targets(config: SuiteConfig, names: list[str] | None) -> SuiteConfig:
    if names is None:
        return config
    known = [t.name for t in config.targets]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise InvalidEventError(
            f"invalid event: targets: unknown target {', '.join(unknown)}; "
            f"configured targets: {', '.join(known)}"
        )
    return SuiteConfig(targets=[t for t in config.targets if t.name in names])


# A lease outlives the run by this much at most: the function's own limit, plus slack.
LEASE_SLACK = timedelta(seconds=30)
MAX_FUNCTION_TIME = timedelta(minutes=15)


@contextlib.contextmanager
def run_lease(
    name: str | None, settings: MonitorSettings, sessions: AwsSessions, context: Any
) -> Iterator[LeaseOutcome]:
    """Hold the run's lease (if it takes one) for the length of the `with` block."""
    if name is None or not settings.incident_table_name:
        yield LeaseOutcome(LeaseState.ACQUIRED)
        return
    holder = str(getattr(context, "aws_request_id", "") or "local")
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    lifetime = timedelta(milliseconds=remaining()) if remaining else MAX_FUNCTION_TIME
    try:
        lease = RunLease(sessions.client("dynamodb"), settings.incident_table_name, name, holder)
    except BotoCoreError as exc:
        yield LeaseOutcome(LeaseState.UNAVAILABLE, reason=classify(exc).summary)
        return
    outcome = lease.acquire(utc_now(), lifetime + LEASE_SLACK)
    try:
        yield outcome
    finally:
        if outcome.state is LeaseState.ACQUIRED:
            problem = lease.release()
            if problem:
                logger.warning("lease not released", extra={"lease": name, "error": problem})


def time_budget_s(context: Any, margin_ms: int) -> float | None:
    """Seconds the suite may use: what Lambda has left for us, minus a safety margin."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is None:
        return None
    return max(0.0, (remaining() - margin_ms) / 1000)


def send_notifications(
    suite: SuiteReport, settings: MonitorSettings, sessions: AwsSessions
) -> list[str]:
    """SNS (and, through it, Slack) for the critical checks, once per incident."""
    from batch_health.notify.incidents import process_incidents

    outcome = process_incidents(suite, settings.notify_config(), sessions)
    if settings.incident_table_name and settings.alert_topic_arn:
        # Incidents from Batch's events end when their scheduled check passes.
        from batch_health.notify.job_incidents import JobIncidentStore
        from batch_health.notify.job_messages import resolve_by_checks

        try:
            store = JobIncidentStore(sessions.client("dynamodb"), settings.incident_table_name)
        except BotoCoreError as exc:
            outcome.failures.append(f"incidents from events: {classify(exc).summary}")
        else:
            resolved = resolve_by_checks(suite, store, settings.alert_topic_arn, sessions)
            outcome.published += resolved.published
            outcome.failures += resolved.failures
    if outcome.published:
        logger.info("notifications sent", extra={"published": outcome.published})
    if outcome.state_errors:
        logger.warning("incident state unavailable", extra={"state_errors": outcome.state_errors})
    return list(outcome.failures)


def notify(
    suite: SuiteReport, settings: MonitorSettings, sessions: AwsSessions, notifier: Notifier
) -> int:
    """Run the notifier; returns the number of failures (each logged)."""
    try:
        failures = notifier(suite, settings, sessions)
    except Exception as exc:
        # A bug in a channel must not lose the run's report and metrics; it is counted
        # (NotificationFailed alarm) and logged with its traceback.
        logger.exception("notifier crashed")
        failures = [f"notifier crashed: {type(exc).__name__}: {exc}"]
    for line in failures:
        logger.error("notification failed", extra={"failure": line})
    return len(failures)


def log_results(suite: SuiteReport, event: MonitorEvent) -> None:
    for report in suite.reports:
        logger.info(
            "target checked",
            extra={
                "target": report.target,
                "region": report.region,
                "overall": report.overall.value,
                "trigger": event.trigger,
                "aws_calls": suite.stats.get("aws_calls"),
                "checks": [
                    {
                        "name": c.name,
                        "status": c.status.value,
                        "duration_ms": c.duration_ms,
                        # A log event is cut at 256 KB, which would break the JSON line.
                        "detail": clip(c.detail, LOGGED_DETAIL_MAX_CHARS),
                    }
                    for c in report.checks
                ],
            },
        )


def handle(
    event: Any,
    context: Any,
    settings: MonitorSettings,
    *,
    rt: Runtime | None = None,
    notifier: Notifier = send_notifications,
) -> dict[str, Any]:
    """One invocation: validate, load targets, run, log, emit metrics, notify, report."""
    parsed = parse_event(event)
    request = parsed.request
    rt = rt or runtime()
    config = select_targets(load_targets(settings, rt), request.targets)
    options = RunOptions(
        checks=request.checks,
        allow_test_submit=request.allow_test_submit,
        time_budget_s=time_budget_s(context, settings.time_budget_margin_ms),
        concurrency=settings.check_concurrency,
        environ=settings.source_environ,
        scope=settings.scope(known_target_roles(settings, rt)),
        smoke_result=settings.smoke_result,
        cancel_unplaceable=settings.cancel_unplaceable,
        queue_depth=settings.queue_depth_gauges,
    )
    logger.info(
        "run starting",
        extra={
            "trigger": parsed.trigger,
            "scheduled_time": parsed.scheduled_time,
            "targets": [t.name for t in config.targets],
            "checks": request.checks or "all",
            "allow_test_submit": request.allow_test_submit,
            "time_budget_s": options.time_budget_s,
        },
    )
    # The heartbeat, from every invocation, run or skipped: the monitor is alive even while
    # a run outlasts its schedule's periods (the runs meanwhile are skipped by the lease).
    emit_suite_run(settings.metrics_namespace)
    lease = lease_name(parsed.trigger, request.allow_test_submit)
    with run_lease(lease, settings, rt.sessions, context) as held:
        if held.state is LeaseState.HELD:
            # That run checks the same targets; two would submit two smoke jobs and
            # double every API call. Only the heartbeat is emitted: the holder's run emits.
            message = held.describe(lease or "")
            logger.info("run skipped", extra={"reason": message})
            return {"skipped": True, "reason": f"another run is in progress: {message}"}
        if held.state is LeaseState.UNAVAILABLE:
            logger.warning("run lease unavailable", extra={"reason": held.describe(lease or "")})
        return run_and_report(config, options, parsed, settings, rt, notifier)


def run_and_report(
    config: SuiteConfig,
    options: RunOptions,
    parsed: MonitorEvent,
    settings: MonitorSettings,
    rt: Runtime,
    notifier: Notifier,
) -> dict[str, Any]:
    """Run the suite, log it, emit its metrics, notify; the JSON report."""
    before = rt.sessions.stats.snapshot()  # the sessions outlive runs; count this one
    suite = run_suite(config, options, rt.sessions)
    suite.stats = {k: v - before.get(k, 0) for k, v in suite.stats.items()}
    log_results(suite, parsed)
    tracer.put_annotation("overall", suite.overall.value)
    metrics.namespace = settings.metrics_namespace
    # A healthy check sends nothing: which checks failed last run decides what is sent.
    state = MetricState.load(
        settings.incident_table_name, rt.sessions, [r.target for r in suite.reports]
    )
    emit_suite_metrics(
        suite,
        namespace=settings.metrics_namespace,
        publish_durations=settings.publish_duration_metrics,
        previous=state.previous,
    )
    state.save(suite)
    if parsed.request.notify and settings.alert_topic_arn:
        if settings.alert_channels == "none":
            logger.warning(
                "alerts reach no one: neither AlertEmail nor SlackWebhookSecretArn is set, "
                "so only endpoints subscribed to the topic by hand receive them",
                extra={"alert_topic_arn": settings.alert_topic_arn},
            )
        record_notification_failures(metrics, notify(suite, settings, rt.sessions, notifier))
    elif parsed.request.notify:
        logger.info("notifications off: no ALERT_TOPIC_ARN configured")
    return fit_response(suite.to_dict())


# Shorter and shorter forms of a report: (characters per detail and hint, hints kept).
RESPONSE_SHRINK_STEPS = ((LOGGED_DETAIL_MAX_CHARS, 5), (500, 2), (200, 1), (100, 0))


def fit_response(document: dict[str, Any]) -> dict[str, Any]:
    """The report as the invocation's response, within Lambda's 6 MB: with very many
    targets, the checks' `data` (the facts behind each detail, also in the log) goes
    first, then details and hints are shortened."""

    def size(doc: dict[str, Any]) -> int:
        return len(json.dumps(doc, default=str).encode())

    if size(document) <= LAMBDA_RESPONSE_MAX_BYTES:
        return document
    for chars, hints in RESPONSE_SHRINK_STEPS:
        shorter = json.loads(json.dumps(document, default=str))
        for report in shorter.get("reports") or [shorter]:
            for check in report.get("checks", []):
                check["data"] = {}
                check["detail"] = clip(check["detail"], chars)
                check["hints"] = [clip(h, chars) for h in check["hints"][:hints]]
            report["root_cause_hints"] = [
                clip(h, chars) for h in report.get("root_cause_hints", [])[: hints * 2]
            ]
        shorter["truncated"] = (
            "check data left out and details shortened to fit Lambda's 6 MB response; "
            "the function's log has every check in full"
        )
        if size(shorter) <= LAMBDA_RESPONSE_MAX_BYTES:
            return shorter
    return shorter
