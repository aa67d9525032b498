"""Reads made as soon as what they need is known (aws/inventory.py): the job definition's
roles and the execution role's policies side by side with the IAM simulation (the policies
speculatively, and not again once the simulator has answered for the role), the log group's
streams and newest events beside the group's own describe, never outside the deployment's
scope."""

from __future__ import annotations

import json
from typing import Any

import pytest
from support.suite import run_targets

from batch_health.aws.inventory import Inventory
from batch_health.aws.sessions import AwsSessions
from batch_health.config import Target
from batch_health.demo import EXEC_ROLE, JOBDEF, LOG_GROUP, QUEUE, REGION, WORKER_COMMAND
from batch_health.domain.scope import DeploymentScope
from batch_health.models import Status

POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "logs:*", "Resource": "*"}],
}


@pytest.fixture
def target(world) -> dict[str, Any]:
    world.job_definition(command=WORKER_COMMAND)
    world.log_group(LOG_GROUP, messages=["worker started", "worker idle"])
    return {"name": "video", "job_queue": QUEUE, "job_definition": JOBDEF}


def view(target: dict[str, Any], sessions: AwsSessions, scope: DeploymentScope | None = None):
    return Inventory(sessions, scope).view(Target.model_validate(target))


def test_a_roles_policies_come_attached_first_then_inline_each_in_listing_order(world, target):
    iam = world.client("iam")
    arns = []
    for name in ("zeta-managed", "alpha-managed"):
        arn = iam.create_policy(PolicyName=name, PolicyDocument=json.dumps(POLICY))["Policy"]["Arn"]
        iam.attach_role_policy(RoleName=EXEC_ROLE, PolicyArn=arn)
        arns.append(arn)
    iam.put_role_policy(RoleName=EXEC_ROLE, PolicyName="second", PolicyDocument=json.dumps(POLICY))
    sessions = AwsSessions()
    docs = view(target, sessions).role_policy_documents(EXEC_ROLE)
    listed = iam.list_attached_role_policies(RoleName=EXEC_ROLE)["AttachedPolicies"]
    inline = iam.list_role_policies(RoleName=EXEC_ROLE)["PolicyNames"]
    assert [d.source for d in docs] == [
        *(f"managed policy {p['PolicyName']}" for p in listed),
        *(f"inline policy {name}" for name in inline),
    ]
    assert all(d.document["Statement"] for d in docs)
    assert sessions.stats.calls["iam:GetPolicyVersion"] == 2


def test_the_execution_roles_policies_are_read_ahead_until_the_simulator_answers(world, target):
    sessions = AwsSessions()
    exec_arn = f"arn:aws:iam::123456789012:role/{EXEC_ROLE}"
    assert view(target, sessions).execution_role_policies()  # read: the simulator may fail
    assert sessions.stats.calls["iam:ListRolePolicies"] == 1
    sessions.simulator_answered.add(exec_arn)  # as lookups.py records an answer
    assert view(target, sessions).execution_role_policies() is None
    assert sessions.stats.calls["iam:ListRolePolicies"] == 1


def test_a_failed_simulation_is_remembered_as_no_answer(world, target):
    # moto has no simulator: the role is not recorded as answered, so the next run reads
    # its policies ahead again.
    sessions = AwsSessions()
    sessions.simulator_answered.add(f"arn:aws:iam::123456789012:role/{EXEC_ROLE}")
    suite = run_targets([target], sessions, checks=["IAM_CHECK"])
    assert suite.reports[0].result("IAM_CHECK").status is Status.OK
    assert sessions.simulator_answered == set()


def test_the_log_streams_and_newest_events_are_read_on_the_group_name_alone(world, target):
    sessions = AwsSessions()
    v = view(target, sessions)
    streams = v.job_log_streams()
    assert streams[LOG_GROUP] and sessions.stats.calls["logs:DescribeLogGroups"] == 0
    events = v.job_log_events()
    assert [e["message"] for e in events[LOG_GROUP]] == ["worker started", "worker idle"]


def test_log_content_checks_reads_are_the_ones_made_ahead(world, target):
    sessions = AwsSessions()
    suite = run_targets([target], sessions, checks=["LOG_GROUP_CHECK", "LOG_CONTENT_CHECK"])
    assert suite.reports[0].result("LOG_CONTENT_CHECK").status is Status.OK
    assert sessions.stats.calls["logs:DescribeLogStreams"] == 1
    assert sessions.stats.calls["logs:GetLogEvents"] == 1


def test_no_log_read_ahead_outside_the_deployments_scope(world, target):
    scope = DeploymentScope(
        home_region=REGION, regions=frozenset({REGION}), log_group_prefix="/somewhere/else/"
    )
    sessions = AwsSessions()
    v = view(target, sessions, scope)
    assert v.job_log_streams() == {}
    assert v.job_log_events() == {}
    assert sessions.stats.calls["logs:DescribeLogStreams"] == 0


def test_a_missing_group_is_read_ahead_but_never_reported_from_that_read(world):
    world.job_definition(command=WORKER_COMMAND, log_group="/aws/batch/not-there")
    sessions = AwsSessions()
    suite = run_targets(
        [{"name": "video", "job_queue": QUEUE, "job_definition": JOBDEF}],
        sessions,
        checks=["AWS_ACCESS", "LOG_GROUP_CHECK", "LOG_CONTENT_CHECK"],
    )
    report = suite.reports[0]
    assert report.result("LOG_GROUP_CHECK").status is Status.FAIL
    assert report.result("LOG_CONTENT_CHECK").status is Status.SKIP
    assert "LOG_GROUP_CHECK is FAIL" in report.result("LOG_CONTENT_CHECK").detail
