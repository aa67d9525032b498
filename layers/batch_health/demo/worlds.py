"""The demo's worlds: the ops report's Batch workload (and variants) built in an emulator.

`WorldBuilder` creates Batch, IAM, SSM and Logs resources through any endpoint (a moto
server over HTTP, or moto in-process for the unit tests); the scenarios build the ops
report's world ("seed": everything in place but the log group, a job definition that
needs Ref::job_id), the same after the fixes ("healthy"), and one whose job definition
needs a parameter nothing supplies ("unresolved"). The demo, the bench and the tests use
them.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

REGION = "ap-northeast-2"
QUEUE = "academy-video-batch-queue"
CE = "academy-video-batch-ce-v3"
JOBDEF = "academy-video-batch-jobdef"
LOG_GROUP = "/aws/batch/academy-video-worker"
EXEC_ROLE = "academy-batch-ecs-task-execution-role"
JOB_ROLE = "academy-video-batch-job-role"
IMAGE_REPO = "academy-video-worker"
# What a Batch service role needs so that Batch can tell why jobs wait ("The AWS Batch
# service role requires autoscaling:DescribeScalingActivities permission for this detection
# to work", https://docs.aws.amazon.com/batch/latest/userguide/job_stuck_in_runnable_capacity.html);
# the AWS managed policy AWSBatchServiceRole allows both actions.
SERVICE_ROLE_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": [
                "autoscaling:DescribeScalingActivities",
                "ec2:DescribeSpotFleetRequestHistory",
            ],
            "Resource": "*",
        }
    ],
}
ECS_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "ecs-tasks.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


@dataclass
class World:
    """What a scenario built: the config to check and a description for the header."""

    name: str
    description: str
    target: dict[str, Any]
    files: dict[str, str] = field(default_factory=dict)


class WorldBuilder:
    """Creates Batch, IAM, SSM and Logs resources through the emulator's HTTP API."""

    def __init__(self, endpoint_url: str | None, region: str = REGION) -> None:
        # endpoint_url None: the in-process moto of the unit tests.
        session = boto3.Session(
            region_name=region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            aws_session_token="testing",
        )
        self.region = region
        # One client per service: creating clients dominates world-building time.
        self.client: Callable[[str], Any] = functools.cache(
            lambda svc: session.client(svc, endpoint_url=endpoint_url)
        )
        self.account = self.client("sts").get_caller_identity()["Account"]

    def role(self, name: str, inline_policy: dict[str, Any] | None = None) -> str:
        iam = self.client("iam")
        arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(ECS_TRUST))[
            "Role"
        ]["Arn"]
        if inline_policy:
            iam.put_role_policy(
                RoleName=name, PolicyName=f"{name}-inline", PolicyDocument=json.dumps(inline_policy)
            )
        return arn

    def execution_policy(self, log_group: str) -> dict[str, Any]:
        return {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                    "Resource": (
                        f"arn:aws:logs:{self.region}:{self.account}:log-group:{log_group}:*"
                    ),
                },
                {"Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
                {
                    "Effect": "Allow",
                    "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                    "Resource": f"arn:aws:ecr:{self.region}:{self.account}:repository/{IMAGE_REPO}",
                },
            ],
        }

    def queue_with_ce(
        self, queue: str = QUEUE, ce: str = CE, max_vcpus: int = 32, suffix: str = ""
    ) -> None:
        """`suffix` goes on every name created, so one emulator can hold several worlds."""
        queue, ce = f"{queue}{suffix}", f"{ce}{suffix}"
        ec2 = self.client("ec2")
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.0.0/24")["Subnet"]["SubnetId"]
        sg = ec2.create_security_group(GroupName="batch", Description="batch", VpcId=vpc)["GroupId"]
        iam = self.client("iam")
        service_role = iam.create_role(
            RoleName=f"academy-batch-service-role{suffix}",
            AssumeRolePolicyDocument=json.dumps(ECS_TRUST),
        )["Role"]["Arn"]
        iam.put_role_policy(
            RoleName=f"academy-batch-service-role{suffix}",
            PolicyName="batch-capacity-detection",
            PolicyDocument=json.dumps(SERVICE_ROLE_POLICY),
        )
        profile = iam.create_instance_profile(InstanceProfileName=f"academy-batch-instance{suffix}")
        batch = self.client("batch")
        ce_arn = batch.create_compute_environment(
            computeEnvironmentName=ce,
            type="MANAGED",
            state="ENABLED",
            computeResources={
                "type": "EC2",
                "minvCpus": 0,
                "maxvCpus": max_vcpus,
                "desiredvCpus": 0,
                "instanceTypes": ["optimal"],
                "subnets": [subnet],
                "securityGroupIds": [sg],
                "instanceRole": profile["InstanceProfile"]["Arn"],
            },
            serviceRole=service_role,
        )["computeEnvironmentArn"]
        batch.create_job_queue(
            jobQueueName=queue,
            state="ENABLED",
            priority=1,
            computeEnvironmentOrder=[{"order": 1, "computeEnvironment": ce_arn}],
        )

    def job_definition(
        self,
        *,
        command: list[str],
        parameters: dict[str, str] | None = None,
        attempts: int = 1,
        log_group: str = LOG_GROUP,
        suffix: str = "",
    ) -> None:
        exec_arn = self.role(f"{EXEC_ROLE}{suffix}", self.execution_policy(log_group))
        job_arn = self.role(f"{JOB_ROLE}{suffix}")
        image = f"{self.account}.dkr.ecr.{self.region}.amazonaws.com/{IMAGE_REPO}:latest"
        self.client("batch").register_job_definition(
            jobDefinitionName=f"{JOBDEF}{suffix}",
            type="container",
            parameters=parameters or {},
            retryStrategy={"attempts": attempts},
            containerProperties={
                "image": image,
                "command": command,
                "executionRoleArn": exec_arn,
                "jobRoleArn": job_arn,
                "resourceRequirements": [
                    {"type": "VCPU", "value": "4"},
                    {"type": "MEMORY", "value": "8192"},
                ],
                "logConfiguration": {
                    "logDriver": "awslogs",
                    "options": {"awslogs-group": log_group},
                },
            },
        )

    def api_settings(self, suffix: str = "") -> None:
        ssm = self.client("ssm")
        ssm.put_parameter(
            Name=f"/academy/api/VIDEO_BATCH_JOB_QUEUE{suffix}",
            Value=f"{QUEUE}{suffix}",
            Type="String",
        )
        ssm.put_parameter(
            Name=f"/academy/api/VIDEO_BATCH_JOB_DEFINITION{suffix}",
            Value=f"{JOBDEF}{suffix}",
            Type="String",
        )

    def log_group(self, name: str = LOG_GROUP, messages: list[str] | None = None) -> None:
        logs = self.client("logs")
        logs.create_log_group(logGroupName=name)
        logs.put_retention_policy(logGroupName=name, retentionInDays=30)
        if messages:
            import time

            stream = f"{JOBDEF}/default/0123456789abcdef"
            logs.create_log_stream(logGroupName=name, logStreamName=stream)
            now = int(time.time() * 1000)
            logs.put_log_events(
                logGroupName=name,
                logStreamName=stream,
                logEvents=[
                    {"timestamp": now - 1000 * (len(messages) - i), "message": m}
                    for i, m in enumerate(messages)
                ],
            )


WORKER_COMMAND = ["python", "-m", "apps.worker.video_worker", "--job-id", "Ref::job_id"]


def api_config_source(suffix: str = "") -> dict[str, str]:
    """The CONFIG_MATCH_* source that reads what `WorldBuilder.api_settings` stored."""
    return {
        "job_queue": f"ssm:/academy/api/VIDEO_BATCH_JOB_QUEUE{suffix}",
        "job_definition": f"ssm:/academy/api/VIDEO_BATCH_JOB_DEFINITION{suffix}",
    }


def suffixed_target(suffix: str, **config_sources: dict[str, str]) -> dict[str, Any]:
    """One of several workloads built with the same `suffix` (queue, job definition, SSM)."""
    return {
        "name": f"video{suffix}",
        "region": REGION,
        "job_queue": f"{QUEUE}{suffix}",
        "job_definition": f"{JOBDEF}{suffix}",
        "config_sources": {"api": api_config_source(suffix), **config_sources},
    }


def _config_sources(files: dict[str, str]) -> dict[str, Any]:
    return {
        "api": api_config_source(),
        "setup_script": {
            "job_queue": f"file:{files['setup']}#JobQueueName",
            "job_definition": f"file:{files['setup']}#JobDefName",
        },
        "jobdef_json": {"job_definition": f"file:{files['jobdef_json']}#jobDefinitionName"},
    }


def _seed_files(workdir: Path) -> dict[str, str]:
    setup = workdir / "batch_video_setup_full.ps1"
    setup.write_text(f'$Region = "{REGION}"\n$JobQueueName = "{QUEUE}"\n$JobDefName = "{JOBDEF}"\n')
    jobdef_json = workdir / "video_job_definition.json"
    jobdef_json.write_text(json.dumps({"jobDefinitionName": JOBDEF, "type": "container"}))
    return {"setup": str(setup), "jobdef_json": str(jobdef_json)}


def build_seed(w: WorldBuilder, workdir: Path) -> World:
    w.queue_with_ce()
    w.job_definition(command=WORKER_COMMAND)
    w.api_settings()
    files = _seed_files(workdir)
    return World(
        "seed",
        "the ops report's world: everything in place but the log group; the job "
        "definition needs Ref::job_id",
        _target(files),
    )


def build_healthy(w: WorldBuilder, workdir: Path) -> World:
    w.queue_with_ce()
    w.job_definition(command=WORKER_COMMAND, parameters={"job_id": "none"}, attempts=3)
    w.api_settings()
    w.log_group(messages=["worker started", "transcoded video 42 in 12.3s", "worker idle"])
    files = _seed_files(workdir)
    return World(
        "healthy",
        "the ops report's world after the fixes: log group created, retries on",
        _target(files),
    )


def build_unresolved(w: WorldBuilder, workdir: Path) -> World:
    w.queue_with_ce()
    w.job_definition(command=[*WORKER_COMMAND, "--source", "Ref::source_uri"], attempts=3)
    w.api_settings()
    w.log_group(messages=["worker started"])
    files = _seed_files(workdir)
    return World(
        "unresolved",
        "a job definition with Ref::source_uri and no default: try --allow-test-submit, "
        "then add --smoke-param source_uri=s3://bucket/sample.mp4",
        _target(files),
    )


def _target(files: dict[str, str]) -> dict[str, Any]:
    return {
        "name": "academy-video",
        "region": REGION,
        "job_queue": QUEUE,
        "job_definition": JOBDEF,
        "config_sources": _config_sources(files),
        "smoke": {"poll_seconds": 0.5, "timeout_seconds": 60},
    }


SCENARIOS: dict[str, Callable[[WorldBuilder, Path], World]] = {
    "seed": build_seed,
    "healthy": build_healthy,
    "unresolved": build_unresolved,
}

# The shape worlds build on the helpers above, so they are imported once those exist.
from batch_health.demo.shape_worlds import (  # noqa: E402
    build_fair_share,
    build_multi_container,
    build_multi_node,
)

SCENARIOS.update(
    {
        "multi-container": build_multi_container,
        "multi-node": build_multi_node,
        "fair-share": build_fair_share,
    }
)
