"""The queue-depth gauges a run sends from RUNNABLE_BACKLOG_CHECK's result data: QueueDepth
(Target, Status) and the oldest RUNNABLE / STARTING job's age (Target), as EMF lines.

Job summaries as ListJobs returns them, AWS's JobSummary:
https://docs.aws.amazon.com/batch/latest/APIReference/API_JobSummary.html
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from batch_health.checks import REGISTRY
from batch_health.domain.queue_depth import QUEUE_DEPTH_STATUSES, queue_depth
from batch_health.models import CheckResult, Report, Status, SuiteReport
from batch_health.runtime.metrics import QUEUE_DEPTH_CHECK, emit_queue_depth, emit_suite_metrics
from batch_health.runtime.observability import metrics

NOW = datetime(2026, 1, 15, 3, 5, tzinfo=UTC)
NOW_MS = int(NOW.timestamp() * 1000)


@pytest.fixture(autouse=True)
def no_leftover_metrics() -> Iterator[None]:
    # The Metrics object is shared by the process: what an earlier test added and did not
    # flush would be printed with these lines.
    metrics.clear_metrics()
    yield
    metrics.clear_metrics()


def jobs(status: str, *ages_s: float) -> list[dict[str, Any]]:
    return [
        {
            "jobArn": f"arn:aws:batch:ap-northeast-2:123456789012:job/{status.lower()}-{i}",
            "jobId": f"{status.lower()}-{i}",
            "jobName": f"encode-{i}",
            "createdAt": int(NOW_MS - age * 1000),
            "status": status,
        }
        for i, age in enumerate(ages_s)
    ]


def listing(**ages: tuple[float, ...]) -> dict[str, list[dict[str, Any]]]:
    return {s: jobs(s, *ages.get(s, ())) for s in QUEUE_DEPTH_STATUSES}


def backlog(status: Status = Status.OK, **data: Any) -> CheckResult:
    return CheckResult(QUEUE_DEPTH_CHECK, status, data=data)


def points(capsys) -> list[tuple[str, dict[str, str], float, str, dict[str, Any]]]:
    """(metric, dimensions, value, unit, the line) of every metric printed."""
    found = []
    for text in capsys.readouterr().out.splitlines():
        line = json.loads(text)
        (directive,) = line["_aws"]["CloudWatchMetrics"]
        (dims,) = directive["Dimensions"]
        for metric in directive["Metrics"]:
            value = line[metric["Name"]]
            value = value[0] if isinstance(value, list) else value
            found.append((metric["Name"], {d: line[d] for d in dims}, value, metric["Unit"], line))
    return found


def test_the_check_it_reads_is_registered():
    assert QUEUE_DEPTH_CHECK in {c.name for c in REGISTRY}


def test_each_status_with_jobs_and_both_ages_are_sent(capsys):
    depth = queue_depth(
        listing(SUBMITTED=(2,), PENDING=(5, 6), RUNNABLE=(30, 900), STARTING=(60,), RUNNING=(1,)),
        NOW_MS,
        cap=100,
    )
    result = backlog(runnable=2, **depth.to_data())
    assert emit_queue_depth("video", result, namespace="BatchHealth") == 7
    sent = {
        (name, dims.get("Status")): (value, unit, dims)
        for name, dims, value, unit, _ in points(capsys)
    }
    assert {s: sent["QueueDepth", s][0] for s in QUEUE_DEPTH_STATUSES} == {
        "SUBMITTED": 1,
        "PENDING": 2,
        "RUNNABLE": 2,
        "STARTING": 1,
        "RUNNING": 1,
    }
    assert sent["QueueDepth", "RUNNING"][1:] == ("Count", {"Target": "video", "Status": "RUNNING"})
    assert sent["OldestRunnableAgeSeconds", None] == (900.0, "Seconds", {"Target": "video"})
    assert sent["OldestStartingAgeSeconds", None] == (60.0, "Seconds", {"Target": "video"})


def test_an_idle_queue_sends_nothing(capsys):
    depth = queue_depth(listing(), NOW_MS, cap=100)
    assert emit_queue_depth("video", backlog(runnable=0, **depth.to_data()), namespace="N") == 0
    assert points(capsys) == []


def test_an_unread_status_is_skipped_the_others_sent(capsys):
    depth = queue_depth(
        listing(RUNNABLE=(30,), STARTING=(20,), RUNNING=(5,)),
        NOW_MS,
        cap=100,
        unread={"STARTING": "AccessDeniedException", "RUNNING": "ThrottlingException"},
    )
    emit_queue_depth("video", backlog(**depth.to_data()), namespace="BatchHealth")
    sent = {(name, dims.get("Status")) for name, dims, *_ in points(capsys)}
    assert sent == {("QueueDepth", "RUNNABLE"), ("OldestRunnableAgeSeconds", None)}


def test_a_capped_count_says_so_in_the_metadata_not_a_dimension(capsys):
    depth = queue_depth(listing(RUNNABLE=(1, 2, 3), RUNNING=(4,)), NOW_MS, cap=3)
    emit_queue_depth("video", backlog(**depth.to_data()), namespace="BatchHealth")
    lines = {dims.get("Status", name): (dims, line) for name, dims, _, _, line in points(capsys)}
    dims, line = lines["RUNNABLE"]
    assert line["capped"] is True and set(dims) == {"Target", "Status"}
    assert "capped" not in lines["RUNNING"][1]


def test_other_checks_and_results_without_the_data_send_nothing(capsys):
    data = queue_depth(listing(RUNNABLE=(30,)), NOW_MS, cap=100).to_data()
    assert (
        emit_queue_depth("t", CheckResult("QUEUE_CHECK", Status.OK, data=data), namespace="N") == 0
    )
    assert emit_queue_depth("t", backlog(Status.SKIP), namespace="N") == 0
    assert points(capsys) == []


def test_the_suite_sends_each_targets_gauges_with_its_check_metrics(capsys):
    def report(target: str, **ages: tuple[float, ...]) -> Report:
        depth = queue_depth(listing(**ages), NOW_MS, cap=100)
        checks = [CheckResult("QUEUE_CHECK", Status.OK), backlog(**depth.to_data())]
        return Report(target, "ap-northeast-2", checks, [], NOW, NOW)

    run = SuiteReport([report("video", RUNNABLE=(40,)), report("thumbs", RUNNING=(3, 4))], NOW, NOW)
    previous: dict[str, frozenset[str]] = {"video": frozenset(), "thumbs": frozenset()}
    assert emit_suite_metrics(run, namespace="BatchHealth/prod", previous=previous) == 3
    printed = points(capsys)
    assert {line["_aws"]["CloudWatchMetrics"][0]["Namespace"] for *_, line in printed} == {
        "BatchHealth/prod"
    }
    sent = [(name, dims, value) for name, dims, value, _, _ in printed]
    assert sent == [
        ("QueueDepth", {"Target": "video", "Status": "RUNNABLE"}, 1),
        ("OldestRunnableAgeSeconds", {"Target": "video"}, 40.0),
        ("QueueDepth", {"Target": "thumbs", "Status": "RUNNING"}, 2),
    ]
