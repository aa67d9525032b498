"""What a job's execution role must be allowed when ECS starts the job.

AWS checks the execution role, not the job role, when it creates the job's log stream,
writes its events and pulls its ECR image. IAM_CHECK asks about these requirements; the
inventory names them as soon as a job definition is read, so the IAM simulator is asked
about every target's resources of one role in one call.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

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


def arn_partition(arn: str) -> str:
    parts = arn.split(":")
    return parts[1] if len(parts) > 1 and parts[1] else "aws"


def arn_account(arn: str) -> str:
    parts = arn.split(":")
    return parts[4] if len(parts) > 4 else ""


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
