"""EMF lines for a run: what CloudWatch will turn into metrics and what the alarms query."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from aws_lambda_powertools import Metrics

from batch_health.models import CheckResult, Report, Status, SuiteReport
from batch_health.runtime.metrics import emit_suite_metrics, record_notification_failures

NOW = datetime(2026, 1, 15, 3, 5, tzinfo=UTC)


def suite(*reports: Report) -> SuiteReport:
    return SuiteReport(list(reports), NOW, NOW)


def report(target: str, **statuses: Status) -> Report:
    checks = [CheckResult(name, status, duration_ms=42) for name, status in statuses.items()]
    return Report(target, "ap-northeast-2", checks, [], NOW, NOW)


def emf_lines(capsys) -> list[dict]:
    out = capsys.readouterr().out
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def metric_points(lines: list[dict]) -> list[tuple[str, dict[str, str], float, str]]:
    """(metric name, dimensions, value, namespace) for every metric in every line."""
    points = []
    for line in lines:
        (directive,) = line["_aws"]["CloudWatchMetrics"]
        (dims,) = directive["Dimensions"]
        for metric in directive["Metrics"]:
            value = line[metric["Name"]]
            value = value[0] if isinstance(value, list) else value
            points.append(
                (metric["Name"], {d: line[d] for d in dims}, value, directive["Namespace"])
            )
    return points


def test_check_failed_per_check_nothing_on_skip(capsys):
    run = suite(
        report(
            "academy-video",
            QUEUE_CHECK=Status.OK,
            JOBDEF_CHECK=Status.WARN,
            LOG_GROUP_CHECK=Status.FAIL,
            LOG_CONTENT_CHECK=Status.SKIP,
        )
    )
    emitted = emit_suite_metrics(run, namespace="BatchHealth")
    points = metric_points(emf_lines(capsys))
    assert emitted == len(points) == 5
    failed = {p[1]["Check"]: p[2] for p in points if p[0] == "CheckFailed"}
    assert failed == {"QUEUE_CHECK": 0, "JOBDEF_CHECK": 0, "LOG_GROUP_CHECK": 1}
    for name, dims, _, namespace in points:
        assert namespace == "BatchHealth"
        if name == "CheckFailed":
            # Exactly these dimensions: the alarms' Metrics Insights queries group by them.
            assert dims == {"Target": "academy-video", "Check": dims["Check"]}
    per_target = {p[0]: (p[1], p[2]) for p in points if p[0] in ("SuiteRun", "FailedChecks")}
    assert per_target == {
        "SuiteRun": ({"Target": "academy-video"}, 1),
        "FailedChecks": ({"Target": "academy-video"}, 1),
    }


def test_status_rides_as_metadata_not_as_a_dimension(capsys):
    emit_suite_metrics(suite(report("t", CE_CHECK=Status.WARN)), namespace="BatchHealth")
    line = next(line for line in emf_lines(capsys) if "CheckFailed" in line)
    assert line["status"] == "WARN"
    assert line["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["Target", "Check"]]


def test_every_target_gets_its_own_series(capsys):
    run = suite(
        report("video", QUEUE_CHECK=Status.FAIL),
        report("thumbnails", QUEUE_CHECK=Status.OK),
    )
    emit_suite_metrics(run, namespace="BatchHealth/prod")
    points = metric_points(emf_lines(capsys))
    runs = sorted(p[1]["Target"] for p in points if p[0] == "SuiteRun")
    assert runs == ["thumbnails", "video"]
    failed = {p[1]["Target"]: p[2] for p in points if p[0] == "CheckFailed"}
    assert failed == {"video": 1, "thumbnails": 0}
    assert {p[3] for p in points} == {"BatchHealth/prod"}


def test_durations_only_when_asked(capsys):
    run = suite(report("t", QUEUE_CHECK=Status.OK, CE_CHECK=Status.SKIP))
    emit_suite_metrics(run, namespace="BatchHealth")
    assert not [p for p in metric_points(emf_lines(capsys)) if p[0] == "CheckDurationMs"]

    emit_suite_metrics(run, namespace="BatchHealth", publish_durations=True)
    durations = [p for p in metric_points(emf_lines(capsys)) if p[0] == "CheckDurationMs"]
    assert durations == [
        ("CheckDurationMs", {"Target": "t", "Check": "QUEUE_CHECK"}, 42, "BatchHealth")
    ]


def test_notification_failures_flush_with_the_run_metrics(capsys):
    metrics = Metrics(namespace="BatchHealth", service="batch-health")
    record_notification_failures(metrics, 2)
    metrics.flush_metrics()
    (point,) = metric_points(emf_lines(capsys))
    assert point == ("NotificationFailed", {"service": "batch-health"}, 2, "BatchHealth")
