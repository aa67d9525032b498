"""What each execution role of a job must be allowed when ECS starts the job's tasks.

AWS checks a task's execution role, not its job role, when it creates the containers' log
streams, writes their events, pulls their ECR images, and fetches their secrets and private
registry credentials (ECS task execution IAM role,
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_execution_IAM_role.html).
A job can name several execution roles (one per node range of a multi-node job); each is
asked about what its own task's containers need. IAM_CHECK asks about these requirements;
the inventory names them as soon as a job definition is read, so the IAM simulator is asked
about every target's resources of one role in one call.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from batch_health.config import Target
from batch_health.domain.arns import arn_account, arn_partition
from batch_health.domain.job_definition import JobDefinitionView
from batch_health.domain.job_parts import Container, Secret, Task

ECR_IMAGE = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr(?:-fips)?\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?"
    r"/(?P<repo>[^:@]+)"
)
LOG_ACTIONS = ("logs:CreateLogStream", "logs:PutLogEvents")
ECR_AUTH_ACTIONS = ("ecr:GetAuthorizationToken",)
ECR_PULL_ACTIONS = ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer")
# Secrets for ECS tasks (Specifying sensitive data, ECS developer guide,
# https://docs.aws.amazon.com/AmazonECS/latest/developerguide/secrets-envvar-secrets-manager.html
# and .../secrets-envvar-ssm-paramstore.html): the execution role reads each secret, and
# decrypts it with kms:Decrypt when a customer managed key encrypts it.
SECRET_ACTIONS = ("secretsmanager:GetSecretValue",)
PARAMETER_ACTIONS = ("ssm:GetParameters",)
KMS_ACTIONS = ("kms:Decrypt",)


@dataclass(frozen=True)
class Requirement:
    """Actions the execution role needs on one resource ARN, and what for."""

    purpose: str
    actions: tuple[str, ...]
    resource: str


@dataclass(frozen=True)
class ExecutionRoleNeeds:
    """One execution role, the tasks it starts, and what it must be allowed for them."""

    role_arn: str
    wheres: tuple[str, ...]  # "" for the job's only task, else "node range 0:3", ...
    requirements: tuple[Requirement, ...]


def is_aws_managed_alias(key: str) -> bool:
    """`alias/aws/ssm`, `alias/aws/secretsmanager` (or their ARNs): AWS managed keys, which
    the execution role needs no kms:Decrypt grant for."""
    return key.startswith("alias/aws/") or ":alias/aws/" in key


def secret_resource(secret: Secret, *, region: str, account: str, partition: str) -> str:
    """The ARN IAM authorizes the read of `secret` on: a Secrets Manager secret without its
    JSON key and version suffix, an SSM parameter ARN, or a parameter name in the job's
    region and account."""
    value = secret.value_from
    if value.startswith("arn:"):
        parts = value.split(":")
        return ":".join(parts[:7]) if parts[2:3] == ["secretsmanager"] else value
    return f"arn:{partition}:ssm:{region}:{account}:parameter/{value.lstrip('/')}"


def secret_actions(resource: str) -> tuple[str, ...]:
    return SECRET_ACTIONS if resource.split(":")[2:3] == ["secretsmanager"] else PARAMETER_ACTIONS


def _of(container: Container) -> str:
    return f" ({container.where})" if container.where != "container" else ""


def container_requirements(
    container: Container,
    *,
    log_group: str | None,
    region: str,
    account: str,
    partition: str,
    secret_keys: Mapping[str, str | None],
) -> list[Requirement]:
    """What starting this one container needs of its task's execution role."""
    needed: list[Requirement] = []
    of = _of(container)
    if log_group:
        # AWS authorizes both actions on the log-stream ARN under the group, so the common
        # grant `...:log-group:NAME:*` counts, as does `*`.
        stream_arn = f"arn:{partition}:logs:{region}:{account}:log-group:{log_group}:log-stream:*"
        needed.append(Requirement(f"write logs to {log_group}{of}", LOG_ACTIONS, stream_arn))
    ecr = ECR_IMAGE.match(container.image or "")
    if ecr:
        repo_arn = f"arn:{partition}:ecr:{ecr['region']}:{ecr['account']}:repository/{ecr['repo']}"
        needed.append(Requirement("authenticate to ECR", ECR_AUTH_ACTIONS, "*"))
        needed.append(Requirement(f"pull {ecr['repo']} from ECR{of}", ECR_PULL_ACTIONS, repo_arn))
    for secret in container.secrets:
        resource = secret_resource(secret, region=region, account=account, partition=partition)
        needed.append(Requirement(f"read {secret.purpose}{of}", secret_actions(resource), resource))
        key = secret_keys.get(secret.value_from)
        if key:
            needed.append(Requirement(f"decrypt {secret.purpose} with {key}{of}", KMS_ACTIONS, key))
    return needed


def task_requirements(
    task: Task,
    target: Target,
    region: str,
    secret_keys: Mapping[str, str | None],
) -> list[Requirement]:
    role = task.execution_role_arn
    partition, account = arn_partition(role), arn_account(role)
    needed: list[Requirement] = []
    for container in task.containers:
        group = container.log.group if container.log is not None else None
        needed += container_requirements(
            container,
            log_group=(target.log_group or group) if group else None,
            region=region,
            account=account,
            partition=partition,
            secret_keys=secret_keys,
        )
    return needed


def execution_role_needs(
    target: Target,
    job_definition: JobDefinitionView | None,
    region: str | None,
    secret_keys: Mapping[str, str | None] | None = None,
) -> list[ExecutionRoleNeeds]:
    """Every execution role of the job and what it must be allowed for the target's jobs:
    what IAM_CHECK evaluates, and asks the simulator about. `secret_keys`: each secret's
    customer managed KMS key ARN (None: an AWS managed key), where known."""
    if job_definition is None:
        return []
    by_role: dict[str, tuple[list[str], dict[tuple[tuple[str, ...], str], Requirement]]] = {}
    for task in job_definition.tasks:
        if not task.execution_role_arn:
            continue
        wheres, needed = by_role.setdefault(task.execution_role_arn, ([], {}))
        wheres.append(task.where)
        for r in task_requirements(task, target, region or "", secret_keys or {}):
            needed.setdefault((r.actions, r.resource), r)
    return [
        ExecutionRoleNeeds(role, tuple(wheres), tuple(needed.values()))
        for role, (wheres, needed) in by_role.items()
    ]


def requirements_of(needs: list[ExecutionRoleNeeds], role_arn: str) -> list[Requirement]:
    return [r for n in needs if n.role_arn == role_arn for r in n.requirements]
