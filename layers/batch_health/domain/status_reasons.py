"""Why a Batch job failed or waits, why a job queue is blocked, why a compute environment is
INVALID: AWS's own reason texts, classified.

Batch reports the cause in free text: `statusReason` on the job (and in its "Batch Job
State Change" event), `reason` and `exitCode` on the container of each attempt (ECS's
stopped-task reasons, passed through, at most 255 characters), the blocked job queue's code
(`MISCONFIGURATION:*`, `CAPACITY:*`, `ACTION_REQUIRED`, `UNDETERMINED`, in the job's
statusReason and the "Batch Job Queue Blocked" event), and a compute environment's
`statusReason`. Every reader (the smoke check, JOB_FAILURES_CHECK, RUNNABLE_BACKLOG_CHECK,
CE_CHECK, the event function) classifies it here, so the same cause gets the same name and
the same fix (batch_health.domain.reason_hints). The rules were written against real texts,
each with its public source: tests/data/reason_corpus.json.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from batch_health.domain.exit_codes import exit_code_meaning
from batch_health.text import clip, one_line


class ReasonClass(StrEnum):
    # Logging (the log driver, started by ECS before the container)
    LOG_GROUP_MISSING = "log group missing"
    LOGS_UNREACHABLE = "log destination unreachable"
    LOGS_DENIED = "log writes denied"
    AWSLOGS_OPTIONS = "invalid awslogs options"
    CREDENTIALS_ENDPOINT = "task credentials endpoint unreachable"
    # The image
    ECR_DENIED = "ECR pull denied"
    IMAGE_NOT_FOUND = "image or tag not found"
    IMAGE_PLATFORM = "image not built for the host's platform"
    DOCKER_HUB_RATE_LIMIT = "Docker Hub pull rate limit"
    REGISTRY_UNREACHABLE = "registry unreachable"
    IMAGE_PULL = "image pull failed"
    # Secrets the execution role fetches for the container
    SECRET_SSM = "SSM secret retrieval failed"
    SECRET_MANAGER = "Secrets Manager secret retrieval failed"
    SECRET_KMS = "secret decryption (KMS) denied"
    SECRET_TIMEOUT = "secret retrieval timed out"
    # The host and the container
    DISK_FULL = "host disk full"
    ENTRYPOINT_NOT_FOUND = "entrypoint or command not found"
    CONTAINER_RUNTIME = "container runtime error (retryable)"
    TASK_NOT_STARTED = "task failed to start"
    OUT_OF_MEMORY = "out of memory"
    JOB_ROLE_NOT_ASSUMABLE = "job role not assumable by ECS"
    HOST_INTERRUPTED = "host or Spot interruption"
    ENI_TIMEOUT = "network interface provisioning timeout"
    ATTEMPT_TIMEOUT = "attempt timeout"
    EXIT_CODE = "application exit code"
    # A blocked job queue (the job waits in RUNNABLE)
    CE_MAX_RESOURCE = "compute environments' maxvCpus too small"
    JOB_RESOURCE_REQUIREMENT = "job larger than any instance"
    SERVICE_ROLE_PERMISSIONS = "Batch service role lacks permissions"
    INSTANCE_CONFIGURATION_UNSUPPORTED = "unsupported instance configuration"
    SERVICE_ENVIRONMENT_MAX_RESOURCE = "service environment capacity too small"
    QUOTA_MANAGEMENT_LIMIT = "quota share limit exceeded"
    INSUFFICIENT_CAPACITY = "EC2 capacity unavailable"
    CE_ACTION_REQUIRED = "compute environment invalid (action required)"
    BLOCKED_UNDETERMINED = "queue blocked, cause undetermined"
    # An INVALID compute environment
    CE_SERVICE_ROLE = "compute environment's service role"
    CE_INSTANCE_PROFILE = "compute environment's instance role or profile"
    CE_LAUNCH_TEMPLATE = "compute environment's launch template"
    CE_SPOT_FLEET_ROLE = "compute environment's Spot Fleet role"
    CE_NETWORK = "compute environment's subnets or security groups"
    CE_ECS_CLUSTER = "ECS cluster missing or never joined"
    CE_EKS = "compute environment's EKS cluster"
    CE_INVALID = "compute environment invalid"
    # Batch refused the job's request to ECS
    SUBMIT_REJECTED = "submit rejected"
    OTHER = "other"


# The blocked-queue codes, as Batch writes them at the start of a reason.
# https://docs.aws.amazon.com/batch/latest/userguide/job_stuck_in_runnable.html
BLOCKED_CODES: Mapping[str, ReasonClass] = {
    "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE": ReasonClass.CE_MAX_RESOURCE,
    "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT": ReasonClass.JOB_RESOURCE_REQUIREMENT,
    "MISCONFIGURATION:SERVICE_ROLE_PERMISSIONS": ReasonClass.SERVICE_ROLE_PERMISSIONS,
    "MISCONFIGURATION:EC2_INSTANCE_CONFIGURATION_UNSUPPORTED": (
        ReasonClass.INSTANCE_CONFIGURATION_UNSUPPORTED
    ),
    "MISCONFIGURATION:SERVICE_ENVIRONMENT_MAX_RESOURCE": (
        ReasonClass.SERVICE_ENVIRONMENT_MAX_RESOURCE
    ),
    "MISCONFIGURATION:QUOTA_MANAGEMENT_LIMIT_EXCEEDED": ReasonClass.QUOTA_MANAGEMENT_LIMIT,
    "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY": ReasonClass.INSUFFICIENT_CAPACITY,
    "ACTION_REQUIRED": ReasonClass.CE_ACTION_REQUIRED,
    "UNDETERMINED": ReasonClass.BLOCKED_UNDETERMINED,
}
BLOCKED_CODE = re.compile(
    r"\b((?:MISCONFIGURATION|CAPACITY):[A-Z0-9_]+|ACTION_REQUIRED|UNDETERMINED)\b"
)
# Why a job waits in RUNNABLE: the queue's blocked codes.
PLACEMENT = frozenset(BLOCKED_CODES.values())
# What an INVALID compute environment's statusReason can name.
CE_CLASSES = frozenset(
    {
        ReasonClass.CE_SERVICE_ROLE,
        ReasonClass.CE_INSTANCE_PROFILE,
        ReasonClass.CE_LAUNCH_TEMPLATE,
        ReasonClass.CE_SPOT_FLEET_ROLE,
        ReasonClass.CE_NETWORK,
        ReasonClass.CE_ECS_CLUSTER,
        ReasonClass.CE_EKS,
        ReasonClass.CE_INVALID,
    }
)
# "Canceled by JobStateTimeLimit action due to reason: CAPACITY:..." (Terminated, for
# SageMaker service jobs): the action a job queue takes after a job waited too long.
TIME_LIMIT_ACTION = re.compile(
    r"(?:Canceled|Cancelled|Terminated) by JobStateTimeLimit action due to reason:\s*", re.I
)
EXIT_CODE_REASON = re.compile(r"Essential container in task exited", re.I)
# A compute environment's statusReason ("CLIENT_ERROR - ...", "reason=CLIENT_ERROR - ...",
# "... has been INVALIDATED and scaled down ..."); only such a text is read with _CE_RULES.
CE_REASON = re.compile(r"\b(?:CLIENT|INTERNAL|SERVER)_ERROR\b|\bINVALIDATED\b")

# A rule's deciding words are its match, or its `why` group when it has one (where the match
# must run over a long name, such as an image reference, to be sure of the context).
#
# Most specific first, because one text often holds several causes' words:
# - KMS before Secrets Manager and SSM: a key that may not decrypt reads "unable to retrieve
#   secret from asm ... Access to KMS is not allowed".
# - The task credentials endpoint before logging: it fails inside "failed to initialize
#   logging driver".
# - Disk full and the Docker Hub limit before the other pull failures: both also read
#   CannotPullContainerError (or CannotCreateContainerError).
# - ECR denied before the unreachable registry and "pull access denied": a 403 from ECR, or
#   ecr:GetAuthorizationToken denied, can also read "unable to retrieve ecr registry auth".
# - The unreachable registry before the secret timeout: both start "unable to pull secrets or
#   registry auth", and "unable to retrieve ecr registry auth" names the registry.
# - The secret timeout before SSM and Secrets Manager, which name the same call.
# - The image's platform and a missing image before the generic pull failure.
# - A missing entrypoint before the container runtime: both read CannotStartContainerError.
# - The container runtime before "Task failed to start", the job's generic statusReason.
_RULES: tuple[tuple[ReasonClass, str], ...] = (
    (ReasonClass.SECRET_KMS, r"Access to KMS is not allowed|kms:Decrypt|KMSAccessDenied"),
    (ReasonClass.CREDENTIALS_ENDPOINT, r"CredentialsEndpointError|169\.254\.170\.2"),
    (ReasonClass.LOG_GROUP_MISSING, r"log group does not exist"),
    (
        ReasonClass.LOGS_DENIED,
        r"Cloudwatch log (?:group|stream): AccessDenied\w*|not authorized to perform: logs:\w+",
    ),
    (ReasonClass.AWSLOGS_OPTIONS, r"awslogs could not parse|unknown log opt|MissingEndpoint"),
    (ReasonClass.LOGS_UNREACHABLE, r"connection issue between the task and Amazon CloudWatch"),
    (
        ReasonClass.LOGS_UNREACHABLE,
        # Batch cuts long reasons: "i/o timeout" may arrive as "i/o time".
        r"(?:logging driver|logger args):[^;]*?"
        r"(?P<why>dial tcp [^;]{0,40}?(?:connection refused|i/o time(?:out)?|no route to host)|"
        r"connection refused|i/o time(?:out)?|no route to host|signal: killed)",
    ),
    (ReasonClass.DISK_FULL, r"no space left on device|thin pool has \d+ free data blocks"),
    (ReasonClass.DOCKER_HUB_RATE_LIMIT, r"toomanyrequests|pull rate limit|Too Many Requests"),
    (
        ReasonClass.ECR_DENIED,
        r"CannotPullECRContainerError|not authorized to perform: ecr:\w+|"
        r"\.dkr\.ecr\.[^;]*?(?P<why>403 Forbidden|: denied\b)",
    ),
    (
        ReasonClass.REGISTRY_UNREACHABLE,
        r"unable to retrieve ecr registry auth|request canceled while waiting for connection|"
        r"CannotPull\w*Error:[^;]*?(?P<why>dial tcp [^;]{0,40}?(?:i/o timeout|no route to host|"
        r"no such host|connection refused)|i/o timeout|context deadline exceeded)",
    ),
    (
        ReasonClass.SECRET_TIMEOUT,
        r"unable to (?:pull|retrieve) secrets?[^;]*?"
        r"(?P<why>RequestCanceled|context deadline exceeded|context deadli|i/o timeout|"
        r"signal: killed)",
    ),
    (
        ReasonClass.SECRET_SSM,
        r"retrieve secrets? from ssm|secret data from SSM|ssm:GetParameters?\b",
    ),
    (
        ReasonClass.SECRET_MANAGER,
        r"retrieve secrets? from asm|from secrets manager|secretsmanager:GetSecretValue",
    ),
    (
        ReasonClass.IMAGE_PLATFORM,
        r"no matching manifest for \S+|failed to find a descriptor for platform|"
        r"exec format error",
    ),
    (
        ReasonClass.IMAGE_NOT_FOUND,
        r"manifest unknown|manifest for \S+ (?P<why>not found)|"
        r"(?:repository|image) \S+ (?P<why2>not found)|"
        r"failed to resolve ref [^;]*?: (?P<why3>not found)|"
        r"pull access denied for|does not exist or no pull access",
    ),
    (ReasonClass.IMAGE_PULL, r"CannotPull(?:Container|ImageManifest)Error|ImagePull"),
    (
        ReasonClass.ENTRYPOINT_NOT_FOUND,
        r'executable file not found|container process(?: caused)?:? \\?"?exec: ',
    ),
    (ReasonClass.JOB_ROLE_NOT_ASSUMABLE, r"unable to assume the role"),
    (ReasonClass.OUT_OF_MEMORY, r"OutOfMemoryError|OOMKilled|killed due to memory usage"),
    (
        ReasonClass.HOST_INTERRUPTED,
        r"Host EC2 \([^)]*\) (?:stopped|terminated)|Spot Task was interrupted|"
        r"Spot (?:instance )?interruption",
    ),
    (ReasonClass.ENI_TIMEOUT, r"network interface provisioning"),
    (ReasonClass.ATTEMPT_TIMEOUT, r"duration exceeded timeout"),
    (
        ReasonClass.CONTAINER_RUNTIME,
        r"Cannot(?:Inspect|Create|Start|Stop)ContainerError|DockerTimeoutError|CgroupError",
    ),
    (ReasonClass.TASK_NOT_STARTED, r"Task failed to start"),
    (ReasonClass.SUBMIT_REJECTED, r"Container Overrides length|must be at most \d+"),
)
# An INVALID compute environment's statusReason. Instances or nodes that never joined the
# cluster come first: that text lists subnets, instance profiles and launch templates as
# possible causes. Security groups "in the launch template" are a network fault.
_CE_RULES: tuple[tuple[ReasonClass, str], ...] = (
    (
        ReasonClass.CE_ECS_CLUSTER,
        r"instances joined the underlying ECS Cluster|Clusters can not be blank",
    ),
    (
        ReasonClass.CE_EKS,
        r"nodes joined the underlying (?:Amazon )?EKS Cluster|EKS Cluster version|"
        r"Kubernetes Namespace|Access Entry|\bEKS\b|Kubernetes",
    ),
    (ReasonClass.CE_SPOT_FLEET_ROLE, r"IamFleetRole|SpotFleet"),
    (ReasonClass.CE_NETWORK, r"security groups?|subnets?\b|\bVPCs?\b"),
    (ReasonClass.CE_INSTANCE_PROFILE, r"instance[ -]?profile|IamInstanceProfile|instanceRole"),
    (ReasonClass.CE_LAUNCH_TEMPLATE, r"launch ?template"),
    (
        ReasonClass.CE_SERVICE_ROLE,
        r"sts:AssumeRole|/aws-batch is not authorized|service role|batch\.amazonaws\.com",
    ),
    (ReasonClass.CE_INVALID, r"(?:CLIENT|INTERNAL|SERVER)_ERROR|INVALIDATED"),
)


def _compiled(
    rules: tuple[tuple[ReasonClass, str], ...],
) -> tuple[tuple[ReasonClass, re.Pattern[str]], ...]:
    return tuple((kind, re.compile(pattern, re.IGNORECASE)) for kind, pattern in rules)


RULES = _compiled(_RULES)
CE_RULES = _compiled(_CE_RULES)


@dataclass(frozen=True)
class ClassifiedReason:
    kind: ReasonClass
    text: str  # the reasons as Batch gave them ("; "-joined)
    exit_code: int | None = None
    code: str = ""  # the blocked-queue code, when the reason has one
    by_time_limit: bool = False  # the job was cancelled by its queue's JobStateTimeLimit action
    span: tuple[int, int] = (0, 0)  # where in `text` the deciding words are

    @property
    def deciding_words(self) -> str:
        start, end = self.span
        return self.text[start:end]

    def describe(self, limit: int = 240) -> str:
        meaning = exit_code_meaning(self.exit_code)
        code = f" (exit code {self.exit_code})" if self.exit_code is not None else ""
        code = f" (exit code {self.exit_code}: {meaning})" if meaning else code
        cancelled = (
            "cancelled by its queue's JobStateTimeLimit action, " if self.by_time_limit else ""
        )
        text = f": {self.quote(limit)}" if self.text else ""
        return f"{cancelled}{self.kind.value}{code}{text}"

    def quote(self, limit: int = 160) -> str:
        """The reason on one line, at most `limit` characters, never cut before the words
        that decided its class: a long text is shown around them."""
        text = self.text
        start, end = self.span
        if len(text) <= limit or end <= limit - 1:
            return clip(one_line(text), limit)
        # The deciding words with what leads up to them and what follows, in about equal
        # parts: "…" before and after take one character each.
        room = max(0, limit - 2 - (end - start))
        begin = max(0, min(start - room // 2, len(text) - limit + 1))
        return clip(one_line("…" + text[begin:]), limit)


def _span(found: re.Match[str]) -> tuple[int, int]:
    """The deciding words of a match: its `why*` group when one took part, else all of it."""
    for name, value in found.groupdict().items():
        if name.startswith("why") and value is not None:
            return found.span(name)
    return found.span()


def _match(
    text: str, rules: tuple[tuple[ReasonClass, re.Pattern[str]], ...]
) -> tuple[ReasonClass, tuple[int, int]] | None:
    for kind, pattern in rules:
        found = pattern.search(text)
        if found:
            return kind, _span(found)
    return None


def classify_reason(
    status_reason: str | None, container_reason: str | None = None, exit_code: int | None = None
) -> ClassifiedReason:
    """Classify Batch's reasons for a FAILED (or RUNNABLE, or cancelled) job, a blocked
    queue, or an INVALID compute environment."""
    parts = [p.strip() for p in (status_reason, container_reason) if p and p.strip()]
    text = "; ".join(dict.fromkeys(parts))
    by_time_limit = bool(TIME_LIMIT_ACTION.search(text))
    blocked = BLOCKED_CODE.search(text)
    if blocked and blocked.group(1) in BLOCKED_CODES:
        kind = BLOCKED_CODES[blocked.group(1)]
        return ClassifiedReason(
            kind, text, exit_code, blocked.group(1), by_time_limit, blocked.span(1)
        )
    matched = _match(text, CE_RULES if CE_REASON.search(text) else RULES)
    if matched is not None:
        kind, span = matched
        return ClassifiedReason(kind, text, exit_code, "", by_time_limit, span)
    found = EXIT_CODE_REASON.search(text)
    if exit_code not in (None, 0) or found:
        span = found.span() if found else (0, 0)
        return ClassifiedReason(ReasonClass.EXIT_CODE, text, exit_code, "", by_time_limit, span)
    return ClassifiedReason(ReasonClass.OTHER, text, exit_code, "", by_time_limit)


def classify_ce_reason(status_reason: str | None) -> ClassifiedReason:
    """Classify an INVALID compute environment's statusReason; a text that names none of
    its known causes is still the compute environment's fault."""
    reason = classify_reason(status_reason)
    if reason.kind in CE_CLASSES:
        return reason
    return ClassifiedReason(ReasonClass.CE_INVALID, reason.text)


def classify_job(job: Mapping[str, Any]) -> ClassifiedReason:
    """Classify a job description, summary or state-change event detail (the container
    fields of its last attempt count)."""
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
