"""The job definition model: every shape of the shapes corpus parsed into tasks, containers,
roles, log destinations and secrets, and the parts read as Batch documents them."""

from __future__ import annotations

import pytest
from support.shapes_data import answer, entry, ids

from batch_health.config import Target
from batch_health.domain.execution_role import (
    execution_role_needs,
    is_aws_managed_alias,
    secret_resource,
)
from batch_health.domain.job_definition import (
    BATCH_DEFAULT_LOG_GROUP,
    EKS,
    MULTI_CONTAINER,
    MULTI_NODE,
    SINGLE_CONTAINER,
    JobDefinitionView,
)
from batch_health.domain.job_parts import Secret, parse_target_nodes

SHAPES = {"container": SINGLE_CONTAINER, "ecs": MULTI_CONTAINER, "multinode": MULTI_NODE}
TARGET = Target(job_queue="q", job_definition="jd")


@pytest.mark.parametrize("shape_id", ids("job_definitions"))
def test_every_corpus_shape_is_read_with_every_container(shape_id):
    item = entry("job_definitions", shape_id)
    jd = JobDefinitionView.parse(item["answer"])
    assert jd.shape == SHAPES.get(item["shape"], EKS)
    assert jd.containers and all(c.where for c in jd.containers)
    assert len({c.where for c in jd.containers}) == len(jd.containers)


def test_multi_container_containers_are_named_and_keep_essential_and_depends_on():
    jd = JobDefinitionView.parse(answer("job_definitions", "tf-ecs-properties-fargate-dependson"))
    a, b = jd.containers
    assert (a.where, a.essential, a.depends_on) == ("container container_a", True, ("container_b",))
    assert (b.where, b.essential) == ("container container_b", False)
    assert jd.log_groups == {"tf-acc-test-8675309": (a,), BATCH_DEFAULT_LOG_GROUP: (b,)}
    assert jd.main_container is a
    assert jd.on_fargate


def test_multi_node_ranges_cover_the_nodes_as_batch_reads_target_nodes():
    jd = JobDefinitionView.parse(answer("job_definitions", "tf-node-properties-advanced"))
    first, second = jd.node_ranges
    assert (jd.num_nodes, jd.main_node) == (4, 1)
    assert list(first.covers(4)) == [0, 1, 2, 3]
    assert list(second.covers(4)) == [1, 2, 3]
    assert [c.where for c in jd.containers] == [
        "node range 0: container",
        "node range 1: container",
    ]
    # The main node (1) runs the range "1:" container's command.
    assert jd.command == ("echo", "test")
    # Legacy vcpus/memory count as the container's resources.
    assert jd.containers[0].resources == {"VCPU": "1", "MEMORY": "512"}


def test_multi_node_with_ecs_properties_and_eks_ranges():
    ecs = JobDefinitionView.parse(answer("job_definitions", "tf-node-properties-ecs"))
    assert ecs.shape == MULTI_NODE and ecs.tasks
    assert all(c.where.startswith("node range ") for c in ecs.containers)
    eks = JobDefinitionView.parse(answer("job_definitions", "tf-node-properties-eks-bad-image"))
    assert eks.on_eks and not eks.tasks and eks.log_groups == {}


def test_eks_pod_with_init_containers_and_service_account():
    jd = JobDefinitionView.parse(
        answer("job_definitions", "docs-multicontainer-eks-initcontainers")
    )
    assert [c.where for c in jd.containers] == [
        "init container init-container",
        "init container init-container-2",
        "container c1",
        "container sleep-container",
    ]
    assert jd.main_container.name == "c1"
    assert jd.log_groups == {} and jd.named_roles == {}
    sa = JobDefinitionView.parse(answer("job_definitions", "tf-eks-advanced-serviceaccount"))
    assert sa.eks_pod.service_account == "test-service-account"
    assert sa.command_parts() == ("sleep", "60")  # command and args


@pytest.mark.parametrize(
    ("target", "parsed"),
    [
        ("0:3", (0, 3, False)),
        ("2:", (2, None, True)),
        (":4", (0, 4, False)),
        (":", (0, None, True)),
        ("5", (5, 5, False)),
        ("a:b", (None, None, False)),
        ("", (None, None, False)),
    ],
)
def test_target_nodes_syntax(target, parsed):
    assert parse_target_nodes(target) == parsed


def test_a_role_named_by_several_tasks_is_one_role_with_every_place():
    jd = JobDefinitionView.parse(
        {
            "type": "multinode",
            "nodeProperties": {
                "numNodes": 2,
                "mainNode": 0,
                "nodeRangeProperties": [
                    {"targetNodes": "0", "container": {"image": "a", "executionRoleArn": "R"}},
                    {"targetNodes": "1", "container": {"image": "b", "executionRoleArn": "R"}},
                ],
            },
        }
    )
    (role,) = jd.named_roles.values()
    assert role.kinds == ("execution role",)
    assert role.wheres == ("node range 0", "node range 1")


def test_secrets_log_secret_options_and_registry_credentials_are_all_secrets():
    jd = JobDefinitionView.parse(
        {
            "type": "container",
            "containerProperties": {
                "image": "private.example/registry/app:1",
                "secrets": [{"name": "DB", "valueFrom": "/prod/db"}],
                "logConfiguration": {
                    "logDriver": "splunk",
                    "secretOptions": [{"name": "splunk-token", "valueFrom": "splunk-token"}],
                },
                "repositoryCredentials": {
                    "credentialsParameter": "arn:aws:secretsmanager:us-east-1:123456789012:"
                    "secret:registry-AbCdEf"
                },
            },
        }
    )
    assert [s.purpose for s in jd.secrets] == [
        "secret DB",
        "log option splunk-token",
        "registry credentials",
    ]
    assert jd.log_groups == {}  # splunk is no CloudWatch Logs group


@pytest.mark.parametrize(
    ("value_from", "resource"),
    [
        (
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:app-AbCdEf::bar:foo",
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:app-AbCdEf",
        ),
        (
            "arn:aws:ssm:us-east-1:123456789012:parameter/prod/db",
            "arn:aws:ssm:us-east-1:123456789012:parameter/prod/db",
        ),
        ("/prod/db", "arn:aws:ssm:eu-west-1:111122223333:parameter/prod/db"),
        ("plain", "arn:aws:ssm:eu-west-1:111122223333:parameter/plain"),
    ],
)
def test_a_secret_is_authorized_on_the_arn_iam_sees(value_from, resource):
    secret = Secret("S", value_from, "secret S")
    assert secret_resource(secret, region="eu-west-1", account="111122223333", partition="aws") == (
        resource
    )


def test_aws_managed_aliases_need_no_kms_grant():
    assert is_aws_managed_alias("alias/aws/ssm")
    assert is_aws_managed_alias("arn:aws:kms:us-east-1:123456789012:alias/aws/secretsmanager")
    assert not is_aws_managed_alias("alias/my-key")


def test_each_execution_role_needs_only_its_own_tasks_resources():
    jd = JobDefinitionView.parse(
        {
            "type": "multinode",
            "nodeProperties": {
                "numNodes": 2,
                "mainNode": 0,
                "nodeRangeProperties": [
                    {
                        "targetNodes": "0",
                        "container": {
                            "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/main:1",
                            "executionRoleArn": "arn:aws:iam::123456789012:role/main-exec",
                        },
                    },
                    {
                        "targetNodes": "1",
                        "container": {
                            "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/worker:1",
                            "executionRoleArn": "arn:aws:iam::123456789012:role/worker-exec",
                            "logConfiguration": {
                                "logDriver": "awslogs",
                                "options": {"awslogs-group": "/aws/batch/workers"},
                            },
                        },
                    },
                ],
            },
        }
    )
    main, worker = execution_role_needs(TARGET, jd, "us-east-1")
    assert main.wheres == ("node range 0",) and worker.wheres == ("node range 1",)
    assert {r.resource.rsplit("/", 1)[-1] for r in main.requirements if "ecr:" in r.actions[0]} >= {
        "main"
    }
    assert not any("worker" in r.resource for r in main.requirements)
    assert any("/aws/batch/workers" in r.resource for r in worker.requirements)
    assert any(BATCH_DEFAULT_LOG_GROUP in r.resource for r in main.requirements)
