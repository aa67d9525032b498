"""What IAM_CHECK asks of each execution role: may it do what starting its tasks needs?

Asked of iam:SimulatePrincipalPolicy first (AWS evaluates everything, boundaries included);
when the monitor may not call it, or the endpoint does not implement it, the role's own
policy documents are evaluated locally. Each role's answer says which method decided.
Not a check itself.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from botocore.parsers import ResponseParserError

from batch_health.aws.errors import AWS_ERRORS, ErrorKind, classify
from batch_health.checks.base import CheckContext
from batch_health.domain.arns import role_name_from_arn
from batch_health.domain.execution_role import (
    KMS_ACTIONS,
    LOG_ACTIONS,
    PARAMETER_ACTIONS,
    SECRET_ACTIONS,
    Requirement,
)
from batch_health.domain.iam_policy import Decision, Evaluation, evaluate_all

SIMULATOR = "iam:SimulatePrincipalPolicy"
EXECUTION_POLICY_ARN = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
# Errors that mean "the simulator cannot answer here", not "the role lacks a permission".
SIMULATION_UNAVAILABLE = (*AWS_ERRORS, ResponseParserError, NotImplementedError)


@dataclass
class Verdict:
    """What the check found so far: its facts, each problem with its fix, and what it could
    not decide (a WARN unless a problem makes it a FAIL)."""

    facts: dict[str, Any]
    problems: list[str] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)
    unsure: list[str] = field(default_factory=list)
    unsure_hints: list[str] = field(default_factory=list)
    granted: list[str] = field(default_factory=list)
    methods: dict[str, str] = field(default_factory=dict)  # role name -> what decided

    def add(self, problem: str, hint: str) -> None:
        self.problems.append(problem)
        self.hints.append(hint)

    def doubt(self, what: str, hint: str) -> None:
        self.unsure.append(what)
        self.unsure_hints.append(hint)

    def detail(self) -> str:
        return "; ".join(self.problems)

    def method(self) -> str:
        """What decided: one method, or each role's when they differ."""
        methods = list(dict.fromkeys(self.methods.values()))
        if len(methods) <= 1:
            return methods[0] if methods else ""
        return "; ".join(f"{r}: {m}" for r, m in self.methods.items())

    def decided_by(self) -> str:
        return f"decided by {self.method()}" if self.methods else ""


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


def evaluate(
    ctx: CheckContext, role_arn: str, requirements: list[Requirement]
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
    policies = ctx.aws.role_policy_documents(role_name_from_arn(role_arn))
    count = f"{len(policies)} {'policy' if len(policies) == 1 else 'policies'}"
    method = f"local evaluation of {count}; {SIMULATOR} {unavailable}"
    requests = [(action, r.resource) for r in requirements for action in r.actions]
    return method, evaluate_all(policies, requests), [p.source for p in policies]


def judge_execution_role(
    ctx: CheckContext, role_arn: str, requirements: list[Requirement], verdict: Verdict
) -> None:
    """Whether one execution role may do what starting its tasks needs: problems, doubts
    and grants go into `verdict`."""
    name = role_name_from_arn(role_arn)
    try:
        method, evaluations, policies = evaluate(ctx, role_arn, requirements)
    except AWS_ERRORS as exc:
        verdict.add(*unevaluated(exc, name, role_arn))
        return
    verdict.methods[name] = method
    verdict.facts["permission_method"] = verdict.method()
    verdict.facts.setdefault("policies", []).extend(policies)
    verdict.facts.setdefault("permissions", []).extend(
        {
            "role": name,
            "action": e.action,
            "resource": e.resource,
            "decision": e.decision.value,
            "deciding": list(e.deciding),
        }
        for e in evaluations
    )
    if method != SIMULATOR and not policies:
        verdict.add(
            f"execution role {name} has no attached or inline policies, so it cannot "
            + " or ".join(dict.fromkeys(r.purpose for r in requirements)),
            f"Attach the managed execution policy: `aws iam attach-role-policy --role-name "
            f"{name} --policy-arn {EXECUTION_POLICY_ARN}`",
        )
        return
    for requirement in requirements:
        problem = permission_problem(name, requirement, evaluations)
        if problem:
            verdict.add(*problem)
    unsure = [e for e in evaluations if e.decision is Decision.UNDETERMINED]
    if unsure:
        verdict.doubt(*undetermined(unsure, name, role_arn, method))
    verdict.granted.append(
        f"{name} may {', '.join(dict.fromkeys(r.purpose for r in requirements))}"
        if requirements
        else f"{name}: (nothing to check)"
    )


def unevaluated(exc: BaseException, name: str, role_arn: str) -> tuple[str, str]:
    failure = classify(exc)
    if failure.kind is ErrorKind.ACCESS_DENIED:
        hint = (
            f"Grant the monitor's identity `{SIMULATOR}` on {role_arn}, or "
            "`iam:ListAttachedRolePolicies`, `iam:ListRolePolicies`, `iam:GetRolePolicy`, "
            "`iam:GetPolicy` and `iam:GetPolicyVersion`"
        )
    else:  # not a permission problem: say what it was (unreachable, throttled, ...)
        hint = failure.hint(resource=role_arn)
    return (
        f"cannot evaluate {name}'s permissions: {SIMULATOR} unavailable and reading "
        f"its policies failed ({failure.kind.value}, {failure.code})",
        hint,
    )


def undetermined(
    unsure: list[Evaluation], name: str, role_arn: str, method: str
) -> tuple[str, str]:
    statements = sorted({d for e in unsure for d in e.deciding})
    return (
        f"execution role {name}'s permission for "
        f"{', '.join(sorted({e.action for e in unsure}))} depends on policy conditions "
        f"({', '.join(statements) or 'unknown statements'}; decided by {method})",
        f"Check that the conditions in {', '.join(statements) or 'those statements'} "
        f"hold for ECS tasks, or let the monitor call {SIMULATOR} on {role_arn}",
    )


def permission_problem(
    role: str, requirement: Requirement, evaluations: list[Evaluation]
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
        grant_hint(role, requirement, explicit),
    )


def _statement_policy(actions: tuple[str, ...], resource: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": list(actions), "Resource": resource}],
        },
        separators=(",", ":"),
    )


def grant_hint(role: str, requirement: Requirement, explicit: list[str]) -> str:
    if explicit:
        return (
            f"Remove or narrow the Deny in {', '.join(explicit)} so {role} may "
            f"{', '.join(requirement.actions)} on {requirement.resource}"
        )
    if requirement.actions in (SECRET_ACTIONS, PARAMETER_ACTIONS, KMS_ACTIONS):
        policy = _statement_policy(requirement.actions, requirement.resource)
        return (
            f"Let ECS {requirement.purpose.split(' (', 1)[0]} for the job: `aws iam "
            f"put-role-policy --role-name {role} --policy-name batch-job-secrets "
            f"--policy-document '{policy}'`"
        )
    if requirement.actions != LOG_ACTIONS:
        return (
            f"Attach the managed execution policy: `aws iam attach-role-policy --role-name "
            f"{role} --policy-arn {EXECUTION_POLICY_ARN}` (or allow "
            f"{', '.join(requirement.actions)} on {requirement.resource})"
        )
    group_arn = requirement.resource.removesuffix("log-stream:*") + "*"
    return (
        f"Allow the log writes: `aws iam put-role-policy --role-name {role} --policy-name "
        f"batch-job-logs --policy-document '{_statement_policy(LOG_ACTIONS, group_arn)}'`"
    )
