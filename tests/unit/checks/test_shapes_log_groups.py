"""An EC2 job of several containers, each writing its own awslogs group (the shapes
corpus's docs-multicontainer-ecs-ec2-awslogs-per-container: AWS's multi-container EC2
scenario with a logConfiguration per container and an execution role; its note says what
was added to the docs payload): LOG_GROUP_CHECK checks every group and names the container
whose group is missing, and IAM_CHECK asks the execution role about every group, naming the
group and container it may not write.
"""

from __future__ import annotations

import pytest
from support.checks import assert_explained, run
from support.shape_world import ShapeWorld
from support.shapes_data import answer

from batch_health.models import CheckResult, Status

SHAPE = "docs-multicontainer-ecs-ec2-awslogs-per-container"
ROLE = "ecsTaskExecutionRole"
CONTAINERS = ("c1", "c2", "c3")


def group(container: str) -> str:
    return f"/aws/batch/multicontainer-ecs-ec2/{container}"


@pytest.fixture
def world(shapes_aws):
    from batch_health.demo import WorldBuilder

    return WorldBuilder(None)


@pytest.fixture
def shape(world) -> ShapeWorld:
    """The job definition, its execution role allowed each group, and the three groups."""
    return ShapeWorld(world, answer("job_definitions", SHAPE)).build()


def results(shape: ShapeWorld, checks: list[str]) -> dict[str, CheckResult]:
    return {r.name: r for r in run(shape.target, checks).checks}


def test_the_model_reads_a_group_per_container(shape):
    assert shape.view.on_fargate is False
    assert {g: [c.where for c in cs] for g, cs in shape.view.log_groups.items()} == {
        group(c): [f"container {c}"] for c in CONTAINERS
    }


def test_every_group_present_is_ok_and_each_is_listed(shape):
    res = results(shape, ["LOG_GROUP_CHECK"])["LOG_GROUP_CHECK"]
    assert res.status is Status.OK, res.detail
    for c in CONTAINERS:
        assert f"logGroup={group(c)} (container {c}) retentionInDays=30" in res.detail
    assert [(g["log_group"], g["containers"], g["status"]) for g in res.data["log_groups"]] == [
        (group(c), [f"container {c}"], "OK") for c in CONTAINERS
    ]


def test_one_containers_missing_group_is_named_with_that_container(shape, world):
    world.client("logs").delete_log_group(logGroupName=group("c2"))
    res = results(shape, ["LOG_GROUP_CHECK"])["LOG_GROUP_CHECK"]
    assert res.status is Status.FAIL
    assert_explained(res)
    assert res.detail == (
        f"log group missing: {group('c2')} (the job definition's awslogs-group, written by "
        f"container c2) does not exist in {world.region}"
    )
    assert f"--log-group-name {group('c2')}" in res.hints[0]
    # The other containers' groups were checked too, and found.
    statuses = {g["log_group"]: g["status"] for g in res.data["log_groups"]}
    assert statuses == {group("c1"): "OK", group("c2"): "FAIL", group("c3"): "OK"}


def test_the_execution_role_is_asked_about_every_group(shape, world):
    res = results(shape, ["IAM_CHECK"])["IAM_CHECK"]
    assert res.status is Status.OK, res.detail
    for c in CONTAINERS:
        assert f"write logs to {group(c)} (container {c})" in res.detail
    asked = {
        (p["action"], p["resource"])
        for p in res.data["permissions"]
        if p["role"] == ROLE and p["action"].startswith("logs:")
    }
    streams = [
        f"arn:aws:logs:{world.region}:123456789012:log-group:{group(c)}:log-stream:*"
        for c in CONTAINERS
    ]
    assert asked == {
        (action, stream)
        for stream in streams
        for action in ("logs:CreateLogStream", "logs:PutLogEvents")
    }


def test_a_group_the_execution_role_may_not_write_is_named_with_its_container(shape, world):
    shape.grant_execution_roles(skip=(f"write logs to {group('c3')}",))
    res = results(shape, ["IAM_CHECK"])["IAM_CHECK"]
    assert res.status is Status.FAIL
    assert_explained(res)
    stream = f"arn:aws:logs:{world.region}:123456789012:log-group:{group('c3')}:log-stream:*"
    assert res.detail.startswith(
        f"execution role {ROLE} may not logs:CreateLogStream, logs:PutLogEvents on {stream} "
        f"(needed to write logs to {group('c3')} (container c3); no policy allows it)"
    )
    assert group("c1") not in res.detail and group("c2") not in res.detail
    assert any(f"log-group:{group('c3')}:*" in h and f"--role-name {ROLE}" in h for h in res.hints)
