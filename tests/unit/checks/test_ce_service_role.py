"""CE_CHECK: can Batch tell you why jobs wait? Each compute environment's service role must
allow autoscaling:DescribeScalingActivities (EC2 and SPOT resources), and
ec2:DescribeSpotFleetRequestHistory where Batch runs a Spot Fleet, for Batch to raise
blocked-queue events and RUNNABLE statusReasons for capacity (user guide,
job_stuck_in_runnable_capacity.html). The compute environments are the shapes corpus's
(tests/data/batch_shapes.json, each with its public source); the service-linked role is
judged from its documented policy (batch_health.domain.blocked_events cites it).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from support.checks import PLAIN_TARGET, check, client_error, patch_view, queue
from support.shapes_data import answer

from batch_health.demo.worlds import SERVICE_ROLE_POLICY
from batch_health.domain.blocked_events import (
    SCALING_ACTIVITIES,
    SERVICE_LINKED_ROLE_POLICIES,
    SPOT_FLEET_HISTORY,
    is_service_linked_role,
    required_actions,
)
from batch_health.domain.iam_policy import Decision, PolicyDocument, evaluate
from batch_health.models import Status


def on_queue(monkeypatch, ce: dict[str, Any], policies: Any) -> list[str]:
    """The queue of this one CE, its service role answering `policies`; the roles read."""
    read: list[str] = []

    def documents(role: str) -> list[PolicyDocument]:
        read.append(role)
        if isinstance(policies, BaseException):
            raise policies
        return policies

    order = [{"order": 1, "computeEnvironment": ce["computeEnvironmentName"]}]
    patch_view(
        monkeypatch,
        job_queue=queue(computeEnvironmentOrder=order),
        compute_environment=lambda _name: ce,
        role_policy_documents=documents,
    )
    return read


def inline(statement: dict[str, Any]) -> list[PolicyDocument]:
    return [PolicyDocument("inline policy p", {"Version": "2012-10-17", "Statement": [statement]})]


def test_what_each_kind_of_environment_requires():
    ec2, spot = (
        answer("compute_environments", "botocore-p2ondemand-ec2"),
        answer("compute_environments", "botocore-m4spot"),
    )
    assert required_actions(ec2) == (SCALING_ACTIVITIES,)
    assert required_actions(spot) == (SCALING_ACTIVITIES, SPOT_FLEET_HISTORY)  # a Spot Fleet
    for ce_id in ("tf-docs-fargate", "tf-test-fargate-spot", "cdk-unmanaged-maximal"):
        assert required_actions(answer("compute_environments", ce_id)) == ()
    assert is_service_linked_role("")
    assert is_service_linked_role(
        answer("compute_environments", "cdk-ec2-optimal-bfp")["serviceRole"]
    )
    assert not is_service_linked_role("arn:aws:iam::012345678910:role/AWSBatchServiceRole")


def test_a_role_without_the_permission_warns_with_the_fix(aws, monkeypatch):
    ce = answer("compute_environments", "botocore-p2ondemand-ec2")
    read = on_queue(
        monkeypatch, ce, inline({"Effect": "Allow", "Action": "ec2:*", "Resource": "*"})
    )
    res = check(PLAIN_TARGET, "CE_CHECK")
    assert res.status is Status.WARN
    assert read == ["AWSBatchServiceRole"]
    assert "Batch cannot tell you why jobs wait" in res.detail
    assert f"does not allow {SCALING_ACTIVITIES}" in res.detail
    (hint,) = res.hints
    assert "aws iam put-role-policy --role-name AWSBatchServiceRole" in hint
    document = json.loads(hint.split("--policy-document '", 1)[1].split("'", 1)[0])
    assert document["Statement"][0]["Action"] == [SCALING_ACTIVITIES]
    assert "arn:aws:iam::aws:policy/service-role/AWSBatchServiceRole" in hint
    (facts,) = res.data["compute_environments"]
    assert facts["blocked_events"]["denied"] == [SCALING_ACTIVITIES]


def test_a_spot_fleet_environment_needs_both_and_an_explicit_deny_is_named(aws, monkeypatch):
    ce = answer("compute_environments", "botocore-m4spot")
    policies = [
        *inline({"Effect": "Allow", "Action": "*", "Resource": "*"}),
        PolicyDocument(
            "inline policy no-fleet",
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Deny", "Action": SPOT_FLEET_HISTORY, "Resource": "*"}],
            },
        ),
    ]
    on_queue(monkeypatch, ce, policies)
    res = check(PLAIN_TARGET, "CE_CHECK")
    assert res.status is Status.WARN
    assert SPOT_FLEET_HISTORY in res.detail
    assert SCALING_ACTIVITIES not in res.detail.split("does not allow", 1)[1].split("(no Batch")[0]
    assert "remove the Deny of inline policy no-fleet" in res.hints[0]


def test_a_role_with_what_batch_needs_is_ok(aws, monkeypatch):
    ce = answer("compute_environments", "botocore-m4spot")
    on_queue(monkeypatch, ce, inline(SERVICE_ROLE_POLICY["Statement"][0]))
    res = check(PLAIN_TARGET, "CE_CHECK")
    assert res.status is Status.OK, res.detail
    (facts,) = res.data["compute_environments"]
    assert facts["blocked_events"]["checked"] is True
    assert facts["blocked_events"]["denied"] == []


@pytest.mark.parametrize(
    "ce_id", ["cdk-ec2-optimal-bfp", "tf-docs-fargate", "tf-test-fargate-spot"]
)
def test_the_service_linked_role_and_fargate_are_not_read(aws, monkeypatch, ce_id):
    ce = answer("compute_environments", ce_id)
    read = on_queue(monkeypatch, ce, client_error("AccessDenied", "ListRolePolicies"))
    res = check(PLAIN_TARGET, "CE_CHECK")
    assert res.status is Status.OK, res.detail
    assert read == []


def test_the_documented_service_linked_policy_allows_both():
    for action in (SCALING_ACTIVITIES, SPOT_FLEET_HISTORY):
        assert evaluate(SERVICE_LINKED_ROLE_POLICIES, action, "*").decision is Decision.ALLOWED


def test_a_role_that_cannot_be_read_warns_that_it_went_unchecked(aws, monkeypatch):
    ce = answer("compute_environments", "botocore-p2ondemand-ec2")
    on_queue(monkeypatch, ce, client_error("AccessDenied", "ListAttachedRolePolicies"))
    res = check(PLAIN_TARGET, "CE_CHECK")
    assert res.status is Status.WARN
    assert "went unchecked" in res.detail
    assert "ListAttachedRolePolicies" in res.detail
    assert "iam:ListAttachedRolePolicies" in res.hints[0]


def test_the_emulator_role_without_a_policy_warns_and_with_one_is_ok(world):
    world.queue_with_ce()
    iam = world.client("iam")
    res = check(PLAIN_TARGET, "CE_CHECK")
    assert res.status is Status.OK, res.detail  # the world's role has the policy
    iam.delete_role_policy(
        RoleName="academy-batch-service-role", PolicyName="batch-capacity-detection"
    )
    res = check(PLAIN_TARGET, "CE_CHECK")
    assert res.status is Status.WARN
    assert f"does not allow {SCALING_ACTIVITIES}" in res.detail
