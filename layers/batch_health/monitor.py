"""What the monitor function does with one invocation; the handler only wires it up.

1. Validate the event (nothing runs or is sent for a bad one).
2. Targets: the single target from the function's settings, or the JSON document in the
   TARGETS_PARAMETER SSM parameter (Powertools Parameters, cached across invocations).
3. Run the suite within the invocation's remaining time minus a safety margin.
4. Log each target's results, emit the metrics, notify for the critical checks.
5. Return the JSON report.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from batch_health.aws import AwsSessions
from batch_health.checks import RunOptions
from batch_health.config import ConfigError, SuiteConfig, parse_suite_config
from batch_health.engine import run_suite
from batch_health.errors import classify
from batch_health.lambda_event import InvalidEventError, MonitorEvent, parse_event
from batch_health.metrics import emit_suite_metrics, record_notification_failures
from batch_health.models import SuiteReport
from batch_health.observability import logger, metrics, tracer
from batch_health.settings import MonitorSettings

# (suite, settings, sessions) -> one line per failed notification
Notifier = Callable[[SuiteReport, MonitorSettings, AwsSessions], list[str]]


class TargetsParameterError(ConfigError):
    """The TARGETS_PARAMETER document cannot be read or is invalid."""


@dataclass
class Runtime:
    """What outlives one invocation in a warm function: AWS clients (and the assumed-role
    credentials they cache) and the Parameters provider's cache."""

    sessions: AwsSessions = field(default_factory=AwsSessions)
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
    return read_targets_parameter(
        settings.targets_parameter, rt.ssm_provider(), settings.targets_max_age_seconds
    )


def read_targets_parameter(name: str, provider: Any, max_age: int) -> SuiteConfig:
    """The `{"targets": [...]}` document (config-file schema) stored in an SSM parameter."""
    from aws_lambda_powertools.utilities.parameters.exceptions import (
        GetParameterError,
        TransformParameterError,
    )

    where = f"TARGETS_PARAMETER {name}"
    try:
        document = provider.get(name, max_age=max_age, transform="json", decrypt=True)
    except TransformParameterError as exc:
        raise TargetsParameterError(f"{where}: not a JSON document: {exc}") from None
    except GetParameterError as exc:
        cause = exc.__context__
        if isinstance(cause, ClientError | BotoCoreError):
            failure = classify(cause)
            hint = failure.hint(action="ssm:GetParameter", resource=name)
            detail = f"{failure.summary.rstrip('.')}. {hint}"
        else:
            detail = str(exc)
        raise TargetsParameterError(f"{where}: cannot read it: {detail}") from None
    return parse_suite_config(document, source=where)


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
    from batch_health.notify import NotifyConfig, process_incidents

    config = NotifyConfig(
        topic_arn=settings.alert_topic_arn,
        table_name=settings.incident_table_name,
        critical_checks=settings.critical_checks,
        failure_threshold=settings.failure_threshold,
        remind_after_minutes=settings.remind_after_minutes,
    )
    outcome = process_incidents(suite, config, sessions)
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
                        "detail": c.detail,
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
    before = rt.sessions.stats.snapshot()  # the sessions outlive runs; count this one
    suite = run_suite(config, options, rt.sessions)
    suite.stats = {k: v - before.get(k, 0) for k, v in suite.stats.items()}
    log_results(suite, parsed)
    tracer.put_annotation("overall", suite.overall.value)
    metrics.namespace = settings.metrics_namespace
    emit_suite_metrics(
        suite,
        namespace=settings.metrics_namespace,
        publish_durations=settings.publish_duration_metrics,
    )
    if request.notify and settings.alert_topic_arn:
        record_notification_failures(metrics, notify(suite, settings, rt.sessions, notifier))
    elif request.notify:
        logger.info("notifications off: no ALERT_TOPIC_ARN configured")
    return suite.to_dict()
