"""IAM_CHECK: missing role vs. trust vs. permission, and which method decided."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError
from botocore.parsers import ResponseParserError, create_parser
from support.suite import run_target, run_targets

from batch_health.aws.inventory import Inventory, TargetView
from batch_health.aws.sessions import AwsSessions
from batch_health.aws.simulation import simulation_answers
from batch_health.config import Target
from batch_health.demo import (
    ECS_TRUST,
    EXEC_ROLE,
    JOB_ROLE,
    JOBDEF,
    LOG_GROUP,
    QUEUE,
    WORKER_COMMAND,
)
from batch_health.models import CheckResult, Status

STREAM_ARN = f"arn:aws:logs:ap-northeast-2:123456789012:log-group:{LOG_GROUP}:log-stream:*"


@pytest.fixture
def target(world) -> dict[str, Any]:
    """The ops report's job definition and roles (no queue: IAM_CHECK does not read it)."""
    world.job_definition(command=WORKER_COMMAND)
    return {"job_queue": QUEUE, "job_definition": JOBDEF}


def iam_check(target: dict[str, Any], **options: Any) -> CheckResult:
    result = run_target(target, checks=["IAM_CHECK"], **options).result("IAM_CHECK")
    assert result is not None
    return result


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


def register_container(world, name: str, **container: Any) -> None:
    """A one-vCPU container job definition `name` with these container properties."""
    world.client("batch").register_job_definition(
        jobDefinitionName=name,
        type="container",
        containerProperties={
            "command": ["true"],
            "resourceRequirements": [
                {"type": "VCPU", "value": "1"},
                {"type": "MEMORY", "value": "512"},
            ],
            **container,
        },
    )


def denied(code: str = "AccessDenied") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "not authorized"}}, "Operation")


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
    monkeypatch.setattr(
        TargetView, "role_policy_documents", lambda self, name: pytest.fail("not needed")
    )
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


class _Body:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any):
        yield self._body


def test_a_failing_simulation_is_not_retried():
    """Emulators answer 500 for the simulator; retrying would only spend the time budget."""
    view = Inventory(AwsSessions()).view(Target(job_queue=QUEUE, job_definition=JOBDEF))
    sends: list[str] = []

    def answer_500(request, **_):
        sends.append(request.url)
        return AWSResponse(request.url, 500, {}, _Body(b"<html>Internal Server Error</html>"))

    view.client("iam").meta.events.register_first(
        "before-send.iam.SimulatePrincipalPolicy", answer_500
    )
    with pytest.raises((ClientError, ResponseParserError)):
        view.simulate_principal_policy(
            f"arn:aws:iam::123456789012:role/{EXEC_ROLE}", ("logs:PutLogEvents",), "*"
        )
    assert len(sends) == 1


# --- the simulator's answer as AWS gives it now ------------------------------------------
# One result per action: the top-level EvalResourceName is the ARN template of the resource
# type, and each resource asked about has its decision in ResourceSpecificResults.
LOG_STREAM_TEMPLATE = (
    "arn:${Partition}:logs:${Region}:${Account}:log-group:${LogGroupName}"
    ":log-stream:${LogStreamName}"
)


def _member(tag: str, fields: dict[str, str], matched: str = "") -> str:
    inner = "".join(f"<{k}>{v}</{k}>" for k, v in fields.items())
    statements = f"<MatchedStatements><member><SourcePolicyId>{matched}</SourcePolicyId>"
    statements += "<SourcePolicyType>IAM Policy</SourcePolicyType></member></MatchedStatements>"
    return f"<{tag}>{inner}{statements if matched else '<MatchedStatements/>'}</{tag}>"


def simulator_answer(
    decide: dict[Any, str], unanswered: tuple[str, ...] = (), before: Any = None
) -> Any:
    """A before-call handler answering SimulatePrincipalPolicy in today's shape, parsed by
    botocore's own query parser. `decide`: action, or (action, resource), -> decision
    (default allowed); `unanswered`: actions left out of the answer. Records the resources
    of every simulation asked for."""
    asked: list[list[str]] = []
    strictness = ["allowed", "implicitDeny", "explicitDeny"]

    def answer(model, params, **_):
        if before is not None:
            before()
        form = params["body"]
        actions = [v for k, v in sorted(form.items()) if k.startswith("ActionNames.member.")]
        resources = [v for k, v in sorted(form.items()) if k.startswith("ResourceArns.member.")]
        asked.append(resources)
        results = []
        for action in actions:
            if action in unanswered:
                continue
            decisions = {
                r: decide.get((action, r), decide.get(action, "allowed")) for r in resources
            }
            specific = "".join(
                _member(
                    "member",
                    {"EvalResourceName": r, "EvalResourceDecision": d},
                    "guard" if d == "explicitDeny" else "",
                )
                for r, d in decisions.items()
            )
            aggregate = max(decisions.values(), key=strictness.index)
            template = LOG_STREAM_TEMPLATE if action.startswith("logs:") else "*"
            top = _member(
                "member",
                {
                    "EvalActionName": action,
                    "EvalResourceName": template,
                    "EvalDecision": aggregate,
                    "ResourceSpecificResults": specific,
                },
                "guard" if aggregate == "explicitDeny" else "",
            )
            results.append(top)
        body = (
            '<SimulatePrincipalPolicyResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">'
            "<SimulatePrincipalPolicyResult><IsTruncated>false</IsTruncated>"
            f"<EvaluationResults>{''.join(results)}</EvaluationResults>"
            "</SimulatePrincipalPolicyResult>"
            "<ResponseMetadata><RequestId>r</RequestId></ResponseMetadata>"
            "</SimulatePrincipalPolicyResponse>"
        ).encode()
        http = {"body": body, "headers": {}, "status_code": 200}
        parsed = create_parser("query").parse(http, model.output_shape)
        return AWSResponse("https://iam.amazonaws.com/", 200, {}, _Body(body)), parsed

    return answer, asked


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


def test_older_answers_with_one_result_per_resource_are_read_per_resource():
    results = [
        {
            "EvalActionName": "logs:PutLogEvents",
            "EvalResourceName": "r1",
            "EvalDecision": "allowed",
        },
        {
            "EvalActionName": "logs:PutLogEvents",
            "EvalResourceName": "r2",
            "EvalDecision": "implicitDeny",
        },
    ]
    (r1,) = simulation_answers(results, ("logs:PutLogEvents",), "r1", alone=False)
    (r2,) = simulation_answers(results, ("logs:PutLogEvents",), "r2", alone=False)
    assert (r1["EvalDecision"], r2["EvalDecision"]) == ("allowed", "implicitDeny")
    assert r2["EvalResourceName"] == "r2"


def test_one_resource_asked_about_takes_the_top_level_decision():
    # The top-level decision is the most restrictive over the resources asked about.
    results = [
        {
            "EvalActionName": "ecr:BatchGetImage",
            "EvalResourceName": "*",
            "EvalDecision": "explicitDeny",
        }
    ]
    (answer,) = simulation_answers(results, ("ecr:BatchGetImage",), "arn:repo", alone=True)
    assert answer["EvalDecision"] == "explicitDeny"
    assert answer["EvalResourceName"] == "arn:repo"
    (unanswered,) = simulation_answers(results, ("ecr:GetDownloadUrlForLayer",), "x", alone=True)
    assert unanswered["EvalDecision"] == "implicitDeny"
    assert unanswered["MissingContextValues"]  # undetermined for the check, not allowed


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
