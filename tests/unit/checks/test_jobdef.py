"""JOBDEF_CHECK: which revision is checked, and what a job definition needs to run and log:
retries, a container image, an execution role on Fargate, the awslogs driver."""

from __future__ import annotations

from typing import Any

import pytest
from support.checks import (
    ACCOUNT,
    JOBDEF_ARN,
    PLAIN_TARGET,
    assert_explained,
    check,
    patch_view,
    stubbed,
)

from batch_health.demo import JOBDEF, REGION, WorldBuilder
from batch_health.models import Status


def container(**overrides: Any) -> dict[str, Any]:
    base = {
        "image": "worker:latest",
        "executionRoleArn": f"arn:aws:iam::{ACCOUNT}:role/exec",
        "jobRoleArn": f"arn:aws:iam::{ACCOUNT}:role/job",
        "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "/aws/batch/w"}},
    }
    base.update(overrides)
    return base


def jobdef(**overrides: Any) -> dict[str, Any]:
    base = {
        "jobDefinitionName": JOBDEF,
        "jobDefinitionArn": f"{JOBDEF_ARN}:4",
        "revision": 4,
        "status": "ACTIVE",
        "type": "container",
        "retryStrategy": {"attempts": 3},
        "containerProperties": container(),
    }
    base.update(overrides)
    return base


def register(world: WorldBuilder, name: str = JOBDEF, **kwargs: Any) -> int:
    kwargs.setdefault("type", "container")
    props = kwargs.setdefault("containerProperties", {"image": "worker:latest"})
    props.setdefault("resourceRequirements", [])
    props.setdefault("vcpus", 1)
    props.setdefault("memory", 512)
    return world.client("batch").register_job_definition(jobDefinitionName=name, **kwargs)[
        "revision"
    ]


def test_jobdef_healthy_is_ok(healthy_world):
    res = check(healthy_world, "JOBDEF_CHECK")
    assert res.status is Status.OK
    assert res.detail.startswith("revision=1 type=container image=")
    assert "logGroup=/aws/batch/academy-video-worker retryStrategy.attempts=3" in res.detail
    assert res.data["jobRoleArn"].endswith(":role/academy-video-batch-job-role")


def test_jobdef_retry_attempts_one_is_a_warning(seed_world):
    res = check(seed_world, "JOBDEF_CHECK")
    assert res.status is Status.WARN
    assert_explained(res)
    assert "retryStrategy.attempts=1" in res.detail
    assert "attempts=3" in res.hints[0]


def test_jobdef_without_retry_strategy_is_a_warning(aws, monkeypatch):
    patch_view(monkeypatch, job_definition=jobdef(retryStrategy=None))
    res = check(PLAIN_TARGET, "JOBDEF_CHECK")
    assert res.status is Status.WARN
    assert res.data["retryStrategy.attempts"] == 1


def test_jobdef_missing(world):
    res = check(PLAIN_TARGET, "JOBDEF_CHECK")
    assert res.status is Status.FAIL
    assert_explained(res)
    assert res.detail == f"job definition {JOBDEF} has no ACTIVE revision in {REGION}"
    assert "describe-job-definitions" in res.hints[0]


def test_jobdef_only_inactive_revisions_is_no_active_revision(world):
    register(world)
    world.client("batch").deregister_job_definition(jobDefinition=f"{JOBDEF}:1")
    res = check(PLAIN_TARGET, "JOBDEF_CHECK")
    assert res.status is Status.FAIL
    assert res.detail == f"job definition {JOBDEF} has no ACTIVE revision in {REGION}"


def test_jobdef_latest_active_revision_is_chosen(world):
    for image in ("worker:1", "worker:2", "worker:3"):
        register(world, containerProperties={"image": image}, retryStrategy={"attempts": 2})
    res = check(PLAIN_TARGET, "JOBDEF_CHECK")
    assert res.data["revision"] == 3
    assert res.data["image"] == "worker:3"


def test_jobdef_latest_active_skips_a_deregistered_newest(world):
    for image in ("worker:1", "worker:2"):
        register(world, containerProperties={"image": image})
    world.client("batch").deregister_job_definition(jobDefinition=f"{JOBDEF}:2")
    res = check(PLAIN_TARGET, "JOBDEF_CHECK")
    assert (res.data["revision"], res.data["image"]) == (1, "worker:1")


def test_jobdef_exact_revision_by_arn(world):
    for image in ("worker:1", "worker:2", "worker:3"):
        register(world, containerProperties={"image": image})
    res = check({**PLAIN_TARGET, "job_definition": f"{JOBDEF_ARN}:2"}, "JOBDEF_CHECK")
    assert (res.data["revision"], res.data["image"]) == (2, "worker:2")


def test_jobdef_exact_revision_by_name_colon_revision(aws):
    # moto only resolves ARNs in `jobDefinitions`; AWS also takes name:revision.
    sessions, stub = stubbed("batch")
    answer = jobdef(revision=2, containerProperties=container(image="worker:2"))
    stub.add_response(
        "describe_job_definitions",
        {"jobDefinitions": [answer]},
        expected_params={"jobDefinitions": [f"{JOBDEF}:2"]},
    )
    res = check(
        {**PLAIN_TARGET, "job_definition": f"{JOBDEF}:2"}, "JOBDEF_CHECK", sessions=sessions
    )
    assert (res.data["revision"], res.data["image"]) == (2, "worker:2")
    stub.assert_no_pending_responses()


def test_jobdef_multi_node_is_not_failed_for_its_shape(aws, monkeypatch):
    # The shape moto cannot hold (it drops nodeProperties): the documented answer instead.
    answer = jobdef(
        type="multinode",
        containerProperties=None,
        nodeProperties={
            "numNodes": 1,
            "mainNode": 0,
            "nodeRangeProperties": [
                {"targetNodes": "0", "container": {"image": "x", "vcpus": 1, "memory": 512}}
            ],
        },
    )
    del answer["containerProperties"]
    patch_view(monkeypatch, job_definition=answer)
    res = check(PLAIN_TARGET, "JOBDEF_CHECK")
    assert res.status is Status.OK
    assert res.detail.startswith("revision=4 multi-node parallel; 1 nodes in 1 node ranges")


def test_jobdef_without_image(aws, monkeypatch):
    patch_view(monkeypatch, job_definition=jobdef(containerProperties=container(image="")))
    res = check(PLAIN_TARGET, "JOBDEF_CHECK")
    assert res.status is Status.FAIL
    assert_explained(res)
    assert res.detail == f"{JOBDEF}:4: container has no image"
    assert "an image for container" in res.hints[0]


def test_jobdef_fargate_without_execution_role(world):
    register(
        world,
        platformCapabilities=["FARGATE"],
        containerProperties={
            "image": "worker:latest",
            "resourceRequirements": [
                {"type": "VCPU", "value": "1"},
                {"type": "MEMORY", "value": "2048"},
            ],
        },
    )
    res = check(PLAIN_TARGET, "JOBDEF_CHECK")
    assert res.status is Status.FAIL
    assert_explained(res)
    assert res.detail == (
        f"{JOBDEF}:1: the job runs on Fargate ECS without an executionRoleArn, so it cannot "
        "write its awslogs"
    )
    assert "AmazonECSTaskExecutionRolePolicy" in res.hints[0]


def test_jobdef_ec2_without_execution_role_is_fine(aws, monkeypatch):
    patch_view(
        monkeypatch, job_definition=jobdef(containerProperties=container(executionRoleArn=""))
    )
    assert check(PLAIN_TARGET, "JOBDEF_CHECK").status is Status.OK


def test_jobdef_log_driver_keeping_output_on_the_host_is_a_warning(world):
    register(
        world,
        containerProperties={
            "image": "worker:latest",
            "logConfiguration": {"logDriver": "json-file"},
        },
        retryStrategy={"attempts": 3},
    )
    res = check(PLAIN_TARGET, "JOBDEF_CHECK")
    assert res.status is Status.WARN
    assert_explained(res)
    assert "container logs with logDriver=json-file: its output stays on the instance" in (
        res.detail
    )
    assert "Use awslogs" in res.hints[0]


@pytest.mark.parametrize(
    ("driver", "fargate", "said"),
    [
        ("none", False, "which Batch does not support"),
        ("fluentd", True, "which Fargate does not support"),
    ],
)
def test_jobdef_log_driver_that_cannot_run_is_a_fail(aws, monkeypatch, driver, fargate, said):
    props = container(logConfiguration={"logDriver": driver})
    extra = {"platformCapabilities": ["FARGATE"]} if fargate else {}
    patch_view(monkeypatch, job_definition=jobdef(containerProperties=props, **extra))
    res = check(PLAIN_TARGET, "JOBDEF_CHECK")
    assert res.status is Status.FAIL
    assert f"container logs with logDriver={driver}, {said}" in res.detail


@pytest.mark.parametrize("driver", ["splunk", "awsfirelens", "fluentd", "gelf", "syslog"])
def test_jobdef_log_driver_shipping_elsewhere_is_fine(aws, monkeypatch, driver):
    props = container(logConfiguration={"logDriver": driver})
    patch_view(monkeypatch, job_definition=jobdef(containerProperties=props))
    res = check(PLAIN_TARGET, "JOBDEF_CHECK")
    assert res.status is Status.OK
    assert res.data["containers"][0]["log"] == driver


def test_jobdef_default_log_config_means_awslogs_and_the_default_group(aws, monkeypatch):
    props = container()
    del props["logConfiguration"]
    patch_view(monkeypatch, job_definition=jobdef(containerProperties=props))
    res = check(PLAIN_TARGET, "JOBDEF_CHECK")
    assert res.status is Status.OK
    assert res.data["logGroup"] == "/aws/batch/job"


@pytest.mark.parametrize("props", [None, {}])
def test_jobdef_without_container_properties_is_a_clear_fail(aws, monkeypatch, props):
    answer = jobdef(containerProperties=props)
    if props is None:
        del answer["containerProperties"]
    patch_view(monkeypatch, job_definition=answer)
    res = check(PLAIN_TARGET, "JOBDEF_CHECK")
    assert res.status is Status.FAIL
    assert_explained(res)
    assert res.detail == (
        f"{JOBDEF}:4: no container: none of containerProperties, ecsProperties, "
        "nodeProperties or eksProperties holds one"
    )
    assert "crash" not in res.data.get("error_kind", "")


def test_jobdef_with_sparse_log_configuration_is_not_a_crash(aws, monkeypatch):
    props = container(logConfiguration={"logDriver": "awslogs", "options": None})
    patch_view(monkeypatch, job_definition=jobdef(containerProperties=props, retryStrategy={}))
    res = check(PLAIN_TARGET, "JOBDEF_CHECK")
    assert res.status is Status.WARN
    assert res.data["logGroup"] == "/aws/batch/job"


def test_jobdef_describe_denied_names_the_permission(aws):
    sessions, stub = stubbed("batch")
    stub.add_client_error(
        "describe_job_definitions", service_error_code="AccessDeniedException", http_status_code=400
    )
    res = check(PLAIN_TARGET, "JOBDEF_CHECK", sessions=sessions)
    assert res.status is Status.FAIL
    assert res.detail.startswith(f"job definition {JOBDEF}: access denied")
    assert f"`batch:DescribeJobDefinitions` on {JOBDEF}" in res.hints[0]
