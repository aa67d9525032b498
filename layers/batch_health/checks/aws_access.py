"""AWS_ACCESS: the credentials work, and whose they are."""

from __future__ import annotations

from batch_health.aws.errors import AWS_ERRORS
from batch_health.checks.base import Check, CheckContext
from batch_health.models import CheckResult


class AwsAccess(Check):
    name = "AWS_ACCESS"
    step = 1
    step_title = "AWS"
    title = "AWS credentials work"
    verifies = "sts:GetCallerIdentity succeeds; reports account, identity ARN, region and profile"
    needs = ("caller_identity",)
    services = ("sts",)
    priority = 0

    def run(self, ctx: CheckContext) -> CheckResult:
        region = ctx.aws.region
        facts = {
            "region": region,
            "profile": ctx.aws.profile or "",
            "role_arn": ctx.target.role_arn or "",
        }
        if not region:
            return self.fail(
                "no region configured",
                ["Pass --region, set AWS_REGION, or set `region` on the target"],
                **facts,
            )
        try:
            ident = ctx.aws.caller_identity()
        except AWS_ERRORS as exc:
            result = self.aws_fail(exc, action="sts:GetCallerIdentity", what="credentials")
            if ctx.target.role_arn:
                result.hints.append(
                    f"The monitor assumes {ctx.target.role_arn}: check that role's trust policy "
                    "allows the monitor's identity (sts:AssumeRole)"
                )
            result.data.update(facts)
            return result
        facts.update(account=ident.get("Account", ""), arn=ident.get("Arn", ""))
        return self.ok(
            f"account={facts['account']} arn={facts['arn']} ACTIVE_REGION={region} "
            f"ACTIVE_PROFILE={facts['profile']}",
            **facts,
        )
