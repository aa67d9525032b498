"""LOG_GROUP_CHECK and LOG_CONTENT_CHECK: missing vs. unreadable, retention, recent lines."""

from __future__ import annotations

import time
from typing import Any

import pytest
from botocore.exceptions import ClientError
from support.suite import run_target

from batch_health.aws.inventory import TargetView
from batch_health.demo import JOBDEF, LOG_GROUP, QUEUE, WORKER_COMMAND
from batch_health.models import Report, Status

REGION = "ap-northeast-2"
BOTH = ["LOG_GROUP_CHECK", "LOG_CONTENT_CHECK"]


@pytest.fixture
def target(world) -> dict[str, Any]:
    """The ops report's job definition (awslogs-group /aws/batch/academy-video-worker), no
    group yet."""
    world.job_definition(command=WORKER_COMMAND)
    return {"job_queue": QUEUE, "job_definition": JOBDEF}


def run_logs(target: dict[str, Any], checks: list[str] = BOTH) -> Report:
    return run_target(target, checks=checks)


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


def deny_describe_log_groups(monkeypatch, code: str) -> None:
    def log_group(self, name):
        raise ClientError(
            {
                "Error": {
                    "Code": code,
                    "Message": "not authorized to perform logs:DescribeLogGroups",
                }
            },
            "DescribeLogGroups",
        )

    monkeypatch.setattr(TargetView, "log_group", log_group)


def test_missing_group_fails_with_create_hint_and_content_skips(target):
    report = run_logs(target)
    group, content = report.result("LOG_GROUP_CHECK"), report.result("LOG_CONTENT_CHECK")
    assert group.status is Status.FAIL
    assert group.detail == (
        f"log group missing: {LOG_GROUP} (the job definition's awslogs-group) does not exist "
        f"in {REGION}"
    )
    assert any(
        f"aws logs create-log-group --log-group-name {LOG_GROUP} --region {REGION}" in h
        for h in group.hints
    )
    assert any("awslogs-create-group=true" in h and "logs:CreateLogGroup" in h for h in group.hints)
    assert content.status is Status.SKIP
    assert "log group missing" in content.detail


def test_seed_world_reports_the_missing_group_first(seed_world):
    report = run_target(seed_world)
    assert report.result("LOG_GROUP_CHECK").status is Status.FAIL
    content = report.result("LOG_CONTENT_CHECK")
    assert content.status is Status.SKIP
    assert content.detail.startswith(f"LOG_GROUP_CHECK is FAIL: log group missing: {LOG_GROUP}")
    assert report.result("IAM_CHECK").status is Status.OK
    assert report.result("SMOKE_SUBMIT_CHECK").detail == "ALLOW_TEST_SUBMIT not set"
    assert report.root_cause_hints[0] == (
        f"LOG_GROUP_CHECK: Create it: `aws logs create-log-group --log-group-name {LOG_GROUP} "
        f"--region {REGION}` (then `aws logs put-retention-policy --log-group-name {LOG_GROUP} "
        f"--retention-in-days 30 --region {REGION}`)"
    )


def test_content_alone_skips_when_the_group_is_missing(target):
    content = run_logs(target, ["LOG_CONTENT_CHECK"]).result("LOG_CONTENT_CHECK")
    assert content.status is Status.SKIP
    assert content.detail == f"log group missing: {LOG_GROUP} does not exist in {REGION}"


def test_a_longer_name_is_not_a_match(target, world):
    world.log_group(f"{LOG_GROUP}-old")
    world.log_group(f"{LOG_GROUP}/extra")
    group = run_logs(target, ["LOG_GROUP_CHECK"]).result("LOG_GROUP_CHECK")
    assert group.status is Status.FAIL
    assert group.detail.startswith(f"log group missing: {LOG_GROUP} ")


@pytest.mark.parametrize("code", ["AccessDeniedException", "403"])
def test_access_denied_is_not_reported_as_missing(target, world, monkeypatch, code):
    world.log_group()
    deny_describe_log_groups(monkeypatch, code)
    report = run_logs(target)
    group, content = report.result("LOG_GROUP_CHECK"), report.result("LOG_CONTENT_CHECK")
    assert group.status is Status.FAIL
    assert group.detail == (
        f"log group unreadable: the monitor is not allowed logs:DescribeLogGroups ({code}), "
        f"so whether {LOG_GROUP} exists is unknown"
    )
    assert "missing" not in group.detail
    assert any(
        "Grant the monitor's identity `logs:DescribeLogGroups`" in h
        and f"arn:aws:logs:{REGION}:123456789012:log-group:*" in h
        for h in group.hints
    )
    assert not any("create-log-group" in h for h in group.hints)
    assert group.data["error_kind"] == "access denied"
    assert content.status is Status.SKIP
    assert "log group unreadable" in content.detail


def test_content_alone_skips_when_the_group_is_unreadable(target, monkeypatch):
    deny_describe_log_groups(monkeypatch, "AccessDeniedException")
    content = run_logs(target, ["LOG_CONTENT_CHECK"]).result("LOG_CONTENT_CHECK")
    assert content.status is Status.SKIP
    assert content.detail.startswith("log group unreadable: the monitor is not allowed")


def test_other_describe_errors_are_named(target, monkeypatch):
    def log_group(self, name):
        raise ClientError(
            {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}},
            "DescribeLogGroups",
        )

    monkeypatch.setattr(TargetView, "log_group", log_group)
    group = run_logs(target, ["LOG_GROUP_CHECK"]).result("LOG_GROUP_CHECK")
    assert group.status is Status.FAIL
    assert group.detail.startswith(f"log group {LOG_GROUP}: throttled")


def test_retention_unset_warns(target, world):
    world.client("logs").create_log_group(logGroupName=LOG_GROUP)
    group = run_logs(target, ["LOG_GROUP_CHECK"]).result("LOG_GROUP_CHECK")
    assert group.status is Status.WARN
    assert "no retention" in group.detail
    assert group.hints == [
        f"Set one: `aws logs put-retention-policy --log-group-name {LOG_GROUP} "
        f"--retention-in-days 30 --region {REGION}`"
    ]


def test_configured_group_wins(target, world):
    world.log_group("/custom/video")
    group = run_logs({**target, "log_group": "/custom/video"}, ["LOG_GROUP_CHECK"]).result(
        "LOG_GROUP_CHECK"
    )
    assert group.status is Status.OK
    assert group.data["log_group"] == "/custom/video"
    assert group.data["log_group_source"] == "configured"


def test_batch_default_group_when_the_job_definition_sets_none(world):
    world.client("batch").register_job_definition(
        jobDefinitionName="no-group",
        type="container",
        containerProperties={"image": "busybox", "command": ["true"], "vcpus": 1, "memory": 128},
    )
    target = {"job_queue": QUEUE, "job_definition": "no-group"}
    group = run_logs(target, ["LOG_GROUP_CHECK"]).result("LOG_GROUP_CHECK")
    assert group.status is Status.FAIL
    assert group.detail.startswith(
        "log group missing: /aws/batch/job (Batch's default: the job definition sets no "
        "awslogs-group)"
    )


def test_unknown_job_definition_skips_with_reason(world):
    group = run_logs({"job_queue": QUEUE, "job_definition": "nope"}, ["LOG_GROUP_CHECK"]).result(
        "LOG_GROUP_CHECK"
    )
    assert group.status is Status.SKIP
    assert "job definition nope has no ACTIVE revision" in group.detail
    assert "set log_group on the target" in group.detail


def test_other_log_driver_skips(world):
    world.client("batch").register_job_definition(
        jobDefinitionName="splunk",
        type="container",
        containerProperties={
            "image": "busybox",
            "command": ["true"],
            "vcpus": 1,
            "memory": 128,
            "logConfiguration": {"logDriver": "splunk"},
        },
    )
    report = run_logs({"job_queue": QUEUE, "job_definition": "splunk"})
    for name in BOTH:
        result = report.result(name)
        assert result.status is Status.SKIP
        assert result.detail.endswith("job definition splunk logs with splunk, not CloudWatch Logs")


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
