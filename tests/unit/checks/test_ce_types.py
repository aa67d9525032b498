"""CE_CHECK on every type of compute environment: UNMANAGED ones by the container instances
registered to their ECS cluster (moto's ECS holds them; an agent's connection is moto's
model state), and the corpus' EC2, Spot, Fargate, Fargate Spot and EKS environments."""

from __future__ import annotations

import json

import pytest
from moto.ecs.models import ecs_backends
from support.checks import (
    ACCOUNT,
    PLAIN_TARGET,
    assert_explained,
    check,
    client_error,
    patch_view,
    queue,
)
from support.shapes_data import answer

from batch_health.demo import QUEUE, REGION
from batch_health.domain.blocked_events import SERVICE_LINKED_ROLE_POLICIES
from batch_health.models import Status

UNMANAGED = "academy-unmanaged"


@pytest.fixture
def unmanaged(world):
    """A queue on an UNMANAGED CE; returns (ECS cluster ARN, register(), the cluster name)."""
    batch = world.client("batch")
    arn = batch.create_compute_environment(
        computeEnvironmentName=UNMANAGED,
        type="UNMANAGED",
        state="ENABLED",
        serviceRole=world.role("academy-batch-service-role"),
    )["computeEnvironmentArn"]
    batch.create_job_queue(
        jobQueueName=QUEUE,
        state="ENABLED",
        priority=1,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": arn}],
    )
    cluster = batch.describe_compute_environments(computeEnvironments=[arn])["computeEnvironments"][
        0
    ]["ecsClusterArn"]
    ec2, ecs = world.client("ec2"), world.client("ecs")
    image = ec2.describe_images()["Images"][0]["ImageId"]

    def register() -> str:
        """An instance joins the cluster as the ECS agent registers it; its EC2 ID."""
        instance = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1)["Instances"][0]
        document = {"instanceId": instance["InstanceId"], "region": REGION}
        ecs.register_container_instance(
            cluster=cluster, instanceIdentityDocument=json.dumps(document)
        )
        return instance["InstanceId"]

    return cluster, register


def disconnect(cluster: str, ec2_instance_id: str) -> None:
    """The agent on that instance stops answering (moto's model of the instance)."""
    instances = ecs_backends[ACCOUNT][REGION].container_instances[cluster.rsplit("/", 1)[-1]]
    for instance in instances.values():
        if instance.ec2_instance_id == ec2_instance_id:
            instance.agent_connected = False


def test_unmanaged_without_instances_fails(unmanaged):
    cluster, _ = unmanaged
    name = cluster.rsplit("/", 1)[-1]
    res = check(PLAIN_TARGET, "CE_CHECK")
    assert res.status is Status.FAIL
    assert_explained(res)
    assert res.detail == (
        f"CE {UNMANAGED} is UNMANAGED and its ECS cluster {name} has no ACTIVE container "
        "instance: no job can run"
    )
    assert f"ECS_CLUSTER={name}" in res.hints[0]


def test_unmanaged_with_connected_instances_is_ok(unmanaged):
    _, register = unmanaged
    register()
    register()
    res = check(PLAIN_TARGET, "CE_CHECK")
    assert res.status is Status.OK, res.detail
    assert res.detail.endswith("type=UNMANAGED instances=2/2 connected")
    [facts] = res.data["compute_environments"]
    assert (facts["registered"], facts["connected"], facts["disconnected"]) == (2, 2, [])


def test_unmanaged_with_a_disconnected_agent_warns_naming_the_instance(unmanaged):
    cluster, register = unmanaged
    register()
    lost = register()
    disconnect(cluster, lost)
    res = check(PLAIN_TARGET, "CE_CHECK")
    assert res.status is Status.WARN
    assert_explained(res)
    assert "1 of 2 container instance(s)" in res.detail
    assert f"has its ECS agent disconnected ({lost})" in res.detail
    assert lost in res.hints[0] and "ecs-agent.log" in res.hints[0]


def test_unmanaged_with_every_agent_disconnected_warns(unmanaged):
    cluster, register = unmanaged
    lost = register()
    disconnect(cluster, lost)
    res = check(PLAIN_TARGET, "CE_CHECK")
    assert res.status is Status.WARN
    assert f"every container instance(s) of cluster {cluster.rsplit('/', 1)[-1]}" in res.detail


def test_unmanaged_whose_instances_cannot_be_read_names_the_actions(unmanaged, monkeypatch):
    cluster, _ = unmanaged
    denied = client_error("AccessDeniedException", "ListContainerInstances")
    patch_view(monkeypatch, container_instances=denied)
    res = check(PLAIN_TARGET, "CE_CHECK")
    assert res.status is Status.WARN
    assert "its cluster's container instances could not be read" in res.detail
    assert res.hints == [
        "Grant the monitor's identity `ecs:ListContainerInstances and "
        f"ecs:DescribeContainerInstances` on {cluster} (the call was denied: "
        "AccessDeniedException)"
    ]


def test_unmanaged_whose_instance_read_is_throttled_is_not_called_a_permission(
    unmanaged, monkeypatch
):
    patch_view(
        monkeypatch,
        container_instances=client_error("ThrottlingException", "ListContainerInstances"),
    )
    res = check(PLAIN_TARGET, "CE_CHECK")
    assert res.status is Status.WARN
    assert "Grant" not in res.hints[0]


def test_the_corpus_unmanaged_environment_is_read_through_its_own_cluster(aws, monkeypatch):
    ce = answer("compute_environments", "cdk-unmanaged-maximal")
    asked: list[str] = []

    def instances(cluster: str) -> list[dict]:
        asked.append(cluster)
        # DescribeContainerInstances' documented shape (API_ContainerInstance.html).
        return [
            {"ec2InstanceId": "i-1234567890abcdef0", "status": "ACTIVE", "agentConnected": True}
        ]

    order = [{"order": 1, "computeEnvironment": ce["computeEnvironmentName"]}]
    patch_view(
        monkeypatch,
        job_queue=queue(computeEnvironmentOrder=order),
        compute_environment=lambda _name: ce,
        container_instances=instances,
    )
    res = check(PLAIN_TARGET, "CE_CHECK")
    assert res.status is Status.OK, res.detail
    assert asked == [ce["ecsClusterArn"]]


@pytest.mark.parametrize(
    ("ce_id", "said"),
    [
        ("botocore-p2ondemand-ec2", "(EC2) maxvCpus=128"),
        ("botocore-m4spot", "(SPOT) maxvCpus=128"),
        ("cdk-ec2-optimal-bfp", "(EC2) maxvCpus=256"),
        ("tf-docs-fargate", "(FARGATE) maxvCpus=16"),
        ("tf-test-fargate-spot", "(FARGATE_SPOT) maxvCpus=16"),
        ("docs-eks-my-eks-ce1", "(EC2 on EKS) maxvCpus=128"),
    ],
)
def test_healthy_managed_environments_of_every_type_are_ok(aws, monkeypatch, ce_id, said):
    ce = answer("compute_environments", ce_id)
    order = [{"order": 1, "computeEnvironment": ce["computeEnvironmentName"]}]
    calls: list[str] = []
    patch_view(
        monkeypatch,
        job_queue=queue(computeEnvironmentOrder=order),
        compute_environment=lambda _name: ce,
        container_instances=lambda cluster: calls.append(cluster) or [],
        # a service role with the policy AWS documents for Batch's service-linked role
        role_policy_documents=lambda _role: list(SERVICE_LINKED_ROLE_POLICIES),
    )
    res = check(PLAIN_TARGET, "CE_CHECK")
    assert res.status is Status.OK, res.detail
    assert res.detail.endswith(said)
    assert calls == []  # a managed environment's instances are Batch's to launch


def test_unmanaged_with_only_draining_instances_fails_saying_so(unmanaged):
    cluster, register = unmanaged
    register()
    world_ecs = ecs_backends[ACCOUNT][REGION].container_instances[cluster.rsplit("/", 1)[-1]]
    for instance in world_ecs.values():
        instance.status = "DRAINING"  # as UpdateContainerInstancesState leaves it
    res = check(PLAIN_TARGET, "CE_CHECK")
    assert res.status is Status.FAIL
    assert "has no ACTIVE container instance (1 DRAINING): no job can run" in res.detail
