"""IAM_CHECK: missing role vs. trust vs. permission, decided by local evaluation of the
roles' policies (the emulator has no simulator): grants, denies, conditions, no policy."""

from __future__ import annotations

import json
from typing import Any

from support.iam import STREAM_ARN, iam_check, register_container
from support.suite import run_target

from batch_health.demo import EXEC_ROLE, JOB_ROLE, LOG_GROUP, QUEUE
from batch_health.models import Status


def replace_exec_policy(world, document: dict[str, Any]) -> None:
    iam = world.client("iam")
    iam.delete_role_policy(RoleName=EXEC_ROLE, PolicyName=f"{EXEC_ROLE}-inline")
    iam.put_role_policy(
        RoleName=EXEC_ROLE, PolicyName="custom", PolicyDocument=json.dumps(document)
    )


def statement(effect: str, action: Any, resource: Any, **extra: Any) -> dict[str, Any]:
    return {"Effect": effect, "Action": action, "Resource": resource, **extra}


def ecr_statements(world) -> list[dict[str, Any]]:
    return world.execution_policy(LOG_GROUP)["Statement"][1:]


def test_seed_roles_with_an_inline_policy_pass_by_local_evaluation(target):
    result = iam_check(target)
    assert result.status is Status.OK
    # Moto does not implement the simulator: the detail says what decided instead.
    assert "decided by local evaluation of 1 policy" in result.detail
    assert "iam:SimulatePrincipalPolicy not implemented" in result.detail
    assert result.data["policies"] == [f"inline policy {EXEC_ROLE}-inline"]
    decisions = {(p["action"], p["decision"]) for p in result.data["permissions"]}
    assert ("logs:PutLogEvents", "allowed") in decisions
    assert ("ecr:BatchGetImage", "allowed") in decisions
    assert {p["resource"] for p in result.data["permissions"]} >= {STREAM_ARN}


def test_no_policies_at_all_is_not_ok_evidence(target, world):
    world.client("iam").delete_role_policy(RoleName=EXEC_ROLE, PolicyName=f"{EXEC_ROLE}-inline")
    result = iam_check(target)
    assert result.status is Status.FAIL
    assert f"execution role {EXEC_ROLE} has no attached or inline policies" in result.detail
    assert any(
        f"aws iam attach-role-policy --role-name {EXEC_ROLE}" in h
        and "AmazonECSTaskExecutionRolePolicy" in h
        for h in result.hints
    )


def test_attached_managed_policy_counts(target, world):
    iam = world.client("iam")
    iam.delete_role_policy(RoleName=EXEC_ROLE, PolicyName=f"{EXEC_ROLE}-inline")
    managed = {
        "Version": "2012-10-17",
        "Statement": [
            statement(
                "Allow",
                [
                    "ecr:GetAuthorizationToken",
                    "ecr:BatchCheckLayerAvailability",
                    "ecr:GetDownloadUrlForLayer",
                    "ecr:BatchGetImage",
                    "logs:CreateLogStream",
                    "logs:PutLogEvents",
                ],
                "*",
            )
        ],
    }
    arn = iam.create_policy(PolicyName="TaskExecution", PolicyDocument=json.dumps(managed))[
        "Policy"
    ]["Arn"]
    iam.attach_role_policy(RoleName=EXEC_ROLE, PolicyArn=arn)
    result = iam_check(target)
    assert result.status is Status.OK
    assert result.data["policies"] == ["managed policy TaskExecution"]


def test_missing_execution_role_is_named(target, world):
    iam = world.client("iam")
    iam.delete_role_policy(RoleName=EXEC_ROLE, PolicyName=f"{EXEC_ROLE}-inline")
    iam.delete_role(RoleName=EXEC_ROLE)
    result = iam_check(target)
    assert result.status is Status.FAIL
    assert result.detail == f"execution role {EXEC_ROLE} does not exist"
    assert any(f"Create {EXEC_ROLE}" in h for h in result.hints)


def test_missing_job_role_is_named(target, world):
    world.client("iam").delete_role(RoleName=JOB_ROLE)
    result = iam_check(target)
    assert result.status is Status.FAIL
    assert f"job role {JOB_ROLE} does not exist" in result.detail
    assert "execution role" not in result.detail


def test_execution_role_not_trusted_by_ecs_tasks(target, world):
    lambda_trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    world.client("iam").update_assume_role_policy(
        RoleName=EXEC_ROLE, PolicyDocument=json.dumps(lambda_trust)
    )
    result = iam_check(target)
    assert result.status is Status.FAIL
    assert (
        f"execution role {EXEC_ROLE} does not trust ecs-tasks.amazonaws.com "
        "(trusted services: lambda.amazonaws.com)" in result.detail
    )
    assert any(
        f"aws iam update-assume-role-policy --role-name {EXEC_ROLE}" in h for h in result.hints
    )


def test_log_grant_on_another_group_is_a_permission_fail(target, world):
    wrong = "arn:aws:logs:ap-northeast-2:123456789012:log-group:/aws/batch/other:*"
    replace_exec_policy(
        world,
        {
            "Version": "2012-10-17",
            "Statement": [
                statement("Allow", ["logs:CreateLogStream", "logs:PutLogEvents"], wrong),
                *ecr_statements(world),
            ],
        },
    )
    result = iam_check(target)
    assert result.status is Status.FAIL
    assert (
        f"execution role {EXEC_ROLE} may not logs:CreateLogStream, logs:PutLogEvents on "
        f"{STREAM_ARN}" in result.detail
    )
    assert "no policy allows it" in result.detail
    assert "decided by local evaluation" in result.detail
    grant = next(h for h in result.hints if "put-role-policy" in h)
    assert f"--role-name {EXEC_ROLE}" in grant
    assert f"log-group:{LOG_GROUP}:*" in grant


def test_missing_ecr_pull_is_a_permission_fail(target, world):
    replace_exec_policy(
        world,
        {
            "Version": "2012-10-17",
            "Statement": [statement("Allow", "logs:*", "*")],
        },
    )
    result = iam_check(target)
    assert result.status is Status.FAIL
    assert "ecr:BatchGetImage, ecr:GetDownloadUrlForLayer" in result.detail
    assert "repository/academy-video-worker" in result.detail
    assert any("AmazonECSTaskExecutionRolePolicy" in h for h in result.hints)


def test_image_outside_ecr_needs_no_ecr_permissions(target, world):
    replace_exec_policy(
        world, {"Version": "2012-10-17", "Statement": [statement("Allow", "logs:*", "*")]}
    )
    register_container(
        world,
        "public-image",
        image="public.ecr.aws/docker/library/python:3.13",
        executionRoleArn=f"arn:aws:iam::123456789012:role/{EXEC_ROLE}",
    )
    result = iam_check({"job_queue": QUEUE, "job_definition": "public-image"})
    assert result.status is Status.OK
    assert "(no job role)" in result.detail
    assert not any(p["action"].startswith("ecr:") for p in result.data["permissions"])
    # No awslogs-group in the job definition: Batch's default group is what must be writable.
    assert any("log-group:/aws/batch/job:" in p["resource"] for p in result.data["permissions"])


def test_explicit_deny_is_named(target, world):
    world.client("iam").put_role_policy(
        RoleName=EXEC_ROLE,
        PolicyName="guard",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [statement("Deny", "logs:PutLogEvents", "*", Sid="NoLogs")],
            }
        ),
    )
    result = iam_check(target)
    assert result.status is Status.FAIL
    assert "explicitly denied by inline policy guard statement NoLogs" in result.detail
    assert any("Remove or narrow the Deny in inline policy guard" in h for h in result.hints)


def test_conditional_grant_is_undetermined_not_ok(target, world):
    conditional = statement(
        "Allow",
        ["logs:CreateLogStream", "logs:PutLogEvents"],
        "*",
        Condition={"StringEquals": {"aws:SourceVpc": "vpc-123"}},
    )
    replace_exec_policy(
        world,
        {"Version": "2012-10-17", "Statement": [conditional, *ecr_statements(world)]},
    )
    result = iam_check(target)
    assert result.status is Status.WARN
    assert "depends on policy conditions" in result.detail
    assert "logs:CreateLogStream, logs:PutLogEvents" in result.detail


def test_skips_when_the_job_definition_is_missing(world):
    result = iam_check({"job_queue": QUEUE, "job_definition": "nope"})
    assert result.status is Status.SKIP
    assert result.detail == "job definition nope has no ACTIVE revision"


def test_iam_hint_ranks_before_log_group_hint(seed_world, world):
    world.client("iam").delete_role_policy(RoleName=EXEC_ROLE, PolicyName=f"{EXEC_ROLE}-inline")
    report = run_target(seed_world)
    failing = [h.split(":", 1)[0] for h in report.root_cause_hints]
    assert failing.index("IAM_CHECK") < failing.index("LOG_GROUP_CHECK")


def test_no_execution_role_on_ec2_warns_that_nothing_was_evaluated(target, world):
    register_container(
        world,
        "instance-role-only",
        image="busybox",
        jobRoleArn=f"arn:aws:iam::123456789012:role/{JOB_ROLE}",
    )
    result = iam_check({"job_queue": QUEUE, "job_definition": "instance-role-only"})
    assert result.status is Status.WARN
    assert "has no executionRoleArn" in result.detail
    assert result.data["job_role_trusts"] == ["ecs-tasks.amazonaws.com"]
