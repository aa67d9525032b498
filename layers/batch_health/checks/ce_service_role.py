"""CE_CHECK's question to each compute environment's service role: may Batch tell you why
jobs wait? (batch_health.domain.blocked_events has the documented rule.)

Only the roles that decide are read, each once and side by side, with the IAM reads of
IAM_CHECK (`TargetView.role_policy_documents`: ListAttachedRolePolicies, GetPolicy and
GetPolicyVersion of each attached policy, ListRolePolicies and GetRolePolicy of each inline
one). The service-linked role is judged from its documented policy, unread. A role whose
policies cannot be read is not a failure of the compute environment but a WARN: the report
says its permissions went unchecked, and why.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from batch_health.aws.concurrency import fan_out
from batch_health.aws.errors import AWS_ERRORS, classify
from batch_health.aws.inventory import TargetView
from batch_health.domain.blocked_events import (
    SERVICE_LINKED_ROLE_NAME,
    BlockedEventsVerdict,
    fix_commands,
    judge,
    service_role_to_read,
)
from batch_health.domain.iam_policy import PolicyDocument

CONSEQUENCE = (
    "no Batch Job Queue Blocked event nor RUNNABLE statusReason for capacity problems, and "
    "jobStateTimeLimitActions cannot cancel"
)
READS = "iam:ListAttachedRolePolicies, iam:ListRolePolicies, iam:GetRolePolicy"


@dataclass
class RoleFindings:
    """What the service roles say: warnings (problem, fix), notes, and each CE's verdict."""

    warnings: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    verdicts: dict[str, dict[str, Any]] = field(default_factory=dict)


def _read(aws: TargetView, role_name: str) -> list[PolicyDocument] | str:
    """The role's policies, or why they could not be read."""
    try:
        return aws.role_policy_documents(role_name)
    except AWS_ERRORS as exc:
        return classify(exc).summary
    except ValueError as exc:  # a policy document that is not JSON
        return f"a policy document could not be parsed: {exc}"


def read_service_roles(aws: TargetView, ces: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """role name -> its policies, or the reason they are unknown; only roles that decide."""
    names = list(dict.fromkeys(n for ce in ces if (n := service_role_to_read(ce))))
    return dict(zip(names, fan_out([partial(_read, aws, n) for n in names]), strict=True))


def _role_label(verdict: BlockedEventsVerdict) -> str:
    return verdict.service_role or f"{SERVICE_LINKED_ROLE_NAME} (no serviceRole set)"


def service_role_findings(aws: TargetView, ces: Sequence[dict[str, Any]]) -> RoleFindings:
    """Judge every CE (DescribeComputeEnvironments entries) by its service role."""
    read = read_service_roles(aws, ces)
    out = RoleFindings()
    denied: dict[tuple[str, tuple[str, ...]], list[BlockedEventsVerdict]] = {}
    for ce in ces:
        answer = read.get(service_role_to_read(ce))
        verdict = judge(ce, answer if isinstance(answer, list) else None)
        out.verdicts[verdict.compute_environment] = verdict.facts()
        if verdict.unread:
            out.warnings.append(
                (
                    f"CE {verdict.compute_environment}'s service role {_role_label(verdict)}: "
                    f"whether Batch can raise blocked-queue events went unchecked ({answer})",
                    f"The monitor reads the role's policies with {READS}: allow them on "
                    f"{_role_label(verdict)}, or fix the cause named",
                )
            )
            continue
        for e in verdict.undetermined:
            out.notes.append(
                f"CE {verdict.compute_environment}'s service role {_role_label(verdict)} allows "
                f"{e.action} only under a condition not evaluated here "
                f"({', '.join(e.deciding)})"
            )
        if verdict.denied:
            key = (verdict.service_role, tuple(e.action for e in verdict.denied))
            denied.setdefault(key, []).append(verdict)
    for (_, actions), verdicts in denied.items():
        names = ", ".join(v.compute_environment for v in verdicts)
        refused = " and ".join(
            f"{e.action} ({e.decision.value})" for e in verdicts[0].denied if e.action in actions
        )
        out.warnings.append(
            (
                f"Batch cannot tell you why jobs wait: the service role "
                f"{_role_label(verdicts[0])} of CE {names} does not allow {refused} "
                f"({CONSEQUENCE})",
                f"Allow it: {fix_commands(verdicts[0])}",
            )
        )
    return out
