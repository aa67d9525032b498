"""IAM_CHECK: every role the job definition names (per task and node range) exists and
ECS tasks may assume it, and each execution role may write its containers' logs, pull their
images and read their secrets (decrypting them where a customer managed key encrypts them).

How each permission is decided (the IAM simulator, else local evaluation of the role's
policies): batch_health.checks.iam_permissions. EKS jobs name no IAM role: their pods get
AWS permissions from their service account, which this check says and does not guess at.
"""

from __future__ import annotations

import json
from typing import Any

from batch_health.aws.errors import AWS_ERRORS
from batch_health.checks.base import Check, CheckContext
from batch_health.checks.iam_permissions import (
    EXECUTION_POLICY_ARN,
    Verdict,
    judge_execution_role,
)
from batch_health.domain.arns import role_name_from_arn
from batch_health.domain.execution_role import ExecutionRoleNeeds
from batch_health.domain.iam_policy import trusted_services
from batch_health.domain.job_definition import JobDefinitionView, NamedRole
from batch_health.domain.job_problems import execution_role_problems
from batch_health.models import CheckResult

ECS_TASKS = "ecs-tasks.amazonaws.com"
TRUST_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": ECS_TASKS}, "Action": "sts:AssumeRole"}
        ],
    },
    separators=(",", ":"),
)


def role_words(role: NamedRole, arn: str) -> str:
    """`execution role NAME`, `job role NAME (node range 1:)`: how a message names it."""
    places = [w for w in role.wheres if w]
    on = f" ({', '.join(places)})" if places else ""
    return f"{' and '.join(role.kinds)} {role_name_from_arn(arn) or arn}{on}"


class IamCheck(Check):
    name = "IAM_CHECK"
    step = 3
    step_title = "IAM"
    title = "Job roles exist, trust ECS tasks, and may log, pull and read secrets"
    verifies = (
        "Every execution and job role of every task and node range exists and trusts "
        "ecs-tasks.amazonaws.com; each execution role may logs:CreateLogStream/PutLogEvents "
        "on its containers' log groups, pull their ECR images, read their secrets "
        "(secretsmanager:GetSecretValue, ssm:GetParameters) and kms:Decrypt a customer "
        "managed key (iam:SimulatePrincipalPolicy, else local evaluation of its policies)"
    )
    depends_on = ("JOBDEF_CHECK",)
    # Each read as soon as the job definition names the roles and secrets, side by side.
    needs = ("job_definition", "job_roles", "execution_role_simulation", "secret_keys")
    # Read ahead but not waited for: the local evaluation's policies, needed only when the
    # simulator does not answer (speculative; see TargetView.execution_role_policies).
    speculative_needs = ("execution_role_policies",)
    services = ("batch", "iam")
    priority = 13

    def run(self, ctx: CheckContext) -> CheckResult:
        name = ctx.target.job_definition
        jd = self.read_job_definition(ctx)
        if jd is None:
            return self.skip(f"job definition {name} has no ACTIVE revision")
        if jd.on_eks:
            account = ", ".join(dict.fromkeys(p.service_account or "default" for p in jd.eks_pods))
            return self.skip(
                f"{name} runs on EKS and names no IAM role: its pods get AWS permissions "
                f"from service account {account} (IAM roles for service accounts or EKS Pod "
                "Identity), which this check does not read",
                serviceAccountName=account,
            )
        verdict = Verdict(self._facts(jd))
        try:
            roles = ctx.aws.job_roles()
        except AWS_ERRORS as exc:
            return self.aws_fail(exc, action="iam:GetRole", what=f"roles of {name}")
        for arn, role in jd.named_roles.items():
            self._check_role(name, arn, role, roles.get(arn), verdict)
        needs = [n for n in ctx.aws.execution_role_needs() if roles.get(n.role_arn) is not None]
        for need in needs:
            judge_execution_role(ctx, need.role_arn, list(need.requirements), verdict)
        if jd.secrets:
            self._unknown_keys(ctx, verdict)
        if verdict.problems:
            detail = verdict.detail()
            decided = verdict.decided_by()
            return self.fail(
                f"{detail} ({decided})" if decided and needs else detail,
                verdict.hints,
                **verdict.facts,
            )
        if verdict.unsure:
            return self.warn("; ".join(verdict.unsure), verdict.unsure_hints, **verdict.facts)
        without = [t for t in jd.tasks if not t.execution_role_arn]
        # A task that needs one (secrets; on Fargate, ECR and awslogs) cannot start without it.
        missing = [
            p for t in without for p in execution_role_problems(t, name, fargate=jd.on_fargate)
        ]
        if missing:
            return self.fail(
                "; ".join(p.detail for p in missing), [p.hint for p in missing], **verdict.facts
            )
        if without:
            return self._without_execution_role(name, [t.label for t in without], verdict)
        return self.ok(self._granted(jd, needs, verdict), **verdict.facts)

    @staticmethod
    def _facts(jd: JobDefinitionView) -> dict[str, Any]:
        facts: dict[str, Any] = {
            "executionRoleArn": jd.execution_role_arn,
            "jobRoleArn": jd.job_role_arn,
            "roles": {arn: r.label for arn, r in jd.named_roles.items()},
        }
        if jd.secrets:
            facts["secrets"] = [{"name": s.name, "valueFrom": s.value_from} for s in jd.secrets]
        return facts

    @staticmethod
    def _granted(jd: JobDefinitionView, needs: list[ExecutionRoleNeeds], v: Verdict) -> str:
        decided = f" ({v.decided_by()})" if v.methods else ""
        if len(jd.tasks) == 1:
            task = jd.tasks[0]
            job = task.task_role_arn
            job_part = f" jobRole={role_name_from_arn(job)}" if job else " (no job role)"
            granted = "; ".join(v.granted).removeprefix(
                f"{role_name_from_arn(task.execution_role_arn)} may "
            )
            return (
                f"executionRole={role_name_from_arn(task.execution_role_arn)}{job_part} exist "
                f"and trust {ECS_TASKS}; {role_name_from_arn(task.execution_role_arn)} may "
                f"{granted}{decided}"
            )
        named = ", ".join(role_words(r, a) for a, r in jd.named_roles.items())
        return f"{named} exist and trust {ECS_TASKS}; {'; '.join(v.granted)}{decided}"

    def _without_execution_role(self, name: str, tasks: list[str], verdict: Verdict) -> CheckResult:
        # On EC2 the container instance role pulls the image and writes the logs.
        which = "" if tasks == ["the job"] else f" for {', '.join(tasks)}"
        return self.warn(
            f"{name} has no executionRoleArn{which}: image pull and log writes rely on the "
            "container instance role, which this check does not evaluate",
            [
                f"Register {name} with an executionRoleArn whose role has "
                f"{EXECUTION_POLICY_ARN.rsplit('/', 1)[-1]}, so the permissions are the job's "
                "own and checkable"
            ],
            **verdict.facts,
        )

    @staticmethod
    def _unknown_keys(ctx: CheckContext, verdict: Verdict) -> None:
        """Secrets whose KMS key the monitor could not learn: kms:Decrypt is unchecked."""
        unknown = ctx.aws.secret_keys().unknown
        for value_from, why in unknown.items():
            verdict.doubt(
                f"cannot tell whether {value_from} is encrypted with a customer managed KMS "
                f"key ({why}), so the execution role's kms:Decrypt is unchecked",
                "Grant the monitor's identity `secretsmanager:DescribeSecret`, "
                "`ssm:DescribeParameters` and `kms:DescribeKey` on the job's secrets and keys",
            )

    @staticmethod
    def _check_role(
        job_definition: str,
        arn: str,
        named: NamedRole,
        role: dict[str, Any] | None,
        verdict: Verdict,
    ) -> None:
        """Missing role, or a role ECS tasks may not assume: a problem and its fix."""
        role_name = role_name_from_arn(arn) or arn
        words = role_words(named, arn)
        if role is None:
            verdict.add(
                f"{words} does not exist",
                f"Create {role_name} (trusting {ECS_TASKS}) or register {job_definition} with "
                f"the ARN of an existing {' and '.join(named.kinds)}",
            )
            return
        services = sorted(trusted_services(role.get("AssumeRolePolicyDocument")))
        verdict.facts.setdefault("trusts", {})[role_name] = services
        for kind in named.kinds:
            verdict.facts.setdefault(f"{kind.replace(' ', '_')}_trusts", services)
        if ECS_TASKS not in services:
            verdict.add(
                f"{words} does not trust {ECS_TASKS} "
                f"(trusted services: {', '.join(services) or 'none'})",
                f"Let ECS tasks assume it: `aws iam update-assume-role-policy --role-name "
                f"{role_name} --policy-document '{TRUST_POLICY}'`",
            )
