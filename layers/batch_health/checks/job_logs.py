"""What the two log group checks share: which groups the jobs write to (every awslogs group
of every container), how to say that the monitor could not read one, and where EKS pods'
logs go instead. Not a check itself."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from batch_health.aws.errors import AWS_ERRORS, AwsFailure, ErrorKind, classify
from batch_health.checks.base import Check, CheckContext
from batch_health.config import Target

# EKS pods use no ECS log driver: the container runtime writes their output under
# /var/log/pods on the node, and it reaches CloudWatch Logs only through an agent the cluster
# runs (Fluent Bit for Container Insights writes /aws/containerinsights/CLUSTER/application).
# https://docs.aws.amazon.com/prescriptive-guidance/latest/implementing-logging-monitoring-cloudwatch/kubernetes-eks-logging.html
# https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Container-Insights-setup-logs-FluentBit.html
EKS_LOGS = (
    "runs on EKS: its pods' output goes to /var/log/pods on the node (kubectl logs), and to "
    "CloudWatch Logs only through the cluster's own agent, e.g. Fluent Bit for Container "
    "Insights writing /aws/containerinsights/<cluster>/application; set log_group on the "
    "target to check that group"
)


@dataclass(frozen=True)
class LogGroupRef:
    """One log group the target's jobs write to, how we know, and which containers write it."""

    name: str
    source: str  # "configured", "job definition", "Batch default"
    containers: tuple[str, ...] = ()

    @property
    def described(self) -> str:
        base = {
            "configured": "configured",
            "job definition": "the job definition's awslogs-group",
            "Batch default": "Batch's default: the job definition sets no awslogs-group",
        }.get(self.source, self.source)
        named = [c for c in self.containers if c != "container"]
        return f"{base}, written by {', '.join(named)}" if named else base

    @property
    def of(self) -> str:
        """` (container web, container app)` for messages; empty for a one-container job."""
        named = [c for c in self.containers if c != "container"]
        return f" ({', '.join(named)})" if named else ""


@dataclass(frozen=True)
class LogGroups:
    """Every group the jobs write to, or why none can be checked (`problem`)."""

    refs: tuple[LogGroupRef, ...] = ()
    problem: str = ""

    @property
    def first(self) -> str | None:
        return self.refs[0].name if self.refs else None


def job_log_groups(ctx: CheckContext) -> LogGroups:
    """The configured log group, else every awslogs group of the job's containers."""
    name = ctx.target.job_definition
    try:
        jd = ctx.aws.job_definition()
    except AWS_ERRORS as exc:
        if ctx.target.log_group:
            return LogGroups((LogGroupRef(ctx.target.log_group, "configured"),))
        return LogGroups(
            problem=f"job definition {name} unreadable ({classify(exc).summary}); "
            "set log_group on the target to check the log group anyway"
        )
    if ctx.target.log_group:
        return LogGroups((LogGroupRef(ctx.target.log_group, "configured"),))
    if jd is None:
        return LogGroups(
            problem=f"job definition {name} has no ACTIVE revision, so its log group is unknown; "
            "set log_group on the target to check it anyway"
        )
    if jd.on_eks:
        return LogGroups(problem=f"job definition {name} {EKS_LOGS}")
    refs = tuple(
        LogGroupRef(
            group,
            "job definition" if any(c.log and c.log.named for c in cs) else "Batch default",
            tuple(c.where for c in cs),
        )
        for group, cs in jd.log_groups.items()
    )
    if not refs:
        drivers = ", ".join(
            f"{c.log.driver} ({c.where})" if c.where != "container" else c.log.driver
            for c in jd.containers
            if c.log is not None
        )
        return LogGroups(
            problem=f"job definition {name} logs with {drivers or 'no driver'}, not CloudWatch Logs"
        )
    return LogGroups(refs)


def monitor_account(ctx: CheckContext) -> str:
    """The account the checks look at (for ARNs in hints); a placeholder when unknown."""
    try:
        return str(ctx.aws.caller_identity().get("Account") or "<account>")
    except AWS_ERRORS:
        return "<account>"


def unreadable_detail(name: str, failure: AwsFailure) -> str:
    if failure.kind is ErrorKind.ACCESS_DENIED:
        return (
            f"log group unreadable: the monitor is not allowed logs:DescribeLogGroups "
            f"({failure.code}), so whether {name} exists is unknown"
        )
    return f"log group unreadable: describing {name} failed: {failure.summary}"


class JobLogGroupCheck(Check):
    """A check of the log groups the target's jobs write to (STEP 4)."""

    step: ClassVar[int] = 4
    step_title: ClassVar[str] = "LOG GROUP"
    needs: ClassVar[tuple[str, ...]] = ("job_log_groups",)

    def services_for(self, target: Target) -> tuple[str, ...]:
        # Without a configured log group, its name comes from the job definition (batch).
        return ("logs",) if target.log_group else ("batch", "logs")
