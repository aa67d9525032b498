"""Permission replay of the reads other workload shapes need, in this account and through a
target account's role: a job whose secrets sit in Secrets Manager and Parameter Store under a
customer managed key (secretsmanager:DescribeSecret, ssm:DescribeParameters,
kms:DescribeKey), a fair-share queue (batch:DescribeSchedulingPolicies) and an UNMANAGED
compute environment (ecs:ListContainerInstances, ecs:DescribeContainerInstances). Every
request must be allowed by the role the mode deploys (machinery: tests/support/replay.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from support.cfn import ROOT
from support.replay import TARGET_ACCOUNT, TARGET_ROLE, Deployment, assert_no_access_denied

from batch_health.demo import JOBDEF, QUEUE, WorldBuilder, api_config_source, build_healthy

SCHEDULED = json.loads((ROOT / "events" / "scheduled.json").read_text())
SMOKE = {"allow_test_submit": True, "checks": ["SMOKE_SUBMIT_CHECK"], "notify": False}
NEW_CALLS = {
    "secretsmanager:DescribeSecret",
    "ssm:DescribeParameters",
    "kms:DescribeKey",
    "batch:DescribeSchedulingPolicies",
    "ecs:ListContainerInstances",
    "ecs:DescribeContainerInstances",
}
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")


def shaped_world(world: WorldBuilder, tmp_path: Path) -> dict[str, Any]:
    """The healthy world, then: the job's secrets under a customer managed key, its queue
    fair-share with an UNMANAGED CE (one connected container instance) behind the managed one."""
    target = build_healthy(world, tmp_path).target
    batch, kms = world.client("batch"), world.client("kms")
    key = kms.create_key(Description="job secrets")["KeyMetadata"]["Arn"]
    secret = world.client("secretsmanager").create_secret(
        Name="academy/video/db", SecretString="s3cret", KmsKeyId=key
    )["ARN"]
    world.client("ssm").put_parameter(
        Name="/academy/video/token", Value="t0ken", Type="SecureString", KeyId=key
    )
    [jd] = batch.describe_job_definitions(jobDefinitionName=JOBDEF, status="ACTIVE")[
        "jobDefinitions"
    ]
    props = jd["containerProperties"]
    props["secrets"] = [
        {"name": "DB_PASSWORD", "valueFrom": secret},
        {"name": "API_TOKEN", "valueFrom": "/academy/video/token"},
    ]
    batch.register_job_definition(
        jobDefinitionName=JOBDEF,
        type="container",
        containerProperties=props,
        parameters=jd.get("parameters") or {},
        retryStrategy=jd.get("retryStrategy") or {"attempts": 3},
    )
    service_role = batch.describe_compute_environments()["computeEnvironments"][0]["serviceRole"]
    unmanaged = batch.create_compute_environment(
        computeEnvironmentName="academy-unmanaged",
        type="UNMANAGED",
        state="ENABLED",
        serviceRole=service_role,
    )["computeEnvironmentArn"]
    cluster = batch.describe_compute_environments(computeEnvironments=[unmanaged])[
        "computeEnvironments"
    ][0]["ecsClusterArn"]
    ec2 = world.client("ec2")
    image = ec2.describe_images()["Images"][0]["ImageId"]
    instance = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1)["Instances"][0]
    world.client("ecs").register_container_instance(
        cluster=cluster,
        instanceIdentityDocument=json.dumps({"instanceId": instance["InstanceId"]}),
    )
    policy = batch.create_scheduling_policy(
        name="academy-fair-share",
        fairsharePolicy={"shareDistribution": [{"shareIdentifier": "video", "weightFactor": 1.0}]},
    )["arn"]
    [queue] = batch.describe_job_queues(jobQueues=[QUEUE])["jobQueues"]
    order = [*queue["computeEnvironmentOrder"], {"order": 9, "computeEnvironment": unmanaged}]
    batch.update_job_queue(
        jobQueue=QUEUE, computeEnvironmentOrder=order, schedulingPolicyArn=policy
    )
    return target


def assert_every_new_call_allowed(replay: Any, principal: str | None = None) -> None:
    made = {r.name for r in replay.requests if principal is None or r.principal == principal}
    assert made >= NEW_CALLS, sorted(NEW_CALLS - made)
    assert replay.denied == []


def test_single_account_reads_the_shapes_within_its_grant(world, tmp_path):
    shaped_world(world, tmp_path)
    deployment = Deployment(
        {
            "JobQueue": QUEUE,
            "JobDefinition": JOBDEF,
            "TargetName": "academy-video",
            "ConfigParameterPath": "/academy/api/",
            "ConfigSources": json.dumps({"api": api_config_source()}),
        }
    )
    deployment.create_resources(world)
    replay, [suite, smoke] = deployment.run(SCHEDULED, SMOKE)
    assert_every_new_call_allowed(replay)
    assert_no_access_denied([suite, smoke])


def test_a_target_accounts_role_reads_the_shapes_within_its_grant(world, tmp_path, monkeypatch):
    monkeypatch.setenv("MOTO_ACCOUNT_ID", TARGET_ACCOUNT)
    remote = shaped_world(WorldBuilder(None), tmp_path)
    monkeypatch.delenv("MOTO_ACCOUNT_ID")
    target = {
        "name": "video-partner",
        "region": remote["region"],
        "job_queue": remote["job_queue"],
        "job_definition": remote["job_definition"],
        "role_arn": TARGET_ROLE,
        "smoke": {"enabled": True, "parameters": {"job_id": "health-smoke"}},
    }
    world.client("ssm").put_parameter(
        Name="/batch-health/targets", Value=json.dumps({"targets": [target]}), Type="String"
    )
    deployment = Deployment(
        {
            "TargetsParameter": "/batch-health/targets",
            "JobQueue": QUEUE,
            "JobDefinition": JOBDEF,
            "TargetRoleArns": TARGET_ROLE,
        },
        target_account={"SmokeJobQueue": QUEUE, "SmokeJobDefinition": JOBDEF},
    )
    deployment.create_resources(world)
    replay, [suite, smoke] = deployment.run(SCHEDULED, SMOKE)
    assert_every_new_call_allowed(replay, TARGET_ROLE)
    assert_no_access_denied([suite, smoke])
