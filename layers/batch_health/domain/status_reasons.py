"""Why a Batch job failed or waits: its statusReason and container reason, classified.

Batch reports the cause in free text (`statusReason` on the job, `reason` and `exitCode`
on the container). The smoke check and JOB_FAILURES_CHECK classify it the same way so the
same cause gets the same name and the same hint.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class ReasonClass(StrEnum):
    IMAGE_PULL = "image pull"
    LOG_CONFIG = "log group/stream"
    RESOURCES = "resource/capacity"
    EXIT_CODE = "essential container exit code"
    HOST_TERMINATION = "host/spot termination"
    TIMEOUT = "timeout"
    OTHER = "other"


# Most specific first: an image pull error also reads "Essential container ... exited".
_PATTERNS: tuple[tuple[ReasonClass, re.Pattern[str]], ...] = (
    (
        ReasonClass.IMAGE_PULL,
        re.compile(
            r"CannotPullContainerError|CannotPullImageManifestError|pull access denied|"
            r"manifest (?:for .* )?(?:unknown|not found)|ImagePull|registry auth",
            re.IGNORECASE,
        ),
    ),
    (
        ReasonClass.LOG_CONFIG,
        re.compile(
            r"ResourceInitializationError.*\blog|failed to (?:validate|initialize) logg|"
            r"log group does not exist|awslogs|CreateLogStream|PutLogEvents",
            re.IGNORECASE,
        ),
    ),
    (
        ReasonClass.RESOURCES,
        re.compile(
            r"^(?:MISCONFIGURATION|CAPACITY|RESOURCE):|OutOfMemory|OOMKilled|"
            r"no space left on device|insufficient (?:memory|cpu|capacity)",
            re.IGNORECASE | re.MULTILINE,
        ),
    ),
    (ReasonClass.TIMEOUT, re.compile(r"exceeded timeout", re.IGNORECASE)),
    (
        ReasonClass.HOST_TERMINATION,
        re.compile(
            r"^Host EC2 .*terminated|Spot (?:instance )?interruption|instance .*terminated",
            re.IGNORECASE | re.MULTILINE,
        ),
    ),
    (ReasonClass.EXIT_CODE, re.compile(r"Essential container in task exited", re.IGNORECASE)),
)


@dataclass(frozen=True)
class ClassifiedReason:
    kind: ReasonClass
    text: str  # the reason as Batch gave it (job statusReason; container reason)
    exit_code: int | None = None

    def describe(self) -> str:
        code = f" (exit code {self.exit_code})" if self.exit_code is not None else ""
        text = f": {self.text}" if self.text else ""
        return f"{self.kind.value}{code}{text}"


def classify_reason(
    status_reason: str | None, container_reason: str | None = None, exit_code: int | None = None
) -> ClassifiedReason:
    """Classify Batch's reasons for a FAILED (or stuck RUNNABLE) job."""
    parts = [p.strip() for p in (status_reason, container_reason) if p and p.strip()]
    text = "; ".join(dict.fromkeys(parts))
    for kind, pattern in _PATTERNS:
        if any(pattern.search(p) for p in parts):
            return ClassifiedReason(kind, text, exit_code)
    if exit_code not in (None, 0):
        return ClassifiedReason(ReasonClass.EXIT_CODE, text, exit_code)
    return ClassifiedReason(ReasonClass.OTHER, text, exit_code)


def classify_job(job: dict[str, Any]) -> ClassifiedReason:
    """Classify a job description or summary (container fields of its last attempt count)."""
    container = dict(job.get("container") or {})
    attempts = [a for a in job.get("attempts") or [] if isinstance(a, dict)]
    if attempts:
        last = attempts[-1].get("container") or {}
        container.setdefault("reason", last.get("reason"))
        container.setdefault("exitCode", last.get("exitCode"))
        if not container.get("reason"):
            container["reason"] = attempts[-1].get("statusReason")
    exit_code = container.get("exitCode")
    return classify_reason(
        job.get("statusReason"),
        container.get("reason"),
        exit_code if isinstance(exit_code, int) else None,
    )


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


def reason_hint(reason: ClassifiedReason, ctx: HintContext) -> str:
    """What to do about this class of reason, naming the resources involved."""
    region = f" --region {ctx.region}" if ctx.region else ""
    ces = ", ".join(ctx.compute_environments) or f"the CEs of {ctx.job_queue or 'the queue'}"
    role = ctx.execution_role or "the execution role"
    if reason.kind is ReasonClass.IMAGE_PULL:
        return (
            f"The image {ctx.image or '(see the job definition)'} could not be pulled: check the "
            f"tag exists, that {role} may ecr:GetAuthorizationToken, ecr:BatchGetImage and "
            "ecr:GetDownloadUrlForLayer, and that instances in private subnets reach ECR "
            "(NAT gateway or ecr.api/ecr.dkr/s3 VPC endpoints)"
        )
    if reason.kind is ReasonClass.LOG_CONFIG:
        group = ctx.log_group or "the job definition's awslogs-group"
        return (
            f"The container could not start logging to {group}: create it (`aws logs "
            f"create-log-group --log-group-name {group}{region}`) and let {role} "
            "logs:CreateLogStream and logs:PutLogEvents on it"
        )
    if reason.kind is ReasonClass.RESOURCES:
        text = reason.text.upper()
        if "OUTOFMEMORY" in text or "OOMKILLED" in text:
            jd = ctx.job_definition or "the job definition"
            return (
                f"The container ran out of memory: raise MEMORY in {jd}'s resourceRequirements "
                "(or fix the workload's memory use)"
            )
        if "SERVICE_ROLE" in text:
            return (
                f"The Batch service role of {ces} lacks permissions: attach "
                "AWSBatchServiceRole policy (or use the service-linked role AWSServiceRoleForBatch)"
            )
        if "CAPACITY:" in text or "INSUFFICIENT" in text:
            return (
                f"EC2 has no capacity for {ces}'s instance types: allow more instance types, "
                "add subnets in more Availability Zones, or use On-Demand instead of Spot"
            )
        return (
            f"The job's vCPU/memory cannot be placed on {ces}: raise maxvCpus (`aws batch "
            f"update-compute-environment --compute-environment <ce> --compute-resources "
            f"maxvCpus=<n>{region}`), allow instance types big enough for the job, or lower "
            f"the job definition's resourceRequirements"
        )
    if reason.kind is ReasonClass.TIMEOUT:
        return (
            f"The attempt exceeded its timeout: raise timeout.attemptDurationSeconds on "
            f"{ctx.job_definition or 'the job definition'} or find why the job is slow"
        )
    if reason.kind is ReasonClass.HOST_TERMINATION:
        return (
            f"The host was terminated under the job (Spot reclaim or scale-in): give "
            f"{ctx.job_definition or 'the job definition'} a retryStrategy with evaluateOnExit "
            "onStatusReason 'Host EC2*' action RETRY"
        )
    if reason.kind is ReasonClass.EXIT_CODE:
        group = ctx.log_group or "the job's log group"
        code = f" with code {reason.exit_code}" if reason.exit_code is not None else ""
        return (
            f"The application exited{code}: read the job's log (`aws logs tail {group} "
            f"--since 2h{region}`)"
        )
    job = ctx.job_id or "<job-id>"
    return f"Read the job's full reason: `aws batch describe-jobs --jobs {job}{region}`"
