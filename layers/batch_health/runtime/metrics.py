"""CloudWatch metrics for a run, as EMF lines on stdout (Powertools).

CloudWatch bills a custom metric for each hour in which it receives data, so a healthy
deployment sends as little as it can:

- `CheckFailed` (dimensions Target, Check): 1 on every run the check FAILs, and 0 once,
  on the first run it is OK or WARN again; nothing while it stays healthy. A SKIP did not
  look: it sends nothing and is no recovery. Which checks failed last time comes from
  metric_state; when that is unknown (no table, or it did not answer) every check that
  looked sends its value, so a FAIL datapoint is never lost.
- `FailedChecks` (Target): the target's failing checks, while there are any, and 0 once.
- `SuiteRun` = 1 once per run, whatever the number of targets (the heartbeat), with the
  dimension `service` only, as `NotificationFailed` has on the shared `metrics` object (the
  count, only when a notification failed; flushed by `log_metrics`). SuiteRun is printed at
  once: the heartbeat does not wait for the notifications.
- `CheckDurationMs` per check and target, only with PUBLISH_DURATION_METRICS (each series
  is a metric billed every hour).
- `QueueDepth` (Target, Status): the jobs in SUBMITTED, PENDING, RUNNABLE, STARTING and
  RUNNING now, and `OldestRunnableAgeSeconds` / `OldestStartingAgeSeconds` (Target): how
  long the oldest such job has waited, from RUNNABLE_BACKLOG_CHECK's result data
  (domain/queue_depth.py). Only while above 0: an idle queue sends nothing (the dashboard
  draws the gaps as 0), nor does a status that could not be listed. A count stopped at the
  read cap is a lower bound, said in the metadata `capped` (no cost).

One `single_metric` per per-target value: a flush holds one value per metric name, and
each of these needs its own dimension set.
"""

from __future__ import annotations

from collections.abc import Mapping, Set

from aws_lambda_powertools.metrics import Metrics, MetricUnit, single_metric

from batch_health.domain.queue_depth import QUEUE_DEPTH_STATUSES, QueueDepth
from batch_health.models import CheckResult, Report, Status, SuiteReport
from batch_health.runtime.metric_state import failing_after
from batch_health.runtime.observability import SERVICE

CHECK_FAILED = "CheckFailed"
CHECK_DURATION = "CheckDurationMs"
SUITE_RUN = "SuiteRun"
FAILED_CHECKS = "FailedChecks"
NOTIFICATION_FAILED = "NotificationFailed"
JOB_FAILURES = "JobFailures"  # from Batch's events, per Target and ReasonClass
JOBS_BLOCKED = "JobsBlocked"
QUEUE_DEPTH = "QueueDepth"
OLDEST_AGE = {"RUNNABLE": "OldestRunnableAgeSeconds", "STARTING": "OldestStartingAgeSeconds"}
QUEUE_DEPTH_CHECK = "RUNNABLE_BACKLOG_CHECK"  # its result data carries the QueueDepth


def emit_suite_metrics(
    suite: SuiteReport,
    *,
    namespace: str,
    publish_durations: bool = False,
    previous: Mapping[str, Set[str]] | None = None,
) -> int:
    """Print the EMF lines for a run's targets; returns how many values were emitted.

    `previous`: each target's failing checks at its previous run (a target missing from
    it had none); None when unknown, and then every check that looked sends its value.
    """
    emitted = 0
    for report in suite.reports:
        before = None if previous is None else previous.get(report.target, frozenset())
        for result in report.checks:
            emitted += emit_check_metrics(
                report.target,
                result,
                namespace=namespace,
                publish_durations=publish_durations,
                was_failing=None if before is None else result.name in before,
            )
            emitted += emit_queue_depth(report.target, result, namespace=namespace)
        emitted += emit_failed_checks(report, before, namespace=namespace)
    return emitted


def emit_check_metrics(
    target: str,
    result: CheckResult,
    *,
    namespace: str,
    publish_durations: bool = False,
    was_failing: bool | None = None,
) -> int:
    """One check's `CheckFailed` (and `CheckDurationMs`); returns how many values.

    `was_failing`: whether the check FAILed at its previous run; None when unknown (the
    value is then sent whatever it is).
    """
    if result.status is Status.SKIP:
        return 0
    dims = {"Target": target, "Check": result.name}
    failed = result.status is Status.FAIL
    emitted = 0
    if failed or was_failing is not False:
        with single_metric(
            name=CHECK_FAILED,
            unit=MetricUnit.Count,
            value=1 if failed else 0,
            namespace=namespace,
            default_dimensions=dims,
        ) as metric:
            # Not a dimension (no cost): lets Logs Insights show why, next to the value.
            metric.add_metadata("status", result.status.value)
        emitted += 1
    if publish_durations:
        with single_metric(
            name=CHECK_DURATION,
            unit=MetricUnit.Milliseconds,
            value=result.duration_ms,
            namespace=namespace,
            default_dimensions=dims,
        ):
            pass
        emitted += 1
    return emitted


def emit_queue_depth(target: str, result: CheckResult, *, namespace: str) -> int:
    """The target's `QueueDepth` per status and its oldest RUNNABLE / STARTING job's age,
    from RUNNABLE_BACKLOG_CHECK's result data; returns how many values. Nothing for a 0,
    an age there is none of, or a status that could not be listed."""
    depth = QueueDepth.from_data(result.data) if result.name == QUEUE_DEPTH_CHECK else None
    if depth is None:
        return 0
    values: list[tuple[str, dict[str, str], float, MetricUnit, str]] = [
        (QUEUE_DEPTH, {"Status": status}, depth.counts.get(status, 0), MetricUnit.Count, status)
        for status in QUEUE_DEPTH_STATUSES
    ]
    values += [
        (name, {}, depth.oldest_age_seconds.get(status, 0), MetricUnit.Seconds, status)
        for status, name in OLDEST_AGE.items()
    ]
    emitted = 0
    for name, dims, value, unit, status in values:
        if not value or status in depth.unread:
            continue
        with single_metric(
            name=name,
            unit=unit,
            value=value,
            namespace=namespace,
            default_dimensions={"Target": target, **dims},
        ) as metric:
            if status in depth.capped:
                metric.add_metadata("capped", True)
        emitted += 1
    return emitted


def emit_failed_checks(report: Report, before: Set[str] | None, *, namespace: str) -> int:
    """The target's `FailedChecks`: while above 0, and 0 once; every run when `before`
    (the previous run's failing checks) is unknown. Returns how many values (0 or 1)."""
    if before is None:
        value = len(report.failed)
    else:
        value = len(failing_after(report, before))
        if value == 0 and not before:
            return 0
    with single_metric(
        name=FAILED_CHECKS,
        unit=MetricUnit.Count,
        value=value,
        namespace=namespace,
        default_dimensions={"Target": report.target},
    ):
        pass
    return 1


def emit_suite_run(namespace: str) -> None:
    """The heartbeat: 1 per run, whatever the number of targets (dimension `service`)."""
    with single_metric(
        name=SUITE_RUN,
        unit=MetricUnit.Count,
        value=1,
        namespace=namespace,
        default_dimensions={"service": SERVICE},
    ):
        pass


def record_notification_failures(metrics: Metrics, count: int) -> None:
    """The failed notifications of a run; nothing when every message went out."""
    if count > 0:
        metrics.add_metric(name=NOTIFICATION_FAILED, unit=MetricUnit.Count, value=count)


def emit_job_metric(
    target: str, reason_class: str, jobs: int, *, blocked: bool, namespace: str
) -> int:
    """`JobFailures` (or `JobsBlocked`) of one reason class: the jobs counted now; nothing
    when none was (a repeated delivery). Returns how many values (0 or 1)."""
    if not jobs:
        return 0
    with single_metric(
        name=JOBS_BLOCKED if blocked else JOB_FAILURES,
        unit=MetricUnit.Count,
        value=jobs,
        namespace=namespace,
        default_dimensions={"Target": target, "ReasonClass": reason_class},
    ):
        pass
    return 1
