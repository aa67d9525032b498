"""LOG_GROUP_CHECK: the job's awslogs group exists (and the monitor can tell whether it does)."""

from __future__ import annotations

from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError

from batch_health.checks.base import Check, CheckContext
from batch_health.config import Target
from batch_health.errors import AwsFailure, ErrorKind, classify
from batch_health.models import CheckResult

BATCH_DEFAULT_LOG_GROUP = "/aws/batch/job"


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
    except (ClientError, BotoCoreError) as exc:
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
    log_config = (jd.get("containerProperties") or {}).get("logConfiguration") or {}
    driver = log_config.get("logDriver", "awslogs")
    if driver != "awslogs":
        return LogGroupRef(
            None, problem=f"job definition {name} logs with {driver}, not CloudWatch Logs"
        )
    group = (log_config.get("options") or {}).get("awslogs-group")
    if group:
        return LogGroupRef(group, "job definition")
    return LogGroupRef(BATCH_DEFAULT_LOG_GROUP, "Batch default")


def monitor_account(ctx: CheckContext) -> str:
    """The account the checks look at (for ARNs in hints); a placeholder when unknown."""
    try:
        return str(ctx.aws.caller_identity().get("Account") or "<account>")
    except (ClientError, BotoCoreError):
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

    step = 4
    step_title = "LOG GROUP"
    needs = ("job_log_group",)

    def services_for(self, target: Target) -> tuple[str, ...]:
        # Without a configured log group, its name comes from the job definition (batch).
        return ("logs",) if target.log_group else ("batch", "logs")


class LogGroupCheck(JobLogGroupCheck):
    name = "LOG_GROUP_CHECK"
    title = "The job's log group exists"
    verifies = (
        "The awslogs group (configured, else the job definition's awslogs-group, default "
        "/aws/batch/job) exists by exact name; tells a missing group from the monitor lacking "
        "logs:DescribeLogGroups; warns when retention is unset"
    )
    depends_on = ("AWS_ACCESS",)
    priority = 14

    def run(self, ctx: CheckContext) -> CheckResult:
        ref = job_log_group_ref(ctx)
        if ref.name is None:
            return self.skip(ref.problem)
        name, region = ref.name, ctx.aws.region
        facts = {"log_group": name, "log_group_source": ref.source}
        try:
            group = ctx.aws.log_group(name)
        except (ClientError, BotoCoreError) as exc:
            failure = classify(exc)
            if failure.kind is not ErrorKind.ACCESS_DENIED:
                return self.aws_fail(
                    exc, action="logs:DescribeLogGroups", resource=name, what=f"log group {name}"
                )
            account = monitor_account(ctx)
            return self.fail(
                unreadable_detail(name, failure),
                [
                    f"Grant the monitor's identity `logs:DescribeLogGroups` on "
                    f"`arn:aws:logs:{region}:{account}:log-group:*` (and `logs:DescribeLogStreams`"
                    f", `logs:GetLogEvents` on `arn:aws:logs:{region}:{account}:log-group:{name}:*`"
                    " for LOG_CONTENT_CHECK); the group itself may well exist"
                ],
                **facts,
                error_kind=failure.kind.value,
                error_code=failure.code,
            )
        if group is None:
            return self.fail(
                f"log group missing: {name} ({ref.described}) does not exist in {region}",
                self._missing_hints(ctx, name),
                **facts,
            )
        retention = group.get("retentionInDays")
        facts.update(
            retentionInDays=retention,
            storedBytes=group.get("storedBytes"),
            arn=group.get("logGroupArn") or group.get("arn", ""),
        )
        if retention is None:
            return self.warn(
                f"log group {name} exists but has no retention: logs are kept (and billed) forever",
                [
                    f"Set one: `aws logs put-retention-policy --log-group-name {name} "
                    f"--retention-in-days 30 --region {region}`"
                ],
                **facts,
            )
        return self.ok(f"logGroup={name} retentionInDays={retention}", **facts)

    @staticmethod
    def _missing_hints(ctx: CheckContext, name: str) -> list[str]:
        region = ctx.aws.region
        hints = [
            f"Create it: `aws logs create-log-group --log-group-name {name} --region {region}` "
            f"(then `aws logs put-retention-policy --log-group-name {name} --retention-in-days "
            f"30 --region {region}`)",
        ]
        role = ""
        try:
            jd = ctx.aws.job_definition() or {}
            arn = (jd.get("containerProperties") or {}).get("executionRoleArn") or ""
            role = arn.rsplit("/", 1)[-1]
        except (ClientError, BotoCoreError):
            role = ""
        hints.append(
            f"Or let jobs create it: set awslogs-create-group=true in "
            f"{ctx.target.job_definition}'s logConfiguration.options and allow "
            f"{role or 'its execution role'} `logs:CreateLogGroup`"
        )
        return hints
