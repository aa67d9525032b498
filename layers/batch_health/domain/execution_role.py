"""What a job's execution role must be allowed when ECS starts the job.

AWS checks the execution role, not the job role, when it creates the job's log stream,
writes its events and pulls its ECR image. IAM_CHECK asks about these requirements; the
inventory names them as soon as a job definition is read, so the IAM simulator is asked
about every target's resources of one role in one call.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from batch_health.config import Target
from batch_health.domain.arns import arn_account, arn_partition
from batch_health.domain.job_definition import JobDefinitionView

ECR_IMAGE = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr(?:-fips)?\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?"
    r"/(?P<repo>[^:@]+)"
)
LOG_ACTIONS = ("logs:CreateLogStream", "logs:PutLogEvents")
ECR_AUTH_ACTIONS = ("ecr:GetAuthorizationToken",)
ECR_PULL_ACTIONS = ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer")


@dataclass(frozen=True)
class Requirement:
    """Actions the execution role needs on one resource ARN, and what for."""

    purpose: str
    actions: tuple[str, ...]
    resource: str


def execution_role_requirements(
    *, execution_role_arn: str, image: str, log_group: str | None, region: str
) -> list[Requirement]:
    """What AWS checks when ECS starts the job: log stream writes and the ECR pull."""
    partition, account = arn_partition(execution_role_arn), arn_account(execution_role_arn)
    needed: list[Requirement] = []
    if log_group:
        # AWS authorizes both actions on the log-stream ARN under the group, so the common
        # grant `...:log-group:NAME:*` counts, as does `*`.
        stream_arn = f"arn:{partition}:logs:{region}:{account}:log-group:{log_group}:log-stream:*"
        needed.append(Requirement(f"write logs to {log_group}", LOG_ACTIONS, stream_arn))
    ecr = ECR_IMAGE.match(image or "")
    if ecr:
        repo_arn = f"arn:{partition}:ecr:{ecr['region']}:{ecr['account']}:repository/{ecr['repo']}"
        needed.append(Requirement("authenticate to ECR", ECR_AUTH_ACTIONS, "*"))
        needed.append(Requirement(f"pull {ecr['repo']} from ECR", ECR_PULL_ACTIONS, repo_arn))
    return needed


def requirements_for(
    target: Target, job_definition: JobDefinitionView | None, region: str | None
) -> tuple[str, list[Requirement]]:
    """The job definition's execution role ARN ("" when none) and what it must be allowed
    for the target's jobs: what IAM_CHECK evaluates, and asks the simulator about."""
    if job_definition is None or not job_definition.execution_role_arn:
        return "", []
    role = job_definition.execution_role_arn
    return role, execution_role_requirements(
        execution_role_arn=role,
        image=job_definition.image,
        log_group=target.log_group or job_definition.awslogs_group,
        region=region or "",
    )
