"""A real job definition from the shapes corpus, registered in moto with what it needs.

`ShapeWorld` registers the documented answer through RegisterJobDefinition (the Batch answer
layer lets moto hold every shape), creates every role it names (trusting ECS tasks; each
execution role allowed exactly its containers' log groups, images and secrets), its awslogs
groups with retention and a recent event, and a queue to submit to. A test then takes one
part away to plant a fault.
"""

from __future__ import annotations

import json
import time
from typing import Any

from batch_health.config import Target
from batch_health.demo import CE, ECS_TRUST, QUEUE, REGION, WorldBuilder
from batch_health.domain.arns import role_name_from_arn
from batch_health.domain.execution_role import execution_role_needs
from batch_health.domain.job_definition import JobDefinitionView
from batch_health.domain.placement import JobNeeds

REGISTERED_FIELDS = (
    "jobDefinitionName",
    "type",
    "parameters",
    "containerProperties",
    "ecsProperties",
    "nodeProperties",
    "eksProperties",
    "platformCapabilities",
    "retryStrategy",
    "timeout",
    "propagateTags",
    "schedulingPriority",
)


class ShapeWorld:
    def __init__(self, world: WorldBuilder, answer: dict[str, Any]) -> None:
        self.world = world
        self.answer = answer
        self.name = answer["jobDefinitionName"]
        self.view = JobDefinitionView.parse(answer)
        self.target: dict[str, Any] = {
            "name": "shape",
            "region": REGION,
            "job_queue": QUEUE,
            "job_definition": self.name,
        }

    def build(self) -> ShapeWorld:
        request = {k: self.answer[k] for k in REGISTERED_FIELDS if k in self.answer}
        self.world.client("batch").register_job_definition(**request)
        for arn in self.view.named_roles:
            self.role(arn)
        for group in self.view.log_groups:
            self.log_group(group)
        self.grant_execution_roles()
        return self

    def queue(self) -> ShapeWorld:
        """A queue whose compute environment can run the shape, as AWS requires: an EKS
        environment for an EKS job, Fargate for a Fargate one, managed EC2 otherwise (a
        multi-node job runs on no other, https://docs.aws.amazon.com/batch/latest/userguide/mnp-ce.html).
        The EKS cluster is the Batch user guide's placeholder `my-cluster`
        (https://docs.aws.amazon.com/batch/latest/userguide/run-eks-gpu-workload.html)."""
        if not (self.view.on_eks or self.view.on_fargate):
            self.world.queue_with_ce()
            pinned = JobNeeds.from_job_definition(self.view).instance_types
            if pinned:
                # A multi-node job pinned to types (gromacs: p3.2xlarge) needs them allowed;
                # moto 5.2.5 knows no p3.2xlarge and refuses it in CreateComputeEnvironment,
                # so the environment it holds is given them afterwards.
                from moto.batch.models import batch_backends

                env = batch_backends["123456789012"][REGION].get_compute_environment(CE)
                assert env is not None
                env.compute_resources["instanceTypes"] = list(pinned)
            return self
        batch, iam = self.world.client("batch"), self.world.client("iam")
        role = iam.create_role(RoleName="batch-service", AssumeRolePolicyDocument="{}")["Role"]
        if self.view.on_eks:
            cluster = f"arn:aws:eks:{REGION}:123456789012:cluster/my-cluster"
            kind = {
                "type": "UNMANAGED",
                "eksConfiguration": {"eksClusterArn": cluster, "kubernetesNamespace": "batch"},
            }
        else:
            ec2 = self.world.client("ec2")
            vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
            subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.0.0/24")["Subnet"]["SubnetId"]
            sg = ec2.create_security_group(GroupName="b", Description="b", VpcId=vpc)["GroupId"]
            resources = {"type": "FARGATE", "maxvCpus": 16, "subnets": [subnet]}
            kind = {"type": "MANAGED", "computeResources": {**resources, "securityGroupIds": [sg]}}
        ce = batch.create_compute_environment(
            computeEnvironmentName=CE, state="ENABLED", serviceRole=role["Arn"], **kind
        )
        batch.create_job_queue(
            jobQueueName=QUEUE,
            state="ENABLED",
            priority=1,
            computeEnvironmentOrder=[
                {"order": 1, "computeEnvironment": ce["computeEnvironmentArn"]}
            ],
        )
        return self

    def role(self, arn: str, trust: dict[str, Any] = ECS_TRUST) -> None:
        iam = self.world.client("iam")
        name = role_name_from_arn(arn)
        path = arn.split(":role", 1)[1].rsplit("/", 1)[0] + "/"
        iam.create_role(RoleName=name, Path=path, AssumeRolePolicyDocument=json.dumps(trust))

    def grant_execution_roles(self, skip: tuple[str, ...] = ()) -> None:
        """Each execution role allowed what its own tasks need, and nothing else; the
        requirements whose purpose contains a string of `skip` are left out."""
        target = Target.model_validate(self.target)
        for needs in execution_role_needs(target, self.view, REGION):
            statements = [
                {"Effect": "Allow", "Action": list(r.actions), "Resource": r.resource}
                for r in needs.requirements
                if not any(s in r.purpose for s in skip)
            ]
            name = role_name_from_arn(needs.role_arn)
            iam = self.world.client("iam")
            iam.put_role_policy(
                RoleName=name,
                PolicyName="execution",
                PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}),
            )

    def log_group(self, name: str) -> None:
        logs = self.world.client("logs")
        logs.create_log_group(logGroupName=name)
        logs.put_retention_policy(logGroupName=name, retentionInDays=30)
        stream = f"{self.name}/default/0123456789abcdef"
        logs.create_log_stream(logGroupName=name, logStreamName=stream)
        now = int(time.time() * 1000)
        logs.put_log_events(
            logGroupName=name,
            logStreamName=stream,
            logEvents=[{"timestamp": now - 1000, "message": "job done"}],
        )
