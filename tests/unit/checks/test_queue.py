"""QUEUE_CHECK: missing, disabled, INVALID, UPDATING or without compute environment; access
denied and throttling named with the permission or the cause; FIFO or fair-share (its
scheduling policy) and its jobStateTimeLimitActions, from the shapes corpus's queues
(tests/data/batch_shapes.json, each entry with its public source)."""

from __future__ import annotations

import json

import boto3
import pytest
from moto.core.authorization import enable_iam_authentication
from support.checks import (
    CE_ARN,
    PLAIN_TARGET,
    QUEUE_ARN,
    assert_explained,
    check,
    client_error,
    patch_view,
    queue,
    result,
    run,
    stubbed,
)
from support.shapes_data import answer
from support.suite import light_queue

from batch_health.aws.sessions import AwsSessions
from batch_health.demo import QUEUE, REGION, WorldBuilder, build_seed
from batch_health.models import Status


def test_queue_ok_on_the_seed_world(seed_world):
    res = check(seed_world, "QUEUE_CHECK")
    assert res.status is Status.OK
    assert res.detail == f"state=ENABLED status=VALID jobQueueArn={QUEUE_ARN}"
    assert res.data["computeEnvironmentOrder"] == [{"order": 1, "ce": CE_ARN}]


def test_queue_missing(seed_world):
    res = check({**seed_world, "job_queue": "academy-video-queue-typo"}, "QUEUE_CHECK")
    assert res.status is Status.FAIL
    assert_explained(res)
    assert res.detail == f"job queue academy-video-queue-typo does not exist in {REGION}"
    assert "describe-job-queues" in res.hints[0]


def test_queue_found_by_arn(seed_world):
    assert check({**seed_world, "job_queue": QUEUE_ARN}, "QUEUE_CHECK").status is Status.OK


def test_queue_disabled(seed_world):
    boto3.client("batch").update_job_queue(jobQueue=QUEUE, state="DISABLED")
    res = check(seed_world, "QUEUE_CHECK")
    assert res.status is Status.FAIL
    assert_explained(res)
    assert res.detail.startswith(f"job queue {QUEUE} is DISABLED")
    assert f"update-job-queue --job-queue {QUEUE} --state ENABLED" in res.hints[0]


def test_queue_invalid_reports_the_status_reason(aws, monkeypatch):
    reason = "CLIENT_ERROR - Compute environment academy-video-batch-ce-v3 is INVALID"
    patch_view(monkeypatch, job_queue=queue(status="INVALID", statusReason=reason))
    res = check(PLAIN_TARGET, "QUEUE_CHECK")
    assert res.status is Status.FAIL
    assert_explained(res)
    assert res.detail == f"job queue {QUEUE} status=INVALID: {reason}"
    assert res.data["statusReason"] == reason
    assert "statusReason" in res.hints[0]


@pytest.mark.parametrize("order", [[], None])
def test_queue_without_compute_environment(aws, monkeypatch, order):
    patch_view(monkeypatch, job_queue=queue(computeEnvironmentOrder=order))
    res = check(PLAIN_TARGET, "QUEUE_CHECK")
    assert res.status is Status.FAIL
    assert_explained(res)
    assert res.detail == f"job queue {QUEUE} has no compute environment attached"
    assert "--compute-environment-order" in res.hints[0]


def test_queue_updating_is_a_warning(aws, monkeypatch):
    patch_view(monkeypatch, job_queue=queue(status="UPDATING"))
    res = check(PLAIN_TARGET, "QUEUE_CHECK")
    assert res.status is Status.WARN
    assert_explained(res)
    assert res.detail == f"job queue {QUEUE} status=UPDATING"


def test_queue_with_missing_fields_is_reported_not_crashed(aws, monkeypatch):
    patch_view(monkeypatch, job_queue={"jobQueueName": QUEUE})
    res = check(PLAIN_TARGET, "QUEUE_CHECK")
    assert res.status is Status.FAIL
    assert res.detail.startswith(f"job queue {QUEUE} is UNKNOWN")


def restricted_sessions(world: WorldBuilder, actions: list[str]) -> AwsSessions:
    """Credentials of an IAM user allowed only `actions` (moto enforces it once auth is on)."""
    iam = world.client("iam")
    iam.create_user(UserName="monitor")
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}],
    }
    iam.put_user_policy(UserName="monitor", PolicyName="monitor", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName="monitor")["AccessKey"]
    session = boto3.Session(
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
        region_name=REGION,
    )
    return AwsSessions(base_session=session)


def test_queue_access_denied_names_the_missing_permission(world, tmp_path):
    target = build_seed(world, tmp_path).target
    sessions = restricted_sessions(world, ["sts:GetCallerIdentity"])
    with enable_iam_authentication():
        report = run(target, ["AWS_ACCESS", "QUEUE_CHECK"], sessions=sessions)
    assert result(report, "AWS_ACCESS").status is Status.OK
    res = result(report, "QUEUE_CHECK")
    assert res.status is Status.FAIL
    assert_explained(res)
    assert res.data["error_kind"] == "access denied"
    assert res.detail.startswith(f"job queue {QUEUE}: access denied on DescribeJobQueues")
    assert "is not authorized to perform" in res.detail
    assert res.hints[0].startswith(
        f"Grant the monitor's identity `batch:DescribeJobQueues` on {QUEUE}"
    )


def test_queue_access_denied_via_stubber(aws):
    sessions, stub = stubbed("batch")
    stub.add_client_error(
        "describe_job_queues", service_error_code="AccessDeniedException", http_status_code=403
    )
    res = check(PLAIN_TARGET, "QUEUE_CHECK", sessions=sessions)
    assert res.status is Status.FAIL
    assert res.data["error_code"] == "AccessDeniedException"
    assert "batch:DescribeJobQueues" in res.hints[0]


def test_queue_throttled_after_retries_is_named(aws, monkeypatch):
    patch_view(monkeypatch, job_queue=client_error("ThrottlingException", "DescribeJobQueues"))
    res = check(PLAIN_TARGET, "QUEUE_CHECK")
    assert res.status is Status.FAIL
    assert res.data["error_kind"] == "throttled"
    assert "throttled" in res.hints[0]


# --- how the queue schedules (CreateJobQueue: schedulingPolicyArn, jobStateTimeLimitActions)


def test_a_fifo_queue_says_nothing_more(aws, monkeypatch):
    patch_view(monkeypatch, job_queue=answer("job_queues", "botocore-highpriority"))
    res = check(PLAIN_TARGET, "QUEUE_CHECK")
    assert res.status is Status.OK
    assert res.detail == (
        "state=ENABLED status=VALID "
        "jobQueueArn=arn:aws:batch:us-east-1:012345678910:job-queue/HighPriority"
    )
    assert (res.data["scheduling"], res.data["schedulingPolicyArn"]) == ("FIFO", "")
    assert res.data["jobStateTimeLimitActions"] == []


def test_a_fair_share_queue_names_its_policy(aws, monkeypatch):
    queue_answer = answer("job_queues", "tf-fair-share-queue")
    patch_view(monkeypatch, job_queue=queue_answer)
    res = check(PLAIN_TARGET, "QUEUE_CHECK")
    assert res.status is Status.OK
    assert res.detail.endswith("; fair-share (policy tf-acc-test-8675309-sp1)")
    assert res.data["scheduling"] == "fair-share"
    assert res.data["schedulingPolicyArn"] == queue_answer["schedulingPolicyArn"]


def test_job_state_time_limit_actions_are_reported(aws, monkeypatch):
    queue_answer = answer("job_queues", "cdk-job-state-time-limit-actions")
    patch_view(monkeypatch, job_queue=queue_answer)
    res = check(PLAIN_TARGET, "QUEUE_CHECK")
    assert res.status is Status.OK
    assert res.detail.endswith(
        "; jobStateTimeLimitActions: "
        "CANCEL after 600 s on CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY, "
        "CANCEL after 600 s on MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE, "
        "CANCEL after 600 s on MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT"
    )
    assert res.data["jobStateTimeLimitActions"] == queue_answer["jobStateTimeLimitActions"]


def test_odd_time_limit_actions_are_reported_not_crashed(aws, monkeypatch):
    odd = [None, {"action": "CANCEL"}, {"state": "STARTING", "maxTimeSeconds": 900, "reason": "r"}]
    patch_view(monkeypatch, job_queue=queue(jobStateTimeLimitActions=odd, schedulingPolicyArn=7))
    res = check(PLAIN_TARGET, "QUEUE_CHECK")
    assert res.status is Status.OK
    assert res.detail.endswith(
        "; jobStateTimeLimitActions: CANCEL after ? s on ?, ? after 900 s in STARTING on r"
    )
    assert res.data["scheduling"] == "FIFO"


def test_a_fair_share_queue_from_the_emulator(world):
    batch = world.client("batch")
    policy = answer("scheduling_policies", "tf-jq-fairshare-policy-a1")
    arn = batch.create_scheduling_policy(
        name=policy["name"], fairsharePolicy=policy["fairsharePolicy"]
    )["arn"]
    light_queue(world, arn)
    res = check(PLAIN_TARGET, "QUEUE_CHECK")
    assert res.status is Status.OK
    assert res.detail.endswith(f"; fair-share (policy {policy['name']})")
    assert res.data["schedulingPolicyArn"] == arn
