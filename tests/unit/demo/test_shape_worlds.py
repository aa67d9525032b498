"""The shape worlds of `batch-health demo --scenario multi-container|multi-node|fair-share`:
what each builds (seen through describe calls), and what the demo reports on it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from batch_health.cli import main
from batch_health.demo import JOBDEF, LOG_GROUP, QUEUE, SCENARIOS, WorldBuilder
from batch_health.demo.shape_worlds import (
    CONTAINER_LOG_GROUPS,
    MAIN_RANGE,
    MISSING_CONTAINER,
    NUM_NODES,
    SCHEDULING_PRIORITY,
    SHARE_IDENTIFIER,
    WORKER_EXEC_ROLE,
    WORKER_RANGE,
    build_fair_share,
    build_multi_container,
    build_multi_node,
)

SHAPE_SCENARIOS = ("multi-container", "multi-node", "fair-share")


@pytest.fixture
def world(shapes_aws: None) -> WorldBuilder:
    return WorldBuilder(None)


def active_definition(world: WorldBuilder) -> dict[str, Any]:
    answer = world.client("batch").describe_job_definitions(
        jobDefinitionName=JOBDEF, status="ACTIVE"
    )["jobDefinitions"]
    assert len(answer) == 1
    return answer[0]


def existing_groups(world: WorldBuilder) -> set[str]:
    groups = world.client("logs").describe_log_groups()["logGroups"]
    return {g["logGroupName"] for g in groups}


def test_the_shape_scenarios_are_registered_and_seed_stays_the_default():
    assert set(SHAPE_SCENARIOS) <= set(SCENARIOS)
    assert SCENARIOS["multi-container"] is build_multi_container
    assert SCENARIOS["multi-node"] is build_multi_node
    assert SCENARIOS["fair-share"] is build_fair_share
    from batch_health.cli import build_parser

    assert build_parser().parse_args(["demo"]).scenario == "seed"


def test_multi_container_world_logs_each_container_to_its_own_group(world, tmp_path):
    built = build_multi_container(world, tmp_path)
    assert (built.name, built.target["job_definition"]) == ("multi-container", JOBDEF)
    jd = active_definition(world)
    assert "containerProperties" not in jd
    [task] = jd["ecsProperties"]["taskProperties"]
    logs = {
        c["name"]: c["logConfiguration"]["options"]["awslogs-group"] for c in task["containers"]
    }
    assert logs == CONTAINER_LOG_GROUPS
    assert [c["name"] for c in task["containers"] if c["essential"]] == ["transcoder"]
    missing = set(CONTAINER_LOG_GROUPS.values()) - existing_groups(world)
    assert missing == {CONTAINER_LOG_GROUPS[MISSING_CONTAINER]}


def test_multi_node_world_runs_each_node_range_under_its_own_role(world, tmp_path):
    build_multi_node(world, tmp_path)
    jd = active_definition(world)
    nodes = jd["nodeProperties"]
    assert (jd["type"], nodes["numNodes"], nodes["mainNode"]) == ("multinode", NUM_NODES, 0)
    roles = {
        r["targetNodes"]: r["container"]["executionRoleArn"] for r in nodes["nodeRangeProperties"]
    }
    assert list(roles) == [MAIN_RANGE, WORKER_RANGE]
    assert roles[WORKER_RANGE].endswith(f"role/{WORKER_EXEC_ROLE}")
    iam = world.client("iam")
    iam.get_role(RoleName=roles[MAIN_RANGE].rsplit("/", 1)[1])
    with pytest.raises(ClientError, match="NoSuchEntity"):
        iam.get_role(RoleName=WORKER_EXEC_ROLE)
    assert LOG_GROUP in existing_groups(world)


def test_fair_share_world_needs_a_share_identifier_to_submit(world, tmp_path):
    build_fair_share(world, tmp_path)
    batch = world.client("batch")
    [queue] = batch.describe_job_queues(jobQueues=[QUEUE])["jobQueues"]
    [policy] = batch.describe_scheduling_policies(arns=[queue["schedulingPolicyArn"]])[
        "schedulingPolicies"
    ]
    shares = [s["shareIdentifier"] for s in policy["fairsharePolicy"]["shareDistribution"]]
    assert SHARE_IDENTIFIER in shares
    jd = active_definition(world)
    assert (jd["revision"], jd["schedulingPriority"]) == (2, SCHEDULING_PRIORITY)

    submit = {"jobName": "by-hand", "jobQueue": QUEUE, "jobDefinition": JOBDEF}
    with pytest.raises(ClientError, match="shareIdentifier must be specified"):
        batch.submit_job(**submit)
    job_id = batch.submit_job(**submit, shareIdentifier=SHARE_IDENTIFIER)["jobId"]
    [job] = batch.describe_jobs(jobs=[job_id])["jobs"]
    assert (job["status"], job["shareIdentifier"]) == ("SUCCEEDED", SHARE_IDENTIFIER)


def demo_report(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    """`batch-health demo ... --format json` in-process (its own emulator on loopback).

    moto's state outlives a server within one process, so it is reset first: each demo
    starts from an empty account, as it does in its own process."""
    from moto.moto_api._internal.models import moto_api_backend

    moto_api_backend.reset()
    code = main(["demo", *argv, "--format", "json"])
    answer = json.loads(capsys.readouterr().out)
    report = answer["reports"][0] if "reports" in answer else answer
    return code, report


def checks_of(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in report["checks"]}


# The statuses below come from the checks, which other engineers extend for these shapes;
# each assertion on a check's status or detail depends on that work.


def test_demo_multi_container_names_the_container_whose_group_is_missing(capsys):
    code, report = demo_report(capsys, "--scenario", "multi-container")
    checks = checks_of(report)
    assert code == 1
    # Depends on the checks' multi-container support (LOG_GROUP_CHECK per container).
    assert checks["LOG_GROUP_CHECK"]["status"] == "FAIL"
    assert MISSING_CONTAINER in checks["LOG_GROUP_CHECK"]["detail"]
    assert CONTAINER_LOG_GROUPS[MISSING_CONTAINER] in checks["LOG_GROUP_CHECK"]["detail"]
    # Depends on the checks: a valid multi-container shape is never a FAIL.
    assert checks["JOBDEF_CHECK"]["status"] == "OK"


def test_demo_multi_node_names_the_node_range_whose_role_is_missing(capsys):
    code, report = demo_report(capsys, "--scenario", "multi-node")
    checks = checks_of(report)
    assert code == 1
    # Depends on the checks' multi-node support (IAM_CHECK per node range).
    assert checks["IAM_CHECK"]["status"] == "FAIL"
    assert WORKER_EXEC_ROLE in checks["IAM_CHECK"]["detail"]
    assert f"node range {WORKER_RANGE}" in checks["IAM_CHECK"]["detail"]
    assert checks["JOBDEF_CHECK"]["status"] == "OK"
    assert checks["LOG_GROUP_CHECK"]["status"] == "OK"


def test_demo_fair_share_without_submit_finds_nothing_wrong(capsys):
    code, report = demo_report(capsys, "--scenario", "fair-share")
    checks = checks_of(report)
    assert checks["SMOKE_SUBMIT_CHECK"]["status"] == "SKIP"
    # Depends on the checks: a fair-share queue is a valid queue.
    assert [n for n, c in checks.items() if c["status"] == "FAIL"] == []
    assert code == 0


def test_demo_fair_share_smoke_submit_carries_a_share_identifier(capsys):
    code, report = demo_report(capsys, "--scenario", "fair-share", "--allow-test-submit")
    smoke = checks_of(report)["SMOKE_SUBMIT_CHECK"]
    # Depends on SMOKE_SUBMIT_CHECK choosing a share identifier for a fair-share queue;
    # without one the emulator answers as AWS does: "shareIdentifier must be specified."
    assert smoke["status"] == "OK", smoke["detail"]
    assert "share " in smoke["detail"]
    assert code == 0
