"""CloudWatch metrics for a suite run, as EMF lines on stdout (Powertools `single_metric`).

Per check: `CheckFailed` (1 FAIL, 0 OK/WARN, nothing on SKIP: a skipped check did not
look, so it neither fails nor clears an alarm), dimensions Target and Check; and, only
when asked (each custom metric costs money), `CheckDurationMs`. Per target: `SuiteRun`=1
(the heartbeat) and `FailedChecks`. Per run: `NotificationFailed` on the shared `metrics`
object, flushed by `log_metrics`.

One `single_metric` per value: a flush holds one value per metric name, and each
value here needs its own dimension set.
"""

from __future__ import annotations

from aws_lambda_powertools.metrics import Metrics, MetricUnit, single_metric

from batch_health.models import CheckResult, Status, SuiteReport

CHECK_FAILED = "CheckFailed"
CHECK_DURATION = "CheckDurationMs"
SUITE_RUN = "SuiteRun"
FAILED_CHECKS = "FailedChecks"
NOTIFICATION_FAILED = "NotificationFailed"


def emit_suite_metrics(
    suite: SuiteReport, *, namespace: str, publish_durations: bool = False
) -> int:
    """Print the EMF lines for a run; returns how many metric values were emitted."""
    emitted = 0
    for report in suite.reports:
        for result in report.checks:
            emitted += emit_check_metrics(
                report.target, result, namespace=namespace, publish_durations=publish_durations
            )
        target = {"Target": report.target}
        with single_metric(
            name=SUITE_RUN,
            unit=MetricUnit.Count,
            value=1,
            namespace=namespace,
            default_dimensions=target,
        ):
            pass
        with single_metric(
            name=FAILED_CHECKS,
            unit=MetricUnit.Count,
            value=len(report.failed),
            namespace=namespace,
            default_dimensions=target,
        ):
            pass
        emitted += 2
    return emitted


def emit_check_metrics(
    target: str, result: CheckResult, *, namespace: str, publish_durations: bool = False
) -> int:
    """One check's `CheckFailed` (and `CheckDurationMs`); returns how many values."""
    if result.status is Status.SKIP:
        return 0
    dims = {"Target": target, "Check": result.name}
    failed = 1 if result.status is Status.FAIL else 0
    with single_metric(
        name=CHECK_FAILED,
        unit=MetricUnit.Count,
        value=failed,
        namespace=namespace,
        default_dimensions=dims,
    ) as metric:
        # Not a dimension (no cost): lets Logs Insights show why, next to the value.
        metric.add_metadata("status", result.status.value)
    if not publish_durations:
        return 1
    with single_metric(
        name=CHECK_DURATION,
        unit=MetricUnit.Milliseconds,
        value=result.duration_ms,
        namespace=namespace,
        default_dimensions=dims,
    ):
        pass
    return 2


def record_notification_failures(metrics: Metrics, count: int) -> None:
    """One value per run that notified (0 when every message went out)."""
    metrics.add_metric(name=NOTIFICATION_FAILED, unit=MetricUnit.Count, value=count)
