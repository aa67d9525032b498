"""The Batch answer layer: moto holds every job-definition shape AWS documents and answers
fair-share submits as AWS does, through real Batch requests (in-process and over HTTP)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from support.shape_world import REGISTERED_FIELDS
from support.shapes_data import answer, ids

from batch_health.demo import REGION, WorldBuilder, batch_shapes, start_emulator
from batch_health.demo.batch_shapes import (
    SHARE_IDENTIFIER_NOT_ALLOWED,
    SHARE_IDENTIFIER_REQUIRED,
)

# What a RegisterJobDefinition request carries, of a documented DescribeJobDefinitions answer.
REQUEST_FIELDS = REGISTERED_FIELDS
# Fields moto fills with defaults (containerProperties.command, eks containers' env, ...):
# compared as "holds at least what was registered".
CONTAINS_FIELDS = ("containerProperties", "eksProperties")
FIFO_QUEUE = "shapes-fifo"
FAIR_QUEUE = "shapes-fair"
SHARE = "A1"


def contains(expected: Any, actual: Any) -> bool:
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            k in actual and contains(v, actual[k]) for k, v in expected.items()
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(expected) == len(actual)
            and all(contains(e, a) for e, a in zip(expected, actual, strict=True))
        )
    return expected == actual


def request_of(documented: dict[str, Any]) -> dict[str, Any]:
    return {k: documented[k] for k in REQUEST_FIELDS if k in documented}


def queues(batch: Any, world: WorldBuilder) -> None:
    """A FIFO queue and a fair-share queue on one (unmanaged: no EC2 setup) environment."""
    role = world.client("iam").create_role(RoleName="batch-service", AssumeRolePolicyDocument="{}")
    ce = batch.create_compute_environment(
        computeEnvironmentName="shapes-ce",
        type="UNMANAGED",
        state="ENABLED",
        serviceRole=role["Role"]["Arn"],
    )["computeEnvironmentArn"]
    batch.create_job_queue(
        jobQueueName=FIFO_QUEUE,
        state="ENABLED",
        priority=1,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": ce}],
    )
    policy = batch.create_scheduling_policy(
        name="shapes-policy",
        fairsharePolicy={
            "shareDecaySeconds": 3600,
            "computeReservation": 1,
            "shareDistribution": [{"shareIdentifier": "A1*", "weightFactor": 0.1}],
        },
    )["arn"]
    batch.create_job_queue(
        jobQueueName=FAIR_QUEUE,
        state="ENABLED",
        priority=1,
        schedulingPolicyArn=policy,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": ce}],
    )


@pytest.fixture
def world(shapes_aws: None) -> WorldBuilder:
    return WorldBuilder(None)


@pytest.fixture
def batch(world: WorldBuilder) -> Any:
    return world.client("batch")


def describe_definition(batch: Any, arn: str) -> dict[str, Any]:
    return batch.describe_job_definitions(jobDefinitions=[arn])["jobDefinitions"][0]


def register_documented(batch: Any, id_: str) -> tuple[dict[str, Any], dict[str, Any]]:
    request = request_of(answer("job_definitions", id_))
    arn = batch.register_job_definition(**request)["jobDefinitionArn"]
    return request, describe_definition(batch, arn)


def test_install_is_idempotent(shapes_aws):
    assert batch_shapes.installed()
    assert batch_shapes.install() is False  # already in: nothing patched twice


@pytest.mark.parametrize("id_", ids("job_definitions"))
def test_every_documented_shape_is_described_as_registered(batch, id_):
    request, described = register_documented(batch, id_)
    for key, value in request.items():
        if key in CONTAINS_FIELDS:
            assert contains(value, described[key]), key
        else:
            assert described[key] == value, key


def test_scheduling_priority_and_platform_are_described(batch):
    request = request_of(answer("job_definitions", "docs-multicontainer-ecs-fargate"))
    arn = batch.register_job_definition(**request, schedulingPriority=42)["jobDefinitionArn"]
    described = describe_definition(batch, arn)
    assert described["schedulingPriority"] == 42
    assert described["platformCapabilities"] == ["FARGATE"]


def test_a_new_revision_holds_only_what_it_registered(batch):
    batch.register_job_definition(
        jobDefinitionName="reshaped",
        type="container",
        parameters={"job_id": "none"},
        platformCapabilities=["EC2"],
        containerProperties={
            "image": "busybox",
            "resourceRequirements": [
                {"type": "VCPU", "value": "1"},
                {"type": "MEMORY", "value": "512"},
            ],
        },
    )
    ecs = answer("job_definitions", "docs-multicontainer-ecs-ec2")["ecsProperties"]
    arn = batch.register_job_definition(
        jobDefinitionName="reshaped", type="container", ecsProperties=ecs
    )["jobDefinitionArn"]
    second = describe_definition(batch, arn)
    assert second["revision"] == 2
    assert second["ecsProperties"] == ecs
    assert "containerProperties" not in second
    assert second["parameters"] == {}


ECS = {"taskProperties": [{"containers": [{"name": "c1", "image": "busybox"}]}]}


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        ({"type": "container"}, "exactly one of containerProperties, ecsProperties"),
        (
            {"type": "container", "ecsProperties": ECS, "eksProperties": {"podProperties": {}}},
            "exactly one of",
        ),
        (
            {
                "type": "container",
                "ecsProperties": {"taskProperties": [ECS["taskProperties"][0]] * 2},
            },
            "exactly one task",
        ),
        (
            {
                "type": "container",
                "ecsProperties": {
                    "taskProperties": [
                        {"containers": [{"name": "c1", "image": "busybox", "essential": False}]}
                    ]
                },
            },
            "at least one essential container",
        ),
        (
            {
                "type": "container",
                "ecsProperties": {
                    "taskProperties": [{"containers": [{"name": "c1", "image": ""}]}]
                },
            },
            "must contain image",
        ),
        ({"type": "multinode"}, "nodeProperties must be provided"),
        (
            {
                "type": "multinode",
                "nodeProperties": {
                    "numNodes": 2,
                    "mainNode": 2,
                    "nodeRangeProperties": [{"targetNodes": "0:", "ecsProperties": ECS}],
                },
            },
            "mainNode must be fewer than numNodes",
        ),
        (
            {
                "type": "multinode",
                "nodeProperties": {
                    "numNodes": 2,
                    "mainNode": 0,
                    "nodeRangeProperties": [{"targetNodes": "0:"}],
                },
            },
            "exactly one of container, ecsProperties, eksProperties",
        ),
        (
            {"type": "container", "ecsProperties": ECS, "schedulingPriority": 10_000},
            "schedulingPriority must be between 0 and 9999",
        ),
    ],
)
def test_a_request_without_a_valid_shape_is_a_client_error(batch, request_, message):
    with pytest.raises(ClientError) as raised:
        batch.register_job_definition(jobDefinitionName="bad", **request_)
    assert raised.value.response["Error"]["Code"] == "ClientException"
    assert message in raised.value.response["Error"]["Message"]
    assert batch.describe_job_definitions(jobDefinitionName="bad")["jobDefinitions"] == []


def submit_and_describe(batch: Any, arn: str, queue: str = FIFO_QUEUE, **extra: Any) -> Any:
    job_id = batch.submit_job(jobName="shape-job", jobQueue=queue, jobDefinition=arn, **extra)[
        "jobId"
    ]
    return batch.describe_jobs(jobs=[job_id])["jobs"][0]


@pytest.mark.parametrize("id_", ids("job_definitions"))
def test_a_job_of_every_shape_goes_through(batch, world, id_):
    queues(batch, world)
    request, described = register_documented(batch, id_)
    job = submit_and_describe(batch, described["jobDefinitionArn"])
    assert job["status"] == "SUCCEEDED"
    for key in ("ecsProperties", "eksProperties", "nodeProperties"):
        if key in request:
            assert contains(request[key], job[key]), key


def test_submit_overrides_reach_the_described_job(batch, world):
    queues(batch, world)
    _, ecs_def = register_documented(batch, "docs-multicontainer-ecs-ec2")
    job = submit_and_describe(
        batch,
        ecs_def["jobDefinitionArn"],
        ecsPropertiesOverride={
            "taskProperties": [{"containers": [{"name": "c3", "command": ["echo", "override"]}]}]
        },
    )
    containers = {c["name"]: c for c in job["ecsProperties"]["taskProperties"][0]["containers"]}
    assert containers["c3"]["command"] == ["echo", "override"]
    assert containers["c1"]["command"] == ["echo", "hello world"]
    assert "container" not in job

    _, mnp = register_documented(batch, "tf-node-properties-ecs")  # an open-ended range
    job = submit_and_describe(batch, mnp["jobDefinitionArn"], nodeOverrides={"numNodes": 5})
    assert job["nodeProperties"]["numNodes"] == 5


def test_fair_share_queue_rejects_a_submit_without_share_identifier(batch, world):
    queues(batch, world)
    _, described = register_documented(batch, "docs-fetch-and-run")
    with pytest.raises(ClientError) as raised:
        submit_and_describe(batch, described["jobDefinitionArn"], queue=FAIR_QUEUE)
    error = raised.value.response["Error"]
    assert (error["Code"], error["Message"]) == ("ClientException", SHARE_IDENTIFIER_REQUIRED)
    assert error["Message"] == "shareIdentifier must be specified."


def test_fair_share_submit_with_share_identifier_is_described(batch, world):
    queues(batch, world)
    request = request_of(answer("job_definitions", "docs-fetch-and-run"))
    arn = batch.register_job_definition(**request, schedulingPriority=7)["jobDefinitionArn"]
    job = submit_and_describe(batch, arn, queue=FAIR_QUEUE, shareIdentifier=SHARE)
    assert (job["status"], job["shareIdentifier"], job["schedulingPriority"]) == (
        "SUCCEEDED",
        SHARE,
        7,
    )
    job = submit_and_describe(
        batch, arn, queue=FAIR_QUEUE, shareIdentifier=SHARE, schedulingPriorityOverride=99
    )
    assert job["schedulingPriority"] == 99


def test_fifo_queue_rejects_a_share_identifier(batch, world):
    queues(batch, world)
    _, described = register_documented(batch, "docs-fetch-and-run")
    with pytest.raises(ClientError) as raised:
        submit_and_describe(batch, described["jobDefinitionArn"], shareIdentifier=SHARE)
    assert raised.value.response["Error"]["Message"] == SHARE_IDENTIFIER_NOT_ALLOWED


def test_scheduling_priority_override_out_of_range_is_rejected(batch, world):
    queues(batch, world)
    _, described = register_documented(batch, "docs-fetch-and-run")
    with pytest.raises(ClientError, match="schedulingPriorityOverride must be between"):
        submit_and_describe(
            batch,
            described["jobDefinitionArn"],
            queue=FAIR_QUEUE,
            shareIdentifier=SHARE,
            schedulingPriorityOverride=10_000,
        )


def test_the_emulator_over_http_holds_the_shapes_and_the_fair_share_rule():
    server, url = start_emulator()
    try:
        assert batch_shapes.installed()
        world = WorldBuilder(url)
        batch = boto3.client(
            "batch",
            region_name=REGION,
            endpoint_url=url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        queues(batch, world)
        for id_ in ("docs-multicontainer-ecs-ec2", "docs-multicontainer-mnp"):
            request, described = register_documented(batch, id_)
            shape = "ecsProperties" if "ecsProperties" in request else "nodeProperties"
            assert described[shape] == request[shape]
            assert submit_and_describe(batch, described["jobDefinitionArn"])["status"] == (
                "SUCCEEDED"
            )
        with pytest.raises(ClientError, match="shareIdentifier must be specified"):
            submit_and_describe(batch, described["jobDefinitionArn"], queue=FAIR_QUEUE)
    finally:
        server.stop()
