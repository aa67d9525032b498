"""What to do about each class of reason, naming the resources involved.

One entry per ReasonClass: the root cause in a few words and the fix, with the names a
HintContext knows (image, execution role, log group, compute environments, job queue, job
definition, region, job id) filled in. The check that owns the cause, if one does, is
named too, so an event-driven alert can have it confirm the cause.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

from batch_health.domain.exit_codes import exit_code_meaning
from batch_health.domain.status_reasons import PLACEMENT, ClassifiedReason
from batch_health.domain.status_reasons import ReasonClass as R


@dataclass(frozen=True)
class HintContext:
    """The resource names a hint should mention."""

    region: str = ""
    job_queue: str = ""
    job_definition: str = ""
    image: str = ""
    execution_role: str = ""
    log_group: str = ""
    compute_environments: tuple[str, ...] = field(default_factory=tuple)
    job_id: str = ""


class _Names(dict[str, str]):
    """Placeholders filled from a HintContext; a name it does not know reads generically."""

    def __missing__(self, key: str) -> str:
        return f"<{key}>"


def _names(ctx: HintContext) -> _Names:
    names = _Names({k: str(v) for k, v in asdict(ctx).items() if v and k != "compute_environments"})
    names.setdefault("image", "the job's image")
    names.setdefault("role", names.pop("execution_role", "the execution role"))
    names.setdefault("log_group", "the job definition's awslogs-group")
    names.setdefault("job_definition", "the job definition")
    names.setdefault("job_queue", "the queue")
    names["ces"] = ", ".join(ctx.compute_environments) or f"the CEs of {names['job_queue']}"
    names["region_flag"] = f" --region {ctx.region}" if ctx.region else ""
    names["job"] = ctx.job_id or "<job-id>"
    return names


def _retry(field: str, pattern: str) -> str:
    return (
        "give {job_definition} a retryStrategy with evaluateOnExit "
        f"{field} '{pattern}' action RETRY"
    )


_PULL_PERMISSIONS = "ecr:GetAuthorizationToken, ecr:BatchGetImage and ecr:GetDownloadUrlForLayer"
_ROUTE = "(NAT gateway or VPC endpoints)"
FIXES: Mapping[R, str] = {
    R.LOG_GROUP_MISSING: (
        "Create the log group: `aws logs create-log-group --log-group-name {log_group}"
        "{region_flag}` (or set awslogs-create-group=true and allow {role} logs:CreateLogGroup)"
    ),
    R.LOGS_UNREACHABLE: (
        "The log driver could not reach its destination: for awslogs give {ces}' subnets a "
        "route to logs.{region}.amazonaws.com (NAT gateway or a logs VPC endpoint); for "
        "another driver, check its endpoint is up and reachable"
    ),
    R.LOGS_DENIED: (
        "Allow {role} logs:CreateLogStream and logs:PutLogEvents on {log_group} (and "
        "logs:CreateLogGroup with awslogs-create-group=true; see IAM_CHECK)"
    ),
    R.AWSLOGS_OPTIONS: (
        "Fix the awslogs options in {job_definition}'s logConfiguration (the option the "
        "reason names, e.g. awslogs-region or a multiline pattern), then register a new revision"
    ),
    R.CREDENTIALS_ENDPOINT: (
        "The container could not reach the task credentials endpoint (169.254.170.2): check "
        "the ECS agent on the instances of {ces} and that nothing blocks that address"
    ),
    R.ECR_DENIED: (
        f"Allow {{role}} {_PULL_PERMISSIONS} on the repository of {{image}}, and check the "
        "repository policy lets this account pull (see IAM_CHECK)"
    ),
    R.IMAGE_NOT_FOUND: (
        "The image {image} or its tag does not exist (or is private and the pull is not "
        "authenticated): push it, or register {job_definition} with a tag that exists; for a "
        "private registry give {job_definition} repositoryCredentials that {role} may read"
    ),
    R.IMAGE_PLATFORM: (
        "The image {image} has no build for the instances' platform (architecture or OS, "
        "e.g. linux/amd64 or linux/arm64): push a build for it (`docker buildx build "
        "--platform ...`), or give {ces} instance types of the image's architecture"
    ),
    R.DOCKER_HUB_RATE_LIMIT: (
        "Docker Hub limits anonymous pulls: copy the image to ECR (or an ECR pull-through "
        "cache) and point {job_definition} at it"
    ),
    R.REGISTRY_UNREACHABLE: (
        "The instances could not reach the registry: give {ces}' subnets a route to it (for "
        "ECR: NAT gateway, or ecr.api, ecr.dkr and s3 VPC endpoints)"
    ),
    R.IMAGE_PULL: (
        f"The image {{image}} could not be pulled: check the tag exists, that {{role}} may "
        f"{_PULL_PERMISSIONS}, and that the instances of {{ces}} reach the registry "
        "(NAT gateway, or ecr.api, ecr.dkr and s3 VPC endpoints)"
    ),
    R.SECRET_SSM: (
        "Allow {role} ssm:GetParameters on the parameters in {job_definition}'s secrets "
        "(and kms:Decrypt for SecureString keys of your own), and check each parameter exists"
    ),
    R.SECRET_MANAGER: (
        "Allow {role} secretsmanager:GetSecretValue on the secrets in {job_definition}'s "
        "secrets, and check each ARN (and version) exists"
    ),
    R.SECRET_KMS: "Allow {role} kms:Decrypt on the KMS key that encrypts the job's secrets",
    R.SECRET_TIMEOUT: (
        "Fetching the job's secrets timed out: give {ces}' subnets a route to Secrets Manager "
        f"and SSM {_ROUTE}"
    ),
    R.DISK_FULL: (
        "The host ran out of disk: raise the volume size in {ces}' launch template, or use "
        "smaller images"
    ),
    R.ENTRYPOINT_NOT_FOUND: (
        "The command or entrypoint is not in {image}: fix the command in {job_definition} "
        "(or the image's ENTRYPOINT)"
    ),
    R.CONTAINER_RUNTIME: (
        "A container runtime error on the host, usually transient: "
        + _retry("onReason", "{matched}*")
    ),
    R.TASK_NOT_STARTED: (
        "The container never started; its container reason says why: "
        "`aws batch describe-jobs --jobs {job}{region_flag}` (attempts[].container.reason)"
    ),
    R.OUT_OF_MEMORY: (
        "The container ran out of memory: raise MEMORY in {job_definition}'s "
        "resourceRequirements (or fix the workload's memory use)"
    ),
    R.JOB_ROLE_NOT_ASSUMABLE: (
        "ECS could not assume the job role: let ecs-tasks.amazonaws.com assume it (its trust "
        "policy), and check {job_definition} names an existing role (see IAM_CHECK)"
    ),
    R.HOST_INTERRUPTED: (
        "The host was terminated under the job (Spot reclaim or scale-in): "
        + _retry("onStatusReason", "Host EC2*")
        + " (on Fargate Spot: 'Your Spot Task was interrupted*')"
    ),
    R.ENI_TIMEOUT: (
        "The task's network interface was not ready in time (often the subnet's free IPs or "
        "ENI quota): check {ces}' subnets, and "
        + _retry("onStatusReason", "Timeout waiting for network interface*")
    ),
    R.ATTEMPT_TIMEOUT: (
        "The attempt exceeded its timeout: raise timeout.attemptDurationSeconds on "
        "{job_definition} or find why the job is slow"
    ),
    R.EXIT_CODE: (
        "The application exited with {exit}: read the job's log (`aws logs tail "
        "{log_group} --since 2h{region_flag}`)"
    ),
    R.CE_MAX_RESOURCE: (
        "The job needs more vCPUs than {ces} may ever run: raise their maxvCpus (`aws batch "
        "update-compute-environment --compute-environment <ce> --compute-resources "
        "maxvCpus=<n>{region_flag}`)"
    ),
    R.JOB_RESOURCE_REQUIREMENT: (
        "No instance type of {ces} fits the job: allow larger instance types, or lower "
        "{job_definition}'s resourceRequirements"
    ),
    R.SERVICE_ROLE_PERMISSIONS: (
        "The Batch service role of {ces} lacks permissions: use the service-linked role "
        "AWSServiceRoleForBatch, or attach AWSBatchServiceRole to it"
    ),
    R.INSTANCE_CONFIGURATION_UNSUPPORTED: (
        "{ces} names an unsupported instance configuration: fix its instance types, AMI or "
        "launch template (Batch's list of supported instance types)"
    ),
    R.SERVICE_ENVIRONMENT_MAX_RESOURCE: (
        "The service environment of {job_queue} cannot hold the job: raise its capacity limit"
    ),
    R.QUOTA_MANAGEMENT_LIMIT: (
        "The job's quota share is used up: raise its limit or wait for running jobs"
    ),
    R.INSUFFICIENT_CAPACITY: (
        "EC2 has no capacity for {ces}' instance types: allow more instance types, add subnets "
        "in more Availability Zones, or use On-Demand instead of Spot"
    ),
    R.CE_ACTION_REQUIRED: (
        "A compute environment of {job_queue} is INVALID: fix what its statusReason names "
        "(see CE_CHECK), then update it"
    ),
    R.BLOCKED_UNDETERMINED: (
        "Batch could not tell why the queue is blocked: check {ces} (CE_CHECK) and "
        "`aws batch describe-jobs --jobs {job}{region_flag}`"
    ),
    R.CE_SERVICE_ROLE: (
        "The service role of {ces} is missing or may not act: use the service-linked role "
        "AWSServiceRoleForBatch (or let batch.amazonaws.com assume the role and attach "
        "AWSBatchServiceRole), then update the compute environment"
    ),
    R.CE_INSTANCE_PROFILE: (
        "The instance profile of {ces} does not exist or is wrong: create ecsInstanceRole's "
        "instance profile (with AmazonEC2ContainerServiceforEC2Role) and name its ARN in "
        "instanceRole, then update the compute environment"
    ),
    R.CE_LAUNCH_TEMPLATE: (
        "Fix the launch template of {ces} (it must exist; its user data must be MIME "
        "multipart), then update the compute environment"
    ),
    R.CE_SPOT_FLEET_ROLE: (
        "The Spot Fleet role of {ces} is invalid: name one with AmazonEC2SpotFleetTaggingRole "
        "(or drop spotIamFleetRole for SPOT_CAPACITY_OPTIMIZED), then update the compute "
        "environment"
    ),
    R.CE_NETWORK: (
        "The subnets or security groups of {ces} are wrong: name subnets and security groups "
        "that exist, all of one VPC (the launch template's too), then update it"
    ),
    R.CE_ECS_CLUSTER: (
        "The instances of {ces} never joined its ECS cluster (or the cluster is gone): give "
        f"the subnets a route to ECS {_ROUTE}, check the instance role has "
        "AmazonEC2ContainerServiceforEC2Role and the AMI runs the ECS agent"
    ),
    R.CE_EKS: (
        "The EKS cluster does not accept {ces}: check the cluster's Kubernetes version, the "
        "namespace, the access entry and the nodes' role, then update it"
    ),
    R.CE_INVALID: "Fix what the statusReason of {ces} names, then update the compute environment",
    R.SUBMIT_REJECTED: (
        "Batch could not submit the job's task to ECS: shorten or fix what the reason names "
        "(the container overrides of the submit, e.g. environment or command)"
    ),
    R.OTHER: "Read the job's full reason: `aws batch describe-jobs --jobs {job}{region_flag}`",
}
# The check that owns each cause: it confirms (or disproves) the cause on its own.
OWNING_CHECK: Mapping[R, str] = {
    R.LOG_GROUP_MISSING: "LOG_GROUP_CHECK",
    R.LOGS_DENIED: "IAM_CHECK",
    R.ECR_DENIED: "IAM_CHECK",
    R.JOB_ROLE_NOT_ASSUMABLE: "IAM_CHECK",
    R.CE_MAX_RESOURCE: "CE_CHECK",
    R.JOB_RESOURCE_REQUIREMENT: "CE_CHECK",
    R.SERVICE_ROLE_PERMISSIONS: "CE_CHECK",
    R.INSTANCE_CONFIGURATION_UNSUPPORTED: "CE_CHECK",
    R.INSUFFICIENT_CAPACITY: "CE_CHECK",
    R.CE_ACTION_REQUIRED: "CE_CHECK",
    R.BLOCKED_UNDETERMINED: "CE_CHECK",
    R.CE_SERVICE_ROLE: "CE_CHECK",
    R.CE_INSTANCE_PROFILE: "CE_CHECK",
    R.CE_LAUNCH_TEMPLATE: "CE_CHECK",
    R.CE_SPOT_FLEET_ROLE: "CE_CHECK",
    R.CE_NETWORK: "CE_CHECK",
    R.CE_ECS_CLUSTER: "CE_CHECK",
    R.CE_EKS: "CE_CHECK",
    R.CE_INVALID: "CE_CHECK",
}
# Where the owning check passing proves the cause gone (a log group that exists now, a role
# that may now pull). A placement class is not: CE_CHECK passing does not mean capacity.
RESOLVED_BY_OWNER = frozenset(OWNING_CHECK) - PLACEMENT
RETRYABLE = frozenset({R.CONTAINER_RUNTIME, R.HOST_INTERRUPTED, R.ENI_TIMEOUT})


def reason_hint(reason: ClassifiedReason, ctx: HintContext) -> str:
    """What to do about this class of reason, naming the resources involved."""
    names = _names(ctx)
    names["exit"] = f"code {reason.exit_code}" if reason.exit_code is not None else "an error"
    if meaning := exit_code_meaning(reason.exit_code):
        names["exit"] += f" ({meaning})"
    names["matched"] = reason.deciding_words.split(":")[0] or "Cannot"
    fix = FIXES[reason.kind].format_map(names)
    if reason.by_time_limit:
        fix += (
            " (the job queue's JobStateTimeLimit action cancelled it after it waited; the "
            "cause above is why it waited)"
        )
    return fix
