"""The placement analysis's worlds: compute environments the emulator holds (moto answers
DescribeComputeEnvironments, DescribeInstanceTypes, DescribeSubnets and
DescribeInstanceTypeOfferings from AWS's own answers it stores), and what it lacks answered
on the real client path with AWS's documented shapes:

- servicequotas:GetServiceQuota (moto answers it for no EC2 or Fargate quota): the
  response syntax of https://docs.aws.amazon.com/servicequotas/2019-06-24/apireference/API_GetServiceQuota.html,
  values from tests/data/placement_facts.json's quota table unless a test says otherwise;
- batch:GetJobQueueSnapshot (moto: "Not yet implemented"): `frontOfQueue.jobs[]` of
  `jobArn`, `earliestTimeAtPosition`
  (https://docs.aws.amazon.com/batch/latest/APIReference/API_GetJobQueueSnapshot.html);
- batch:CancelJob, recorded (moto holds no RUNNABLE job to cancel).
RUNNABLE jobs themselves are AWS's documented "Batch Job State Change" example, a RUNNABLE
job (events/batch/job-state-change.json): its `detail` is a DescribeJobs JobDetail.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest

from batch_health.aws.inventory import TargetView
from batch_health.aws.sessions import AwsSessions
from batch_health.demo import CE, QUEUE, WorldBuilder
from support.batch_events import documented

# "UNDETERMINED - ..." as the Batch user guide quotes it (tests/data/reason_corpus.json).
UNDETERMINED = "UNDETERMINED - Batch job is blocked, root cause is undetermined."
QUOTAS_SOURCE = "https://docs.aws.amazon.com/ec2/latest/instancetypes/ec2-instance-quotas.html"
# The defaults of a new account (tests/data/placement_facts.json, service_quotas).
NEW_ACCOUNT_QUOTAS = {"L-1216C47A": 5.0, "L-34B43A08": 5.0, "L-417A185B": 0.0, "L-DB2E81BA": 0.0}

EC2_READS = ("DescribeInstanceTypes", "DescribeSubnets", "DescribeInstanceTypeOfferings")
Answer = Callable[[dict[str, Any]], dict[str, Any]]


def placement_world(
    world: WorldBuilder,
    instance_types: list[str],
    *,
    max_vcpus: int = 16,
    desired_vcpus: int = 0,
    zone: str | None = None,
    ce_type: str = "EC2",
    state: str = "ENABLED",
) -> str:
    """A queue on one managed compute environment allowing `instance_types`, its subnet
    in `zone` (else the emulator's first); returns the environment's ARN."""
    ec2 = world.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    where = {"AvailabilityZone": zone} if zone else {}
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.0.0/24", **where)["Subnet"]
    sg = ec2.create_security_group(GroupName="batch", Description="batch", VpcId=vpc)["GroupId"]
    iam = world.client("iam")
    role = iam.create_role(RoleName="batch-service", AssumeRolePolicyDocument="{}")["Role"]
    profile = iam.create_instance_profile(InstanceProfileName="batch-instance")
    batch = world.client("batch")
    resources: dict[str, Any] = {
        "type": ce_type,
        "minvCpus": 0,
        "maxvCpus": max_vcpus,
        "desiredvCpus": desired_vcpus,
        "subnets": [subnet["SubnetId"]],
        "securityGroupIds": [sg],
    }
    if not ce_type.startswith("FARGATE"):
        resources |= {
            "instanceTypes": instance_types,
            "instanceRole": profile["InstanceProfile"]["Arn"],
        }
    arn = batch.create_compute_environment(
        computeEnvironmentName=CE,
        type="MANAGED",
        state=state,
        computeResources=resources,
        serviceRole=role["Arn"],
    )["computeEnvironmentArn"]
    batch.create_job_queue(
        jobQueueName=QUEUE,
        state="ENABLED",
        priority=1,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": arn}],
    )
    return arn


def runnable_job(
    job_id: str,
    *,
    vcpus: str = "2",
    memory: str = "256",
    status_reason: str | None = None,
    created_at: int | None = None,
    gpus: str | None = None,
) -> dict[str, Any]:
    """AWS's documented RUNNABLE job (2 vCPU, 256 MiB) as DescribeJobs gives it, with the
    requirements and reason a test chooses."""
    detail = copy.deepcopy(documented("job-state-change")["detail"])
    detail["jobId"] = job_id
    detail["jobArn"] = detail["jobArn"].rsplit("/", 1)[0] + f"/{job_id}"
    requirements = [{"type": "VCPU", "value": vcpus}, {"type": "MEMORY", "value": memory}]
    if gpus:
        requirements.append({"type": "GPU", "value": gpus})
    detail["container"]["resourceRequirements"] = requirements
    if status_reason is not None:
        detail["statusReason"] = status_reason
    if created_at is not None:
        detail["createdAt"] = created_at
    return detail


def summary_of(job: dict[str, Any]) -> dict[str, Any]:
    """The ListJobs JobSummary of a described job (API_JobSummary's fields)."""
    keys = ("jobArn", "jobId", "jobName", "createdAt", "status", "statusReason", "jobDefinition")
    return {k: job[k] for k in keys if k in job}


def queue_holds(monkeypatch: pytest.MonkeyPatch, jobs: list[dict[str, Any]]) -> None:
    """The queue's RUNNABLE jobs: ListJobs and DescribeJobs answer them (moto cannot hold
    jobs in RUNNABLE)."""
    by_id = {j["jobId"]: j for j in jobs}
    monkeypatch.setattr(
        TargetView,
        "jobs",
        lambda self, status, max_items=500: [summary_of(j) for j in jobs if status == "RUNNABLE"],
    )
    monkeypatch.setattr(
        TargetView,
        "describe_jobs",
        lambda self, ids: [copy.deepcopy(by_id[i]) for i in ids if i in by_id],
    )


def quota(code: str, value: float, service: str = "ec2") -> dict[str, Any]:
    """A GetServiceQuota answer (response syntax of API_GetServiceQuota)."""
    return {
        "Quota": {
            "ServiceCode": service,
            "ServiceName": "Amazon Elastic Compute Cloud (Amazon EC2)",
            "QuotaArn": f"arn:aws:servicequotas:us-east-1:123456789012:{service}/{code}",
            "QuotaCode": code,
            "QuotaName": code,
            "Value": value,
            "Unit": "None",
            "Adjustable": True,
            "GlobalQuota": False,
        }
    }


class Answers:
    """Before-call answers for the calls the emulator lacks, on every client the run makes;
    `calls` records each request's parameters per operation."""

    def __init__(self, quotas: dict[str, float] | None = None) -> None:
        self.quotas = dict(NEW_ACCOUNT_QUOTAS if quotas is None else quotas)
        self.front: list[str] = []
        self.calls: dict[str, list[dict[str, Any]]] = {}
        self.deny: dict[str, str] = {}  # operation -> error code

    def _answer(self, operation: str, request: dict[str, Any]) -> dict[str, Any]:
        if operation == "GetServiceQuota":
            code = request["QuotaCode"]
            if code not in self.quotas:
                raise _error("NoSuchResourceException", operation)
            return quota(code, self.quotas[code], request["ServiceCode"])
        if operation == "GetJobQueueSnapshot":
            arn = "arn:aws:batch:us-east-1:123456789012:job/"
            jobs = [
                {"jobArn": arn + j, "earliestTimeAtPosition": 1641944200058} for j in self.front
            ]
            return {"frontOfQueue": {"jobs": jobs, "lastUpdatedAt": 1641944200058}}
        return {}  # CancelJob answers an empty body

    def handler(self, operation: str) -> Callable[..., Any]:
        def answer(params: dict[str, Any], **_: Any) -> tuple[Any, dict[str, Any]] | None:
            if operation in self.deny:
                self.calls.setdefault(operation, []).append({})
                raise _error(self.deny[operation], operation)
            if operation in EC2_READS:
                return None  # the emulator answers
            request = json.loads(params["body"] or b"{}")
            self.calls.setdefault(operation, []).append(request)
            return SimpleNamespace(status_code=200, headers={}), self._answer(operation, request)

        return answer

    def install(self, monkeypatch: pytest.MonkeyPatch) -> Answers:
        make = AwsSessions._make
        ops = {
            "service-quotas": ("GetServiceQuota",),
            "batch": ("GetJobQueueSnapshot", "CancelJob"),
            "ec2": EC2_READS,  # answered by the emulator unless denied
        }

        def make_answering(sessions: AwsSessions, key: Any) -> Any:
            client = make(sessions, key)
            for op in ops.get(key.service, ()):
                client.meta.events.register_first(
                    f"before-call.{key.service}.{op}", self.handler(op)
                )
            return client

        monkeypatch.setattr(AwsSessions, "_make", make_answering)
        return self


def _error(code: str, operation: str) -> Exception:
    from botocore.exceptions import ClientError

    return ClientError({"Error": {"Code": code, "Message": f"{code} for {operation}"}}, operation)
