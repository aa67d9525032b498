"""What a job asks for placement: every shape of the shapes corpus (and AWS's EKS examples in
tests/data/placement_facts.json) read into vCPUs, memory, GPUs, nodes and platform."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from support.shapes_data import answer

from batch_health.domain.job_definition import JobDefinitionView
from batch_health.domain.placement import JobNeeds, Platform, k8s_quantity

FACTS = json.loads(
    (Path(__file__).resolve().parents[2] / "data" / "placement_facts.json").read_text("utf-8")
)
BOTOCORE_BATCH_EXAMPLES = (
    # DescribeJobs example 'To describe a specific job', output's job verbatim:
    # https://github.com/boto/botocore/blob/0e6e2404b85dc336dd2889814e089bde7d1a4c55/botocore/data/batch/2016-08-10/examples-1.json
    {
        "container": {
            "command": ["sleep", "60"],
            "containerInstanceArn": "arn:aws:ecs:us-east-1:012345678910:container-instance/"
            "5406d7cd-58bd-4b8f-9936-48d7c6b1526c",
            "environment": [],
            "exitCode": 0,
            "image": "busybox",
            "memory": 128,
            "mountPoints": [],
            "ulimits": [],
            "vcpus": 1,
            "volumes": [],
        },
        "createdAt": 1480460782010,
        "dependsOn": [],
        "jobDefinition": "sleep60",
        "jobId": "24fa2d7a-64c4-49d2-8b47-f8da4fbde8e9",
        "jobName": "example",
        "jobQueue": "arn:aws:batch:us-east-1:012345678910:job-queue/HighPriority",
        "parameters": {},
        "startedAt": 1480460816500,
        "status": "SUCCEEDED",
        "stoppedAt": 1480460880699,
    },
)


def needs_of(shape_id: str) -> JobNeeds:
    return JobNeeds.from_job_definition(
        JobDefinitionView.parse(answer("job_definitions", shape_id))
    )


def facts_job(id_: str) -> JobNeeds:
    item = next(j for j in FACTS["job_definitions"] if j["id"] == id_)
    return JobNeeds.from_job_definition(JobDefinitionView.parse(item["answer"]))


@pytest.mark.parametrize(
    ("shape_id", "vcpus", "memory", "gpus", "nodes", "platform", "pinned"),
    [
        ("docs-fetch-and-run", "2", 2000, 0, 1, Platform.EC2, ()),
        # Legacy vcpus/memory fields.
        ("cfn-nvidia-smi", "2", 2000, 0, 1, Platform.EC2, ()),
        ("cdk-ec2-secrets-efs", "256", 2048, 12, 1, Platform.EC2, ()),
        # A multi-container task is placed whole: 2+2+6 vCPU, 4096+4096+12288 MiB.
        ("docs-multicontainer-ecs-ec2", "10", 20480, 0, 1, Platform.EC2, ()),
        ("docs-multicontainer-ecs-fargate", "8", 16384, 0, 1, Platform.FARGATE, ()),
        ("tf-ecs-properties-fargate-dependson", "2", 4096, 0, 1, Platform.FARGATE, ()),
        # Multi-node: one node's needs (the largest range), x numNodes; the pinned type.
        ("docs-gromacs-mnp", "8", 24000, 0, 2, Platform.EC2, ("p3.2xlarge",)),
        ("tf-node-properties-advanced", "1", 512, 0, 4, Platform.EC2, ()),
        ("cdk-multinode-two-ranges-r4", "256", 2048, 0, 21, Platform.EC2, ("r4.large",)),
        ("docs-multicontainer-mnp", "4", 8192, 0, 6, Platform.EC2, ()),
        ("tf-node-properties-ecs", "2", 4096, 0, 1, Platform.EC2, ()),
        ("tf-node-properties-eks-bad-image", "1", 1024, 0, 1, Platform.EKS, ()),
        # EKS pods: limits stand in for absent requests; init containers run before the
        # app containers, so the pod asks max(sum of containers, largest init container).
        ("docs-eks-getting-started-sleep", "1", 1024, 0, 1, Platform.EKS, ()),
        ("docs-multicontainer-eks-initcontainers", "2", 1024, 0, 1, Platform.EKS, ()),
    ],
)
def test_corpus_shapes_ask_what_batch_places(
    shape_id, vcpus, memory, gpus, nodes, platform, pinned
):
    needs = needs_of(shape_id)
    assert (needs.vcpus, needs.memory_mib, needs.gpus) == (Decimal(vcpus), memory, gpus)
    assert (needs.nodes, needs.platform, needs.instance_types) == (nodes, platform, pinned)
    assert needs.multi_node is (
        JobDefinitionView.parse(answer("job_definitions", shape_id)).shape == "multinode"
    )


def test_multi_node_totals_and_text():
    needs = needs_of("cdk-multinode-two-ranges-r4")
    assert needs.total_vcpus == 256 * 21
    assert needs.asks == "256 vCPU, 2048 MiB per node x 21 nodes"
    assert needs.source == "job definition MultiContainerMultiNodeJob-BA8ED368:1 defaults"


def test_eks_requests_decide_over_limits():
    # AWS's example: requests cpu 1, limits cpu 4 and memory 2048Mi ("Batch uses the
    # requests value for scaling decisions"; a missing request takes the limit).
    needs = facts_job("docs-eks-soft-vcpu-requests")
    assert (needs.vcpus, needs.memory_mib, needs.platform) == (Decimal(1), 2048, Platform.EKS)


def test_eks_gpu_job_asks_its_nvidia_gpu():
    needs = facts_job("docs-eks-gpu-smi")
    assert (needs.vcpus, needs.memory_mib, needs.gpus) == (Decimal(1), 1024, 1)


def test_describe_jobs_entry_is_read_with_its_job_id():
    needs = JobNeeds.from_job(BOTOCORE_BATCH_EXAMPLES[0])
    assert (needs.vcpus, needs.memory_mib, needs.nodes) == (Decimal(1), 128, 1)
    assert needs.source == "job 24fa2d7a-64c4-49d2-8b47-f8da4fbde8e9"
    assert needs.platform is Platform.EC2


def test_describe_jobs_overrides_are_what_is_read():
    job = dict(BOTOCORE_BATCH_EXAMPLES[0])
    # The job's own resourceRequirements (overrides applied by DescribeJobs) win over the
    # legacy fields, as in a job definition.
    job["container"] = {
        **job["container"],
        "resourceRequirements": [
            {"type": "VCPU", "value": "4"},
            {"type": "MEMORY", "value": "8192"},
        ],
    }
    needs = JobNeeds.from_job(job)
    assert (needs.vcpus, needs.memory_mib) == (Decimal(4), 8192)


@pytest.mark.parametrize(
    ("quantity", "value"),
    [
        ("2", Decimal(2)),
        ("0.25", Decimal("0.25")),
        ("500m", Decimal("0.5")),
        ("1024Mi", Decimal(1024 * 2**20)),
        ("2Gi", Decimal(2 * 2**30)),
        ("1G", Decimal(10**9)),
        (None, Decimal(0)),
        ("x", Decimal(0)),
    ],
)
def test_kubernetes_quantities(quantity, value):
    assert k8s_quantity(quantity) == value
