"""A TargetView that answers from a table instead of AWS, and the table of a healthy workload.

The derived lookups (the queue's compute environments, the job definition's roles and log
group) stay TargetView's own, so they meet whatever the table answers. Used to put answers
AWS may give but the emulator never does (missing fields, odd values) in front of every check.
"""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Any

from batch_health.aws.iam_reads import SecretKeys
from batch_health.aws.inventory import TargetView
from batch_health.checks import REGISTRY, Check, CheckContext, RunOptions
from batch_health.checks.smoke_submit import SmokeSubmitCheck
from batch_health.config import Target
from batch_health.demo import ECS_TRUST
from batch_health.domain.iam_policy import PolicyDocument, parse_document
from batch_health.domain.instance_types import EnvironmentFacts, InstanceType
from batch_health.domain.job_definition import JobDefinitionView
from batch_health.engine import run_check
from batch_health.models import CheckResult

PLACEMENT_FACTS = Path(__file__).resolve().parents[1] / "data" / "placement_facts.json"
REGION = "ap-northeast-2"
ACCOUNT = "123456789012"
NOW_MS = int(time.time() * 1000)
HOUR_MS = 3_600_000
QUEUE, JOBDEF, LOG_GROUP = "video-queue", "video-jobdef", "/aws/batch/video-worker"
CE_ARN = f"arn:aws:batch:{REGION}:{ACCOUNT}:compute-environment/video-ce"
EXEC_ARN = f"arn:aws:iam::{ACCOUNT}:role/video-exec"
JOB_ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/video-job"
IMAGE = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/video-worker:1"
EXECUTION_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{LOG_GROUP}:*",
        },
        {"Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
        {
            "Effect": "Allow",
            "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
            "Resource": f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/video-worker",
        },
    ],
}
TARGET = Target.model_validate(
    {
        "name": "video",
        "region": REGION,
        "job_queue": QUEUE,
        "job_definition": JOBDEF,
        "config_sources": {"api": {"job_queue": "ssm:/api/queue", "job_definition": "ssm:/api/jd"}},
        "smoke": {"timeout_seconds": 60, "runnable_timeout_seconds": 30, "poll_seconds": 5},
    }
)


def healthy_answers() -> dict[str, Any]:
    """What AWS answers for a healthy workload (shapes as boto3 returns them)."""
    return {
        "caller_identity": {
            "Account": ACCOUNT,
            "Arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/monitor/run",
            "UserId": "AROAEXAMPLE:run",
        },
        "job_queue": {
            "jobQueueName": QUEUE,
            "jobQueueArn": f"arn:aws:batch:{REGION}:{ACCOUNT}:job-queue/{QUEUE}",
            "state": "ENABLED",
            "status": "VALID",
            "priority": 1,
            "computeEnvironmentOrder": [{"order": 1, "computeEnvironment": CE_ARN}],
        },
        "compute_environments": {
            CE_ARN: {
                "computeEnvironmentName": "video-ce",
                "computeEnvironmentArn": CE_ARN,
                "type": "MANAGED",
                "state": "ENABLED",
                "status": "VALID",
                "computeResources": {
                    "type": "EC2",
                    "minvCpus": 0,
                    "maxvCpus": 16,
                    "desiredvCpus": 0,
                    "instanceTypes": ["m5"],
                },
            }
        },
        # DescribeInstanceTypes entries as AWS answers them (placement_facts.json, its source)
        "instance_types": json.loads(PLACEMENT_FACTS.read_text())["describe_instance_types"][
            "InstanceTypes"
        ],
        "job_definition": {
            "jobDefinitionName": JOBDEF,
            "jobDefinitionArn": f"arn:aws:batch:{REGION}:{ACCOUNT}:job-definition/{JOBDEF}:3",
            "revision": 3,
            "status": "ACTIVE",
            "type": "container",
            "parameters": {},
            "retryStrategy": {"attempts": 3},
            "platformCapabilities": ["EC2"],
            "containerProperties": {
                "image": IMAGE,
                "command": ["python", "run.py", "Ref::job_id"],
                "executionRoleArn": EXEC_ARN,
                "jobRoleArn": JOB_ROLE_ARN,
                "logConfiguration": {
                    "logDriver": "awslogs",
                    "options": {"awslogs-group": LOG_GROUP},
                },
            },
        },
        "log_groups": {
            LOG_GROUP: {
                "logGroupName": LOG_GROUP,
                "retentionInDays": 30,
                "storedBytes": 1024,
                "arn": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{LOG_GROUP}:*",
            }
        },
        "log_streams": [{"logStreamName": "worker/1", "lastEventTimestamp": NOW_MS - 60_000}],
        "log_events": {"worker/1": [{"timestamp": NOW_MS - 60_000, "message": "job done"}]},
        "jobs": {
            "RUNNABLE": [],
            "FAILED": [],
            "SUCCEEDED": [
                {
                    "jobId": "ok-1",
                    "jobName": "video-1",
                    "status": "SUCCEEDED",
                    "createdAt": NOW_MS - HOUR_MS // 2,
                    "stoppedAt": NOW_MS - 60_000,
                }
            ],
        },
        "described_jobs": [],
        "roles": {
            "video-exec": {
                "RoleName": "video-exec",
                "Arn": EXEC_ARN,
                "AssumeRolePolicyDocument": ECS_TRUST,
            },
            "video-job": {
                "RoleName": "video-job",
                "Arn": JOB_ROLE_ARN,
                "AssumeRolePolicyDocument": ECS_TRUST,
            },
        },
        "role_policies": {"video-exec": {"inline policy exec": EXECUTION_POLICY}},
        # None: the simulator is unavailable (as on moto), so policies are evaluated locally.
        "simulation": None,
        "ssm": {"/api/queue": QUEUE, "/api/jd": JOBDEF},
        "submit": {"jobArn": f"arn:aws:batch:{REGION}:{ACCOUNT}:job/smoke-1", "jobId": "smoke-1"},
        "poll": {"jobId": "smoke-1", "jobName": "health-smoke-x", "status": "RUNNING"},
    }


class FakeBatch:
    """The two Batch calls the smoke check makes itself (submit and terminate)."""

    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers
        self.terminated: list[str] = []

    def submit_job(self, **request: Any) -> dict[str, Any]:
        return copy.deepcopy(self.answers["submit"])

    def terminate_job(self, jobId: str, reason: str) -> dict[str, Any]:
        self.terminated.append(jobId)
        return {}


class AnswerView(TargetView):
    """A TargetView answering from a table instead of AWS; derived lookups stay TargetView's."""

    def __init__(self, target: Target, answers: dict[str, Any]) -> None:
        self.target = target
        self.region = REGION
        self.profile = None
        self.answers = answers
        self.batch = FakeBatch(answers)

    def _get(self, key: str) -> Any:
        return copy.deepcopy(self.answers[key])

    def client(self, service: str) -> Any:
        assert service == "batch", service
        return self.batch

    def caller_identity(self) -> dict[str, Any]:
        return self._get("caller_identity")

    def job_queue(self) -> dict[str, Any] | None:
        return self._get("job_queue")

    def compute_environment(self, name_or_arn: str) -> dict[str, Any] | None:
        return self._get("compute_environments").get(name_or_arn)

    def job_definition(self) -> JobDefinitionView | None:
        answer = self._get("job_definition")
        return None if answer is None else JobDefinitionView.parse(answer)

    def log_group(self, name: str) -> dict[str, Any] | None:
        return self._get("log_groups").get(name)

    def ssm_parameter(self, name: str) -> str | None:
        return self._get("ssm").get(name)

    def jobs(self, status: str, max_items: int = 500) -> list[dict[str, Any]]:
        return self._get("jobs").get(status, [])

    def describe_jobs(self, job_ids: tuple[str, ...]) -> list[dict[str, Any]]:
        return [j for j in self._get("described_jobs") if j.get("jobId") in job_ids]

    def poll_job(self, job_id: str) -> dict[str, Any] | None:
        return self._get("poll")

    def placement_environments(self) -> list[EnvironmentFacts]:
        """The queue's environments as described, with the table's instance types; zones
        and quotas unread (the analysis then says it did not check them)."""
        entries = self.answers.get("instance_types")
        types = None if entries is None else [InstanceType.from_describe(e) for e in entries]
        return [
            EnvironmentFacts.from_describe(ce).with_facts(
                instance_types=None if types is None else tuple(t for t in types if t),
                unread={} if types is not None else {"instance_types": "not in the table"},
            )
            for _, ce in self.compute_environments()
            if ce
        ]

    def queue_front(self) -> list[dict[str, Any]]:
        return self.answers.get("queue_front", [])

    def role(self, name: str) -> dict[str, Any] | None:
        return self._get("roles").get(name)

    def role_policy_documents(self, role_name: str) -> list[PolicyDocument]:
        docs = self._get("role_policies").get(role_name, {})
        return [PolicyDocument(source, parse_document(doc)) for source, doc in docs.items()]

    def managed_policy_document(self, policy_arn: str) -> dict[str, Any]:
        raise AssertionError("no managed policy is attached in these answers")

    def simulate_principal_policy(
        self, principal_arn: str, actions: tuple[str, ...], resource_arn: str
    ) -> list[dict[str, Any]]:
        results = self._get("simulation")
        if results is None:
            raise NotImplementedError("SimulatePrincipalPolicy")
        return results

    def secret_keys(self) -> SecretKeys:
        return self.answers.get("secret_keys") or SecretKeys()

    def newest_log_streams(self, group: str, limit: int = 3) -> list[dict[str, Any]]:
        return self._get("log_streams")[:limit]

    def recent_log_events(self, group: str, stream: str, limit: int) -> list[dict[str, Any]]:
        return self._get("log_events").get(stream, [])[-limit:]


class FakeClock:
    """The smoke check's sleep and clock: sleeping advances time at once."""

    def __init__(self) -> None:
        self.now = 0.0

    def sleep(self, seconds: float) -> None:
        self.now += seconds

    def __call__(self) -> float:
        return self.now


def checks() -> list[Check]:
    """The registry, with the smoke check on a fake clock so its polling takes no time."""
    clock = FakeClock()
    return [
        SmokeSubmitCheck(sleep=clock.sleep, clock=clock) if isinstance(c, SmokeSubmitCheck) else c
        for c in REGISTRY
    ]


def run_every_check(answers: dict[str, Any]) -> dict[str, CheckResult]:
    """Each registered check on its own (dependencies not enforced: each meets the oddity)."""
    view = AnswerView(TARGET, answers)
    options = RunOptions(allow_test_submit=True)
    ctx = CheckContext(TARGET, view, options, time.monotonic() + 600, {})
    return {check.name: run_check(check, ctx) for check in checks()}
