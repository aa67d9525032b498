"""LOG_GROUP_CHECK: the job definition's log group (or the configured one) missing vs.
unreadable vs. without retention; when the job definition says nothing, or logs elsewhere."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from support.checks import BOTH, deny_describe_log_groups, run_logs
from support.suite import run_target

from batch_health.aws.inventory import TargetView
from batch_health.demo import LOG_GROUP, QUEUE, REGION
from batch_health.models import Status


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
