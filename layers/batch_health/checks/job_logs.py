"""What the two log group checks share: which group the jobs write to, and how to say that
the monitor could not read it. Not a check itself."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from batch_health.aws.errors import AWS_ERRORS, AwsFailure, ErrorKind, classify
from batch_health.checks.base import Check, CheckContext
from batch_health.config import Target


@dataclass(frozen=True)
class LogGroupRef:
    """Which log group the target's jobs write to, and how we know; `problem` when unknown."""

    name: str | None
    source: str = ""  # "configured", "job definition", "Batch default"
    problem: str = ""

    @property
    def described(self) -> str:
        return {
            "configured": "configured",
            "job definition": "the job definition's awslogs-group",
            "Batch default": "Batch's default: the job definition sets no awslogs-group",
        }.get(self.source, self.source)


def job_log_group_ref(ctx: CheckContext) -> LogGroupRef:
    """The configured log group, else the job definition's awslogs-group (Batch's default)."""
    if ctx.target.log_group:
        return LogGroupRef(ctx.target.log_group, "configured")
    name = ctx.target.job_definition
    try:
        jd = ctx.aws.job_definition()
    except AWS_ERRORS as exc:
        return LogGroupRef(
            None,
            problem=f"job definition {name} unreadable ({classify(exc).summary}); "
            "set log_group on the target to check the log group anyway",
        )
    if jd is None:
        return LogGroupRef(
            None,
            problem=f"job definition {name} has no ACTIVE revision, so its log group is unknown; "
            "set log_group on the target to check it anyway",
        )
    if jd.awslogs_group is None:
        return LogGroupRef(
            None, problem=f"job definition {name} logs with {jd.log_driver}, not CloudWatch Logs"
        )
    source = "job definition" if jd.names_its_log_group else "Batch default"
    return LogGroupRef(jd.awslogs_group, source)


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
    """A check of the log group the target's jobs write to (STEP 4)."""

    step: ClassVar[int] = 4
    step_title: ClassVar[str] = "LOG GROUP"
    needs: ClassVar[tuple[str, ...]] = ("job_log_group",)

    def services_for(self, target: Target) -> tuple[str, ...]:
        # Without a configured log group, its name comes from the job definition (batch).
        return ("logs",) if target.log_group else ("batch", "logs")
