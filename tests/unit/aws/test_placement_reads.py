"""The placement analysis's EC2 reads: each key answered (a deleted subnet is "", not an
error for the whole batch), wildcard filters mapped back to what they match, and the reads
of one account batched across its targets' compute environments (moto answers from AWS's
stored DescribeInstanceTypes and DescribeInstanceTypeOfferings answers)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from batch_health.aws import ec2_reads
from batch_health.aws.inventory import Inventory
from batch_health.aws.sessions import AwsSessions
from batch_health.config import SuiteConfig
from batch_health.demo import WorldBuilder


@pytest.fixture
def east(aws) -> WorldBuilder:
    return WorldBuilder(None, region="us-east-1")


def test_a_missing_subnet_is_answered_empty_and_the_others_still_read(east):
    ec2 = east.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.0.0/24", AvailabilityZone="us-east-1c")
    found = ec2_reads.fetch_subnet_zones(ec2, [subnet["Subnet"]["SubnetId"], "subnet-gone"])
    assert found == {subnet["Subnet"]["SubnetId"]: "us-east-1c", "subnet-gone": ""}


def test_wildcard_filters_are_mapped_to_the_types_they_match(east):
    found = ec2_reads.fetch_instance_types(east.client("ec2"), ["c5.*", "m4.large"])
    assert {e["InstanceType"] for e in found["m4.large"]} == {"m4.large"}
    assert found["c5.*"] and all(e["InstanceType"].startswith("c5.") for e in found["c5.*"])


def test_offerings_name_every_type_asked(east):
    found = ec2_reads.fetch_offerings(east.client("ec2"), ["c5.large", "no-such.type"])
    assert "us-east-1a" in found["c5.large"]
    assert found["no-such.type"] == frozenset()


def _queue(east: WorldBuilder, name: str, types: list[str], subnet: str, sg: str) -> None:
    iam, batch = east.client("iam"), east.client("batch")
    role = iam.create_role(RoleName=f"svc-{name}", AssumeRolePolicyDocument="{}")["Role"]
    profile = iam.create_instance_profile(InstanceProfileName=f"inst-{name}")
    ce = batch.create_compute_environment(
        computeEnvironmentName=f"ce-{name}",
        type="MANAGED",
        state="ENABLED",
        serviceRole=role["Arn"],
        computeResources={
            "type": "EC2",
            "minvCpus": 0,
            "maxvCpus": 16,
            "instanceTypes": types,
            "subnets": [subnet],
            "securityGroupIds": [sg],
            "instanceRole": profile["InstanceProfile"]["Arn"],
        },
    )
    batch.create_job_queue(
        jobQueueName=f"q-{name}",
        state="ENABLED",
        priority=1,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": ce["computeEnvironmentArn"]}],
    )


def test_one_accounts_environments_are_described_in_one_call_each(east, monkeypatch):
    ec2 = east.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.0.0/24")["Subnet"]["SubnetId"]
    sg = ec2.create_security_group(GroupName="b", Description="b", VpcId=vpc)["GroupId"]
    _queue(east, "a", ["c5"], subnet, sg)
    _queue(east, "b", ["m4.large", "r5"], subnet, sg)
    calls: Counter[str] = Counter()
    make = AwsSessions._make

    def counting(sessions: AwsSessions, key: Any) -> Any:
        client = make(sessions, key)
        client.meta.events.register(
            "before-call.ec2.*", lambda model, **_: calls.update([model.name])
        )
        return client

    monkeypatch.setattr(AwsSessions, "_make", counting)
    config = SuiteConfig.model_validate(
        {
            "targets": [
                {"name": n, "region": "us-east-1", "job_queue": f"q-{n}", "job_definition": "jd"}
                for n in ("a", "b")
            ]
        }
    )
    inventory = Inventory(AwsSessions())
    inventory.register(config.targets, lambda t: [])
    views = [inventory.view(t) for t in config.targets]
    for view in views:
        view.job_queue()  # both queues, then both environments, in one call each
    envs = [env for view in views for env in view.placement_environments()]
    assert [e.name for e in envs] == ["ce-a", "ce-b"]
    assert {t.name for t in envs[1].instance_types or ()} >= {"m4.large", "r5.large"}
    assert calls["DescribeInstanceTypes"] == 1
    assert calls["DescribeSubnets"] == 1
