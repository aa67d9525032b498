"""IAM_CHECK: the job definition's roles exist, ECS tasks may assume them, and the execution
role may write the job's logs and pull its image.

Permissions are asked of iam:SimulatePrincipalPolicy first (AWS evaluates everything,
including boundaries); when the monitor may not call it or the endpoint does not implement
it, the role's own policy documents are evaluated locally. The result says which decided.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from botocore.parsers import ResponseParserError

from batch_health.aws.errors import AWS_ERRORS, ErrorKind, classify
from batch_health.checks.base import Check, CheckContext
from batch_health.domain.arns import role_name_from_arn
from batch_health.domain.execution_role import LOG_ACTIONS, Requirement
from batch_health.domain.iam_policy import Decision, Evaluation, evaluate_all, trusted_services
from batch_health.models import CheckResult

ECS_TASKS = "ecs-tasks.amazonaws.com"
SIMULATOR = "iam:SimulatePrincipalPolicy"
EXECUTION_POLICY_ARN = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
# Errors that mean "the simulator cannot answer here", not "the role lacks a permission".
SIMULATION_UNAVAILABLE = (*AWS_ERRORS, ResponseParserError, NotImplementedError)
TRUST_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": ECS_TASKS}, "Action": "sts:AssumeRole"}
        ],
    },
    separators=(",", ":"),
)


@dataclass
class Verdict:
    """What the check found so far: its facts, and each problem with its fix."""

    facts: dict[str, Any]
    problems: list[str] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)

    def add(self, problem: str, hint: str) -> None:
        self.problems.append(problem)
        self.hints.append(hint)

    def detail(self) -> str:
        return "; ".join(self.problems)


def _simulated(result: dict[str, Any], resource: str) -> Evaluation:
    """The simulator's answer for one action on the `resource` asked about (the inventory
    has already picked that resource's decision out of the answer: simulation_answers)."""
    decision = {
        "allowed": Decision.ALLOWED,
        "explicitdeny": Decision.EXPLICIT_DENY,
    }.get(str(result.get("EvalDecision", "")).lower(), Decision.IMPLICIT_DENY)
    if decision is not Decision.ALLOWED and result.get("MissingContextValues"):
        decision = Decision.UNDETERMINED
    deciding = tuple(
        str(s.get("SourcePolicyId") or s.get("SourcePolicyType") or "")
        for s in result.get("MatchedStatements") or []
    )
    return Evaluation(str(result.get("EvalActionName", "")), resource, decision, deciding)


def simulation_unavailable_reason(exc: BaseException) -> str:
    if isinstance(exc, NotImplementedError | ResponseParserError):
        return "not implemented by this endpoint"
    failure = classify(exc)
    return f"{failure.kind.value} ({failure.code})"


class IamCheck(Check):
    name = "IAM_CHECK"
    step = 3
    step_title = "IAM"
    title = "Job roles exist, trust ECS tasks, and may log and pull"
    verifies = (
        "The job role and execution role exist and trust ecs-tasks.amazonaws.com; the execution "
        "role may logs:CreateLogStream/PutLogEvents on the log group and pull the ECR image "
        "(iam:SimulatePrincipalPolicy, else local evaluation of its policies)"
    )
    depends_on = ("JOBDEF_CHECK",)
    # Each read as soon as the job definition names the roles, side by side.
    needs = ("job_definition", "execution_role", "job_role", "execution_role_simulation")
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
        verdict = Verdict(
            {"executionRoleArn": jd.execution_role_arn, "jobRoleArn": jd.job_role_arn}
        )
        roles, failed = self._roles(ctx, jd.roles)
        if failed is not None:
            return failed
        for label, arn in jd.roles.items():
            self._check_role(name, label, arn, roles.get(label), verdict)
        if not jd.execution_role_arn:
            return self._without_execution_role(name, verdict)
        if roles.get("execution role") is None:
            return self.fail(verdict.detail(), verdict.hints, **verdict.facts)
        return self._permissions(ctx, jd.execution_role_arn, jd.job_role_arn, verdict)

    def _without_execution_role(self, name: str, verdict: Verdict) -> CheckResult:
        if verdict.problems:
            return self.fail(verdict.detail(), verdict.hints, **verdict.facts)
        # On EC2 the container instance role pulls the image and writes the logs.
        return self.warn(
            f"{name} has no executionRoleArn: image pull and log writes rely on the container "
            "instance role, which this check does not evaluate",
            [
                f"Register {name} with an executionRoleArn whose role has "
                f"{EXECUTION_POLICY_ARN.rsplit('/', 1)[-1]}, so the permissions are the job's "
                "own and checkable"
            ],
            **verdict.facts,
        )

    def _permissions(
        self, ctx: CheckContext, exec_arn: str, job_arn: str, verdict: Verdict
    ) -> CheckResult:
        """Whether the execution role may do what starting the job needs."""
        requirements = ctx.aws.execution_role_requirements()
        exec_name = role_name_from_arn(exec_arn)
        try:
            method, evaluations, policies = self._evaluate(ctx, exec_arn, exec_name, requirements)
        except AWS_ERRORS as exc:
            return self._unevaluated(exc, exec_name, exec_arn, verdict)
        verdict.facts.update(
            permission_method=method,
            policies=policies,
            permissions=[
                {
                    "action": e.action,
                    "resource": e.resource,
                    "decision": e.decision.value,
                    "deciding": list(e.deciding),
                }
                for e in evaluations
            ],
        )
        if method != SIMULATOR and not policies:
            verdict.add(
                f"execution role {exec_name} has no attached or inline policies, so it cannot "
                + " or ".join(r.purpose for r in requirements),
                f"Attach the managed execution policy: `aws iam attach-role-policy --role-name "
                f"{exec_name} --policy-arn {EXECUTION_POLICY_ARN}`",
            )
            return self.fail(verdict.detail(), verdict.hints, **verdict.facts)
        for requirement in requirements:
            problem = self._permission_problem(exec_name, requirement, evaluations)
            if problem:
                verdict.add(*problem)
        decided_by = f"decided by {method}"
        if verdict.problems:
            return self.fail(f"{verdict.detail()} ({decided_by})", verdict.hints, **verdict.facts)
        unsure = [e for e in evaluations if e.decision is Decision.UNDETERMINED]
        if unsure:
            return self._undetermined(unsure, exec_name, exec_arn, decided_by, verdict)
        granted = ", ".join(r.purpose for r in requirements) or "(nothing to check)"
        job_part = f" jobRole={role_name_from_arn(job_arn)}" if job_arn else " (no job role)"
        return self.ok(
            f"executionRole={exec_name}{job_part} exist and trust {ECS_TASKS}; "
            f"{exec_name} may {granted} ({decided_by})",
            **verdict.facts,
        )

    def _unevaluated(
        self, exc: BaseException, exec_name: str, exec_arn: str, verdict: Verdict
    ) -> CheckResult:
        failure = classify(exc)
        if failure.kind is ErrorKind.ACCESS_DENIED:
            hint = (
                f"Grant the monitor's identity `{SIMULATOR}` on {exec_arn}, or "
                "`iam:ListAttachedRolePolicies`, `iam:ListRolePolicies`, `iam:GetRolePolicy`, "
                "`iam:GetPolicy` and `iam:GetPolicyVersion`"
            )
        else:  # not a permission problem: say what it was (unreachable, throttled, ...)
            hint = failure.hint(resource=exec_arn)
        verdict.add(
            f"cannot evaluate {exec_name}'s permissions: {SIMULATOR} unavailable and reading "
            f"its policies failed ({failure.kind.value}, {failure.code})",
            hint,
        )
        return self.fail(verdict.detail(), verdict.hints, **verdict.facts)

    def _undetermined(
        self,
        unsure: list[Evaluation],
        exec_name: str,
        exec_arn: str,
        decided_by: str,
        verdict: Verdict,
    ) -> CheckResult:
        statements = sorted({d for e in unsure for d in e.deciding})
        return self.warn(
            f"execution role {exec_name}'s permission for "
            f"{', '.join(sorted({e.action for e in unsure}))} depends on policy conditions "
            f"({', '.join(statements) or 'unknown statements'}; {decided_by})",
            [
                f"Check that the conditions in {', '.join(statements) or 'those statements'} "
                f"hold for ECS tasks, or let the monitor call {SIMULATOR} on {exec_arn}"
            ],
            **verdict.facts,
        )

    def _roles(
        self, ctx: CheckContext, arns: dict[str, str]
    ) -> tuple[dict[str, dict[str, Any] | None], CheckResult | None]:
        """label -> role (None when missing), or a FAIL when the monitor cannot read them."""
        roles: dict[str, dict[str, Any] | None] = {}
        for label, arn in arns.items():
            if not arn:
                continue
            role_name = role_name_from_arn(arn)
            try:
                roles[label] = ctx.aws.role(role_name) if role_name else None
            except AWS_ERRORS as exc:
                return roles, self.aws_fail(
                    exc, action="iam:GetRole", resource=arn, what=f"{label} {arn}"
                )
        return roles, None

    @staticmethod
    def _check_role(
        job_definition: str, label: str, arn: str, role: dict[str, Any] | None, verdict: Verdict
    ) -> None:
        """Missing role, or a role ECS tasks may not assume: a problem and its fix."""
        role_name = role_name_from_arn(arn) or arn
        if role is None:
            verdict.add(
                f"{label} {role_name} does not exist",
                f"Create {role_name} (trusting {ECS_TASKS}) or register {job_definition} with "
                f"the ARN of an existing {label}",
            )
            return
        services = sorted(trusted_services(role.get("AssumeRolePolicyDocument")))
        verdict.facts[f"{label.replace(' ', '_')}_trusts"] = services
        if ECS_TASKS not in services:
            verdict.add(
                f"{label} {role_name} does not trust {ECS_TASKS} "
                f"(trusted services: {', '.join(services) or 'none'})",
                f"Let ECS tasks assume it: `aws iam update-assume-role-policy --role-name "
                f"{role_name} --policy-document '{TRUST_POLICY}'`",
            )

    def _permission_problem(
        self, role: str, requirement: Requirement, evaluations: list[Evaluation]
    ) -> tuple[str, str] | None:
        """(problem, hint) when a needed action is denied on the requirement's resource."""
        missing = [
            e
            for e in evaluations
            if e.resource == requirement.resource
            and e.action in requirement.actions
            and e.decision in (Decision.IMPLICIT_DENY, Decision.EXPLICIT_DENY)
        ]
        if not missing:
            return None
        explicit = [d for e in missing for d in e.deciding if e.decision is Decision.EXPLICIT_DENY]
        why = f"explicitly denied by {', '.join(explicit)}" if explicit else "no policy allows it"
        return (
            f"execution role {role} may not {', '.join(e.action for e in missing)} on "
            f"{requirement.resource} (needed to {requirement.purpose}; {why})",
            self._grant_hint(role, requirement, explicit),
        )

    @staticmethod
    def _evaluate(
        ctx: CheckContext, role_arn: str, role_name: str, requirements: list[Requirement]
    ) -> tuple[str, list[Evaluation], list[str]]:
        """(method, evaluations, policy sources): the simulator if it answers, else local."""
        try:
            simulated = [
                _simulated(result, r.resource)
                for r in requirements
                for result in ctx.aws.simulate_principal_policy(role_arn, r.actions, r.resource)
            ]
            return SIMULATOR, simulated, []
        except SIMULATION_UNAVAILABLE as exc:
            unavailable = simulation_unavailable_reason(exc)
        policies = ctx.aws.role_policy_documents(role_name)
        count = f"{len(policies)} {'policy' if len(policies) == 1 else 'policies'}"
        method = f"local evaluation of {count}; {SIMULATOR} {unavailable}"
        requests = [(action, r.resource) for r in requirements for action in r.actions]
        return method, evaluate_all(policies, requests), [p.source for p in policies]

    @staticmethod
    def _grant_hint(role: str, requirement: Requirement, explicit: list[str]) -> str:
        if explicit:
            return (
                f"Remove or narrow the Deny in {', '.join(explicit)} so {role} may "
                f"{', '.join(requirement.actions)} on {requirement.resource}"
            )
        if requirement.actions != LOG_ACTIONS:
            return (
                f"Attach the managed execution policy: `aws iam attach-role-policy --role-name "
                f"{role} --policy-arn {EXECUTION_POLICY_ARN}` (or allow "
                f"{', '.join(requirement.actions)} on {requirement.resource})"
            )
        group_arn = requirement.resource.removesuffix("log-stream:*") + "*"
        policy = json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": list(LOG_ACTIONS), "Resource": group_arn}
                ],
            },
            separators=(",", ":"),
        )
        return (
            f"Allow the log writes: `aws iam put-role-policy --role-name {role} --policy-name "
            f"batch-job-logs --policy-document '{policy}'`"
        )
