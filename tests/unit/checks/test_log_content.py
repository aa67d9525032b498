"""LOG_CONTENT_CHECK: the newest lines of the newest stream: recent, error-free, bounded;
skipped, saying why, when the log group is missing or unreadable."""

from __future__ import annotations

import time

from support.checks import BOTH, deny_describe_log_groups, run_logs
from support.suite import run_target

from batch_health.demo import JOBDEF, LOG_GROUP, REGION
from batch_health.models import Status


def put_events(world, stream: str, events: list[tuple[float, str]], group: str = LOG_GROUP):
    """events: (age in hours, message)."""
    logs = world.client("logs")
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    now = int(time.time() * 1000)
    logs.put_log_events(
        logGroupName=group,
        logStreamName=stream,
        logEvents=[
            {"timestamp": now - int(age * 3_600_000), "message": message}
            for age, message in sorted(events, key=lambda e: -e[0])
        ],
    )


def test_content_alone_skips_when_the_group_is_missing(target):
    content = run_logs(target, ["LOG_CONTENT_CHECK"]).result("LOG_CONTENT_CHECK")
    assert content.status is Status.SKIP
    assert content.detail == f"log group missing: {LOG_GROUP} does not exist in {REGION}"


def test_content_alone_skips_when_the_group_is_unreadable(target, monkeypatch):
    deny_describe_log_groups(monkeypatch, "AccessDeniedException")
    content = run_logs(target, ["LOG_CONTENT_CHECK"]).result("LOG_CONTENT_CHECK")
    assert content.status is Status.SKIP
    assert content.detail.startswith("log group unreadable: the monitor is not allowed")


def test_recent_clean_logs_are_ok(target, world):
    world.log_group(messages=["worker started", "transcoded video 42", "worker idle"])
    report = run_logs(target)
    assert report.result("LOG_GROUP_CHECK").status is Status.OK
    content = report.result("LOG_CONTENT_CHECK")
    assert content.status is Status.OK
    assert content.detail.startswith(f"newest stream {JOBDEF}/default/0123456789abcdef:")
    assert "no error lines in the last 3 events" in content.detail


def test_no_streams_warns(target, world):
    world.log_group()
    content = run_logs(target).result("LOG_CONTENT_CHECK")
    assert content.status is Status.WARN
    assert (
        content.detail == f"log group {LOG_GROUP} has no log streams: no job has logged to it yet"
    )
    assert any("logs:CreateLogStream" in h for h in content.hints)


def test_old_newest_event_warns(target, world):
    world.log_group()
    put_events(world, "s1", [(30, "worker idle")])
    content = run_logs(target).result("LOG_CONTENT_CHECK")
    assert content.status is Status.WARN
    assert f"newest event in {LOG_GROUP} is 30.0 h old (threshold 24 h)" in content.detail


def test_age_threshold_is_configurable(target, world):
    world.log_group()
    put_events(world, "s1", [(30, "worker idle")])
    content = run_target({**target, "thresholds": {"log_max_age_hours": 48}}, checks=BOTH).result(
        "LOG_CONTENT_CHECK"
    )
    assert content.status is Status.OK


def test_error_lines_warn_quoting_the_newest(target, world):
    world.log_group()
    put_events(
        world,
        "s1",
        [
            (0.3, "Traceback (most recent call last):"),
            (0.2, "ERROR cannot open s3://bucket/video.mp4: " + "x" * 300),
            (0.1, "worker idle"),
        ],
    )
    content = run_logs(target).result("LOG_CONTENT_CHECK")
    assert content.status is Status.WARN
    assert (
        "2 error line(s) in the last 3 events, newest in s1: 'ERROR cannot open" in content.detail
    )
    quoted = content.data["error_example"]["message"]
    assert quoted.endswith("…") and len(quoted) == 160
    assert any(f"aws logs tail {LOG_GROUP} --log-stream-names s1" in h for h in content.hints)


def test_lower_case_error_words_are_not_error_lines(target, world):
    world.log_group()
    put_events(world, "s1", [(0.1, "retrying, error_count=0"), (0.05, "no errors found")])
    assert run_logs(target).result("LOG_CONTENT_CHECK").status is Status.OK


def test_scan_is_bounded(target, world):
    world.log_group()
    put_events(world, "s1", [(0.5, "ERROR old failure"), (0.2, "ok"), (0.1, "ok")])
    bounded = {**target, "thresholds": {"log_scan_events": 2}}
    content = run_target(bounded, checks=BOTH).result("LOG_CONTENT_CHECK")
    assert content.status is Status.OK
    assert content.data["events_scanned"] == 2


def test_newest_stream_is_by_last_event_not_creation(target, world):
    world.log_group()
    put_events(world, "recent-events", [(0.1, "worker idle")])
    put_events(world, "created-last", [(10, "worker idle")])
    content = run_logs(target).result("LOG_CONTENT_CHECK")
    assert content.data["newest_stream"] == "recent-events"
