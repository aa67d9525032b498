"""EMF lines for a run: what CloudWatch will turn into metrics (each billed for every hour
it receives data) and what the alarms query."""

from __future__ import annotations

import json
from collections.abc import Mapping, Set
from datetime import UTC, datetime

import pytest
from aws_lambda_powertools import Metrics

from batch_health.checks.smoke_pending import submitted
from batch_health.models import CheckResult, Report, Status, SuiteReport
from batch_health.runtime.metric_state import failing_after
from batch_health.runtime.metrics import (
    emit_suite_metrics,
    emit_suite_run,
    record_notification_failures,
)

NOW = datetime(2026, 1, 15, 3, 5, tzinfo=UTC)
SERVICE = {"service": "batch-health"}


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


def sent(capsys, name: str) -> dict[str, float]:
    """{Check (or Target): value} of the metric `name` in what was printed."""
    return {
        p[1].get("Check", p[1]["Target"]): p[2]
        for p in metric_points(emf_lines(capsys))
        if p[0] == name
    }


class Runs:
    """Successive runs of one target, the failing checks carried as the table would."""

    def __init__(self, capsys, target: str = "academy-video") -> None:
        self.capsys = capsys
        self.target = target
        self.failing: dict[str, frozenset[str]] = {}

    def run(self, **statuses: Status) -> tuple[dict[str, float], dict[str, float]]:
        """(CheckFailed sent per check, FailedChecks sent) for one run."""
        self.capsys.readouterr()
        one = report(self.target, **statuses)
        emit_suite_metrics(suite(one), namespace="BatchHealth", previous=self.failing)
        before = self.failing.get(self.target, frozenset())
        self.failing[self.target] = failing_after(one, before)
        points = metric_points(emf_lines(self.capsys))
        failed = {p[1]["Check"]: p[2] for p in points if p[0] == "CheckFailed"}
        totals = {p[1]["Target"]: p[2] for p in points if p[0] == "FailedChecks"}
        return failed, totals


# --- without state (no table, or it did not answer): every value, every run -------------------


def test_without_state_every_check_that_looked_sends_its_value_nothing_on_skip(capsys):
    run = suite(
        report(
            "academy-video",
            QUEUE_CHECK=Status.OK,
            JOBDEF_CHECK=Status.WARN,
            LOG_GROUP_CHECK=Status.FAIL,
            LOG_CONTENT_CHECK=Status.SKIP,
        )
    )
    emitted = emit_suite_metrics(run, namespace="BatchHealth", previous=None)
    points = metric_points(emf_lines(capsys))
    assert emitted == len(points) == 4
    failed = {p[1]["Check"]: p[2] for p in points if p[0] == "CheckFailed"}
    assert failed == {"QUEUE_CHECK": 0, "JOBDEF_CHECK": 0, "LOG_GROUP_CHECK": 1}
    for name, dims, _, namespace in points:
        assert namespace == "BatchHealth"
        if name == "CheckFailed":
            # Exactly these dimensions: the alarms' Metrics Insights queries group by them.
            assert dims == {"Target": "academy-video", "Check": dims["Check"]}
    per_target = [(p[0], p[1], p[2]) for p in points if p[0] != "CheckFailed"]
    # The heartbeat is not per target (emit_suite_run).
    assert per_target == [("FailedChecks", {"Target": "academy-video"}, 1)]


def test_without_state_a_healthy_target_still_sends_every_value(capsys):
    emit_suite_metrics(suite(report("t", QUEUE_CHECK=Status.OK)), namespace="BatchHealth")
    points = [(p[0], p[1], p[2]) for p in metric_points(emf_lines(capsys))]
    assert points == [
        ("CheckFailed", {"Target": "t", "Check": "QUEUE_CHECK"}, 0),
        ("FailedChecks", {"Target": "t"}, 0),
    ]


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
    failed = {p[1]["Target"]: p[2] for p in points if p[0] == "CheckFailed"}
    assert failed == {"video": 1, "thumbnails": 0}
    totals = {p[1]["Target"]: p[2] for p in points if p[0] == "FailedChecks"}
    assert totals == {"video": 1, "thumbnails": 0}
    assert {p[3] for p in points} == {"BatchHealth/prod"}


# --- with state: a healthy check sends nothing ------------------------------------------------


def test_a_healthy_run_sends_nothing_at_all(capsys):
    healthy = report("t", QUEUE_CHECK=Status.OK, CE_CHECK=Status.WARN, IAM_CHECK=Status.SKIP)
    emitted = emit_suite_metrics(suite(healthy), namespace="BatchHealth", previous={"t": set()})
    assert emitted == 0
    assert emf_lines(capsys) == []
    # A target the state has no item for had nothing failing.
    assert emit_suite_metrics(suite(healthy), namespace="BatchHealth", previous={}) == 0


def test_a_failing_check_sends_1_every_run_it_fails(capsys):
    runs = Runs(capsys)
    for _ in range(3):
        failed, totals = runs.run(LOG_GROUP_CHECK=Status.FAIL, QUEUE_CHECK=Status.OK)
        assert failed == {"LOG_GROUP_CHECK": 1}
        assert totals == {"academy-video": 1}


def test_the_recovery_datapoint_is_sent_exactly_once(capsys):
    runs = Runs(capsys)
    assert runs.run(LOG_GROUP_CHECK=Status.FAIL) == (
        {"LOG_GROUP_CHECK": 1},
        {"academy-video": 1},
    )
    assert runs.run(LOG_GROUP_CHECK=Status.OK) == ({"LOG_GROUP_CHECK": 0}, {"academy-video": 0})
    assert runs.run(LOG_GROUP_CHECK=Status.OK) == ({}, {})
    assert runs.run(LOG_GROUP_CHECK=Status.OK) == ({}, {})


def test_warn_is_a_recovery(capsys):
    runs = Runs(capsys)
    runs.run(CE_CHECK=Status.FAIL)
    assert runs.run(CE_CHECK=Status.WARN) == ({"CE_CHECK": 0}, {"academy-video": 0})
    assert runs.failing == {"academy-video": frozenset()}


def test_a_skip_is_not_a_recovery_and_sends_nothing(capsys):
    runs = Runs(capsys)
    runs.run(LOG_GROUP_CHECK=Status.FAIL, LOG_CONTENT_CHECK=Status.FAIL)
    # LOG_CONTENT_CHECK skipped (its input failed): still failing as far as anyone knows.
    failed, totals = runs.run(LOG_GROUP_CHECK=Status.FAIL, LOG_CONTENT_CHECK=Status.SKIP)
    assert failed == {"LOG_GROUP_CHECK": 1}
    assert totals == {"academy-video": 2}
    assert runs.failing["academy-video"] == {"LOG_GROUP_CHECK", "LOG_CONTENT_CHECK"}
    # The run in which it looks again and passes sends its recovery.
    failed, totals = runs.run(LOG_GROUP_CHECK=Status.OK, LOG_CONTENT_CHECK=Status.OK)
    assert failed == {"LOG_GROUP_CHECK": 0, "LOG_CONTENT_CHECK": 0}
    assert totals == {"academy-video": 0}


def test_a_run_of_some_checks_keeps_the_others_failing(capsys):
    runs = Runs(capsys)
    runs.run(LOG_GROUP_CHECK=Status.FAIL, QUEUE_CHECK=Status.OK)
    # A manual run of one check: LOG_GROUP_CHECK did not run, it still fails.
    failed, totals = runs.run(QUEUE_CHECK=Status.OK)
    assert failed == {}
    assert totals == {"academy-video": 1}


def test_a_verdict_handed_to_the_smoke_jobs_event_keeps_the_state(capsys):
    """SMOKE_RESULT=event: the smoke run submits and SKIPs; the job's event gives the verdict
    and the events function sends its metric and changes the failing set
    (runtime/smoke_events.py). The run itself sends nothing and keeps the set as it was,
    like any SKIP."""
    runs = Runs(capsys)
    runs.run(SMOKE_SUBMIT_CHECK=Status.FAIL)
    handed = submitted({"job_name": "health-smoke-1", "job_id": "j-1", "job_queue": "q"})
    assert handed.status is Status.SKIP
    capsys.readouterr()
    one = Report("academy-video", "ap-northeast-2", [handed], [], NOW, NOW)
    emit_suite_metrics(suite(one), namespace="BatchHealth", previous=runs.failing)
    assert sent(capsys, "CheckFailed") == {}
    assert failing_after(one, runs.failing["academy-video"]) == {"SMOKE_SUBMIT_CHECK"}


def test_targets_are_counted_apart(capsys):
    previous: Mapping[str, Set[str]] = {"video": {"QUEUE_CHECK"}, "thumbnails": set()}
    run = suite(
        report("video", QUEUE_CHECK=Status.OK),
        report("thumbnails", QUEUE_CHECK=Status.OK),
    )
    emit_suite_metrics(run, namespace="BatchHealth", previous=previous)
    points = metric_points(emf_lines(capsys))
    assert [(p[0], p[1], p[2]) for p in points] == [
        ("CheckFailed", {"Target": "video", "Check": "QUEUE_CHECK"}, 0),
        ("FailedChecks", {"Target": "video"}, 0),
    ]


# --- durations, the heartbeat, notifications ----------------------------------------------------


def test_durations_only_when_asked_healthy_or_not(capsys):
    run = suite(report("t", QUEUE_CHECK=Status.OK, CE_CHECK=Status.SKIP))
    emit_suite_metrics(run, namespace="BatchHealth", previous={})
    assert emf_lines(capsys) == []

    emit_suite_metrics(run, namespace="BatchHealth", publish_durations=True, previous={})
    points = metric_points(emf_lines(capsys))
    assert points == [
        ("CheckDurationMs", {"Target": "t", "Check": "QUEUE_CHECK"}, 42, "BatchHealth")
    ]


def test_the_heartbeat_is_one_value_per_run_whatever_the_targets(capsys):
    run = suite(*(report(f"t{i}", QUEUE_CHECK=Status.OK) for i in range(20)))
    emit_suite_metrics(run, namespace="BatchHealth", previous={})
    emit_suite_run("BatchHealth")
    (point,) = metric_points(emf_lines(capsys))
    # The dimension NotificationFailed has on the shared metrics object: the alarm's.
    assert point == ("SuiteRun", SERVICE, 1, "BatchHealth")


def test_notification_failures_flush_with_the_run_metrics(capsys):
    metrics = Metrics(namespace="BatchHealth", service="batch-health")
    record_notification_failures(metrics, 2)
    metrics.flush_metrics()
    (point,) = metric_points(emf_lines(capsys))
    assert point == ("NotificationFailed", SERVICE, 2, "BatchHealth")


@pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")
def test_no_notification_failed_when_every_message_went_out(capsys):
    metrics = Metrics(namespace="BatchHealth", service="batch-health")
    record_notification_failures(metrics, 0)
    metrics.flush_metrics()
    assert emf_lines(capsys) == []
