"""LOG_GROUP_CHECK: every awslogs group the job's containers write to exists (and the
monitor can tell whether it does); each finding names the group and its containers."""

from __future__ import annotations

from typing import Any

from batch_health.aws.errors import AWS_ERRORS, ErrorKind, classify
from batch_health.checks.base import CheckContext
from batch_health.checks.job_logs import (
    JobLogGroupCheck,
    LogGroupRef,
    job_log_groups,
    monitor_account,
    unreadable_detail,
)
from batch_health.domain.arns import role_name_from_arn
from batch_health.models import CheckResult, Status


class LogGroupCheck(JobLogGroupCheck):
    name = "LOG_GROUP_CHECK"
    title = "The job's log groups exist"
    verifies = (
        "Every awslogs group the job's containers write to (configured, else each container's "
        "awslogs-group, default /aws/batch/job) exists by exact name; tells a missing group "
        "from the monitor lacking logs:DescribeLogGroups; warns when retention is unset; "
        "skips EKS jobs, saying where their pods' logs go"
    )
    depends_on = ("AWS_ACCESS",)
    priority = 14

    def run(self, ctx: CheckContext) -> CheckResult:
        groups = job_log_groups(ctx)
        if not groups.refs:
            return self.skip(groups.problem)
        results = [self._one(ctx, ref) for ref in groups.refs]
        if len(results) == 1:
            return results[0]
        return self._combined(results)

    def _combined(self, results: list[CheckResult]) -> CheckResult:
        """One result for several groups: the worst status, every finding, every hint."""
        worst = next(
            (s for s in (Status.FAIL, Status.WARN) if any(r.status is s for r in results)),
            Status.OK,
        )
        shown = [r for r in results if r.status is worst]
        data: dict[str, Any] = {
            "log_group": results[0].data.get("log_group"),
            "log_groups": [{"status": r.status.value, **r.data} for r in results],
        }
        detail = "; ".join(r.detail for r in shown)
        hints = list(dict.fromkeys(h for r in shown for h in r.hints))
        if worst is Status.OK:
            return self.ok(detail, **data)
        build = self.fail if worst is Status.FAIL else self.warn
        return build(detail, hints, **data)

    def _one(self, ctx: CheckContext, ref: LogGroupRef) -> CheckResult:
        name, region = ref.name, ctx.aws.region
        facts: dict[str, Any] = {
            "log_group": name,
            "log_group_source": ref.source,
            "containers": list(ref.containers),
        }
        try:
            group = ctx.aws.log_group(name)
        except AWS_ERRORS as exc:
            failure = classify(exc)
            if failure.kind is not ErrorKind.ACCESS_DENIED:
                result = self.aws_fail(
                    exc, action="logs:DescribeLogGroups", resource=name, what=f"log group {name}"
                )
                result.data.update(facts)
                return result
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
                f"log group {name}{ref.of} exists but has no retention: logs are kept (and "
                "billed) forever",
                [
                    f"Set one: `aws logs put-retention-policy --log-group-name {name} "
                    f"--retention-in-days 30 --region {region}`"
                ],
                **facts,
            )
        return self.ok(f"logGroup={name}{ref.of} retentionInDays={retention}", **facts)

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
            roles = [role_name_from_arn(r) for r in jd.execution_roles] if jd else []
        except AWS_ERRORS:
            roles = []
        hints.append(
            f"Or let jobs create it: set awslogs-create-group=true in "
            f"{ctx.target.job_definition}'s logConfiguration.options and allow "
            f"{', '.join(roles) or 'its execution role'} `logs:CreateLogGroup`"
        )
        return hints
