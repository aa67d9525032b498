"""LOG_GROUP_CHECK: the job's awslogs group exists (and the monitor can tell whether it does)."""

from __future__ import annotations

from typing import Any

from batch_health.aws.errors import AWS_ERRORS, ErrorKind, classify
from batch_health.checks.base import CheckContext
from batch_health.checks.job_logs import (
    JobLogGroupCheck,
    job_log_group_ref,
    monitor_account,
    unreadable_detail,
)
from batch_health.domain.arns import role_name_from_arn
from batch_health.models import CheckResult


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
        facts: dict[str, Any] = {"log_group": name, "log_group_source": ref.source}
        try:
            group = ctx.aws.log_group(name)
        except AWS_ERRORS as exc:
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
        try:
            jd = ctx.aws.job_definition()
            role = role_name_from_arn(jd.execution_role_arn) if jd else ""
        except AWS_ERRORS:
            role = ""
        hints.append(
            f"Or let jobs create it: set awslogs-create-group=true in "
            f"{ctx.target.job_definition}'s logConfiguration.options and allow "
            f"{role or 'its execution role'} `logs:CreateLogGroup`"
        )
        return hints
