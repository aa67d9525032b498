"""IAM_CHECK with iam:SimulatePrincipalPolicy: the simulator decides when it answers, local
evaluation when it is denied; its answer read as AWS gives it today; one simulation per role
for every target of that role."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from botocore.exceptions import ClientError
from support.iam import STREAM_ARN, iam_check, register_container, simulator_answer
from support.suite import run_targets

from batch_health.aws.inventory import TargetView
from batch_health.aws.sessions import AwsSessions
from batch_health.demo import ECS_TRUST, EXEC_ROLE, JOBDEF, LOG_GROUP, QUEUE, WORKER_COMMAND
from batch_health.models import CheckResult, Status


def denied(code: str = "AccessDenied") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "not authorized"}}, "Operation")


# --- a simulator that answers, or is denied ------------------------------------------------


def simulator(decision: str, missing_context: bool = False):
    calls: list[tuple[str, tuple[str, ...], str]] = []

    def simulate(self, principal_arn, actions, resource_arn):
        calls.append((principal_arn, actions, resource_arn))
        return [
            {
                "EvalActionName": action,
                "EvalResourceName": resource_arn,
                "EvalDecision": decision if action == "logs:PutLogEvents" else "allowed",
                "MissingContextValues": ["aws:SourceVpc"] if missing_context else [],
            }
            for action in actions
        ]

    return simulate, calls


def test_simulator_decides_when_available(target, monkeypatch):
    simulate, calls = simulator("allowed")
    monkeypatch.setattr(TargetView, "simulate_principal_policy", simulate)

    def policies(self, name):  # read ahead, in case the simulator fails: never used here
        raise AssertionError("the local evaluation's answer is not used")

    monkeypatch.setattr(TargetView, "role_policy_documents", policies)
    result = iam_check(target)
    assert result.status is Status.OK
    assert result.detail.endswith("(decided by iam:SimulatePrincipalPolicy)")
    assert result.data["permission_method"] == "iam:SimulatePrincipalPolicy"
    assert (
        f"arn:aws:iam::123456789012:role/{EXEC_ROLE}",
        ("logs:CreateLogStream", "logs:PutLogEvents"),
        STREAM_ARN,
    ) in calls


def test_simulator_deny_fails_even_when_policies_look_fine(target, monkeypatch):
    simulate, _ = simulator("implicitDeny")  # e.g. a permissions boundary
    monkeypatch.setattr(TargetView, "simulate_principal_policy", simulate)
    result = iam_check(target)
    assert result.status is Status.FAIL
    assert "may not logs:PutLogEvents" in result.detail
    assert "decided by iam:SimulatePrincipalPolicy" in result.detail


def test_simulator_missing_context_is_undetermined(target, monkeypatch):
    simulate, _ = simulator("implicitDeny", missing_context=True)
    monkeypatch.setattr(TargetView, "simulate_principal_policy", simulate)
    assert iam_check(target).status is Status.WARN


@pytest.mark.parametrize("code", ["AccessDenied", "403"])
def test_simulator_denied_falls_back_to_local_evaluation(target, monkeypatch, code):
    def simulate(self, *args):
        raise denied(code)

    monkeypatch.setattr(TargetView, "simulate_principal_policy", simulate)
    result = iam_check(target)
    assert result.status is Status.OK
    assert f"iam:SimulatePrincipalPolicy access denied ({code})" in result.detail
    assert result.data["permission_method"].startswith("local evaluation of 1 policy")


def test_unreadable_policies_fail_with_what_to_grant(target, monkeypatch):
    def simulate(self, *args):
        raise denied()

    def policies(self, name):
        raise denied("AccessDenied")

    monkeypatch.setattr(TargetView, "simulate_principal_policy", simulate)
    monkeypatch.setattr(TargetView, "role_policy_documents", policies)
    result = iam_check(target)
    assert result.status is Status.FAIL
    assert f"cannot evaluate {EXEC_ROLE}'s permissions" in result.detail
    assert any(
        "iam:SimulatePrincipalPolicy" in h and "iam:GetRolePolicy" in h for h in result.hints
    )


def test_unreachable_policies_say_so_instead_of_asking_for_a_grant(target, monkeypatch):
    from botocore.exceptions import EndpointConnectionError

    def simulate(self, *args):
        raise denied()

    def policies(self, name):
        raise EndpointConnectionError(endpoint_url="https://iam.amazonaws.com/")

    monkeypatch.setattr(TargetView, "simulate_principal_policy", simulate)
    monkeypatch.setattr(TargetView, "role_policy_documents", policies)
    result = iam_check(target)
    assert result.status is Status.FAIL
    assert "endpoint unreachable" in result.detail
    assert not any("Grant" in h for h in result.hints)
    assert any("unreachable" in h for h in result.hints)


# --- the simulator's answer as AWS gives it now ------------------------------------------


@pytest.fixture
def todays_simulator(monkeypatch):
    """Install a simulator answer on every iam client the run makes."""

    def install(
        decide: dict[Any, str], unanswered: tuple[str, ...] = (), before: Any = None
    ) -> list[list[str]]:
        answer, asked = simulator_answer(decide, unanswered, before)
        make = AwsSessions._make

        def make_with_simulator(self, key):
            client = make(self, key)
            if key.service == "iam":
                client.meta.events.register_first("before-call.iam.SimulatePrincipalPolicy", answer)
            return client

        monkeypatch.setattr(AwsSessions, "_make", make_with_simulator)
        return asked

    return install


def test_todays_simulator_denial_on_the_log_stream_fails(target, todays_simulator):
    # The top-level EvalResourceName is a template, not the stream ARN: the decision for the
    # stream is read from ResourceSpecificResults, so the denial is not lost.
    asked = todays_simulator({"logs:PutLogEvents": "implicitDeny"})
    result = iam_check(target)
    (resources,) = asked  # one simulation: the log stream, ECR's "*" and the repository
    assert STREAM_ARN in resources
    assert result.status is Status.FAIL
    assert f"may not logs:PutLogEvents on {STREAM_ARN}" in result.detail
    assert "decided by iam:SimulatePrincipalPolicy" in result.detail


def test_todays_simulator_allowing_everything_is_ok(target, todays_simulator):
    todays_simulator({})
    result = iam_check(target)
    assert result.status is Status.OK
    assert result.detail.endswith("(decided by iam:SimulatePrincipalPolicy)")
    permissions = {(p["action"], p["resource"], p["decision"]) for p in result.data["permissions"]}
    assert ("logs:PutLogEvents", STREAM_ARN, "allowed") in permissions


def test_todays_simulator_explicit_deny_names_the_statement(target, todays_simulator):
    todays_simulator({"logs:CreateLogStream": "explicitDeny"})
    result = iam_check(target)
    assert result.status is Status.FAIL
    assert "may not logs:CreateLogStream" in result.detail
    assert "explicitly denied by guard" in result.detail
    assert any("Remove or narrow the Deny in guard" in h for h in result.hints)


def test_an_action_the_simulator_leaves_unanswered_is_undetermined_not_allowed(
    target, todays_simulator
):
    todays_simulator({}, unanswered=("logs:CreateLogStream",))
    result = iam_check(target)
    assert result.status is Status.WARN
    assert "logs:CreateLogStream" in result.detail


# --- one simulation for every target of a role ----------------------------------------------
def family(world, count: int) -> list[dict[str, Any]]:
    """`count` targets whose job definitions share the ops report's execution role, each logging to
    its own group."""
    world.job_definition(command=WORKER_COMMAND)
    batch = world.client("batch")
    seed = batch.describe_job_definitions(jobDefinitionName=JOBDEF)["jobDefinitions"][0]
    targets = [{"name": "video-0", "job_queue": QUEUE, "job_definition": JOBDEF}]
    world.client("iam").put_role_policy(  # the role may write to every group of the family
        RoleName=EXEC_ROLE,
        PolicyName=f"{EXEC_ROLE}-inline",
        PolicyDocument=json.dumps(world.execution_policy(f"{LOG_GROUP}*")),
    )
    for i in range(1, count):
        container = json.loads(json.dumps(seed["containerProperties"]))
        container["logConfiguration"]["options"]["awslogs-group"] = f"{LOG_GROUP}-{i}"
        register_container(world, f"{JOBDEF}-{i}", **container)
        targets.append(
            {"name": f"video-{i}", "job_queue": QUEUE, "job_definition": f"{JOBDEF}-{i}"}
        )
    return targets


def stream_arn(group: str) -> str:
    return f"arn:aws:logs:ap-northeast-2:123456789012:log-group:{group}:log-stream:*"


def iam_results(targets: list[dict[str, Any]]) -> tuple[dict[str, CheckResult], AwsSessions]:
    sessions = AwsSessions()
    suite = run_targets(targets, sessions, checks=["IAM_CHECK"])
    return {r.target: r.result("IAM_CHECK") for r in suite.reports}, sessions


def test_one_simulation_asks_about_every_targets_resources(world, todays_simulator):
    asked = todays_simulator({})
    results, _ = iam_results(family(world, 3))
    assert {name: r.status for name, r in results.items()} == dict.fromkeys(
        ("video-0", "video-1", "video-2"), Status.OK
    )
    (resources,) = asked
    assert {
        stream_arn(LOG_GROUP),
        stream_arn(f"{LOG_GROUP}-1"),
        stream_arn(f"{LOG_GROUP}-2"),
    } <= set(resources)


def test_a_denial_on_one_targets_resource_fails_that_target_only(world, todays_simulator):
    denied_stream = stream_arn(f"{LOG_GROUP}-1")
    todays_simulator({("logs:PutLogEvents", denied_stream): "implicitDeny"})
    results, _ = iam_results(family(world, 3))
    assert results["video-1"].status is Status.FAIL
    assert f"may not logs:PutLogEvents on {denied_stream}" in results["video-1"].detail
    assert results["video-0"].status is Status.OK
    assert results["video-2"].status is Status.OK


def test_without_a_simulator_one_attempt_serves_every_target(world):
    # moto does not implement the simulator: one failed call, then local evaluation for all.
    results, sessions = iam_results(family(world, 3))
    assert all(r.status is Status.OK for r in results.values()), results
    assert all("iam:SimulatePrincipalPolicy not implemented" in r.detail for r in results.values())
    assert sessions.stats.calls["iam:SimulatePrincipalPolicy"] == 1


def test_each_execution_role_has_its_own_simulation_side_by_side(world, todays_simulator):
    """Each role is simulated with its own targets' resources only, and the roles'
    simulations are in flight together (each answer waits for the other's question)."""
    both_asked = threading.Barrier(2, timeout=3)
    asked = todays_simulator({}, before=both_asked.wait)
    targets = family(world, 2)
    iam = world.client("iam")
    other = iam.create_role(RoleName="other-exec", AssumeRolePolicyDocument=json.dumps(ECS_TRUST))
    batch = world.client("batch")
    jd = batch.describe_job_definitions(jobDefinitionName=f"{JOBDEF}-1")["jobDefinitions"][0]
    container = {**jd["containerProperties"], "executionRoleArn": other["Role"]["Arn"]}
    register_container(world, f"{JOBDEF}-1", **container)
    results, _ = iam_results(targets)
    assert all(r.status is Status.OK for r in results.values()), results
    assert all(
        r.data["permission_method"] == "iam:SimulatePrincipalPolicy" for r in results.values()
    )
    streams = sorted(tuple(sorted(r for r in resources if ":logs:" in r)) for resources in asked)
    assert streams == sorted([(stream_arn(LOG_GROUP),), (stream_arn(f"{LOG_GROUP}-1"),)])
