"""IAM identity policies evaluated locally, for when iam:SimulatePrincipalPolicy is unavailable.

Covers what decides the common cases: Allow/Deny, Action/NotAction, Resource/NotResource
with `*` and `?` wildcards, explicit deny winning. A statement with a Condition (or a
policy variable in its resources) cannot be decided without the request context, so it
makes the answer "undetermined" rather than allowed, unless the caller gives the context
(`context`: condition key -> value or values), in which case the common operators are
evaluated (String*, Arn*, Bool, ForAllValues:/ForAnyValue:, ...IfExists); an operator this
module does not know still makes the statement undetermined. Permission boundaries,
session policies and SCPs are not evaluated; the simulator does those when it is permitted.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Any
from urllib.parse import unquote


class Decision(StrEnum):
    ALLOWED = "allowed"
    EXPLICIT_DENY = "explicitly denied"
    IMPLICIT_DENY = "not allowed"  # no statement allows it
    UNDETERMINED = "undetermined"  # only statements with conditions decide


@dataclass(frozen=True)
class PolicyDocument:
    """One identity policy of a principal and where it comes from (for the report)."""

    source: str  # e.g. "managed policy AmazonECSTaskExecutionRolePolicy", "inline policy x"
    document: dict[str, Any]


@dataclass(frozen=True)
class Evaluation:
    action: str
    resource: str
    decision: Decision
    deciding: tuple[str, ...] = ()  # the statements that decided, "<source> statement <sid>"


def parse_document(document: str | dict[str, Any]) -> dict[str, Any]:
    """A policy document as a dict; IAM returns URL-encoded JSON where boto3 did not decode it."""
    if isinstance(document, dict):
        return document
    text = document.strip()
    if not text.startswith("{"):
        text = unquote(text)
    parsed = json.loads(text)
    if not isinstance(parsed, dict):
        raise ValueError("a policy document must be a JSON object")
    return parsed


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in _as_list(document.get("Statement")) if isinstance(s, dict)]


@lru_cache(maxsize=1024)
def _pattern(pattern: str, case_sensitive: bool) -> re.Pattern[str]:
    body = "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern)
    return re.compile(body, re.DOTALL if case_sensitive else re.DOTALL | re.IGNORECASE)


def wildcard_match(pattern: str, value: str, *, case_sensitive: bool = True) -> bool:
    """IAM matching: `*` any run of characters, `?` exactly one, everything else literal."""
    return _pattern(pattern, case_sensitive).fullmatch(value) is not None


POLICY_VARIABLE = re.compile(r"\$\{[^}]*\}")


def _matches(statement: dict[str, Any], key: str, value: str, case_sensitive: bool) -> bool:
    """Whether the statement's Key/NotKey element applies to value.

    A policy variable (`${aws:username}`) could stand for anything, so it matches as `*`;
    `_is_conditional` then makes such a statement undetermined.
    """
    for element, negated in ((key, False), (f"Not{key}", True)):
        if element in statement:
            patterns = [POLICY_VARIABLE.sub("*", str(p)) for p in _as_list(statement[element])]
            hit = any(wildcard_match(p, value, case_sensitive=case_sensitive) for p in patterns)
            return hit != negated
    return False


def _has_policy_variable(statement: dict[str, Any]) -> bool:
    # ${aws:username} and friends are resolved from the request context we do not have.
    resources = _as_list(statement.get("Resource")) + _as_list(statement.get("NotResource"))
    return any("${" in str(r) for r in resources)


Context = Mapping[str, str | Sequence[str]]
_STRING_OPERATORS = {
    "StringEquals": lambda p, v: p == v,
    "StringNotEquals": lambda p, v: p != v,
    "StringEqualsIgnoreCase": lambda p, v: p.lower() == v.lower(),
    "StringLike": lambda p, v: wildcard_match(p, v),
    "StringNotLike": lambda p, v: not wildcard_match(p, v),
    "ArnEquals": lambda p, v: wildcard_match(p, v),
    "ArnLike": lambda p, v: wildcard_match(p, v),
    "ArnNotEquals": lambda p, v: not wildcard_match(p, v),
    "ArnNotLike": lambda p, v: not wildcard_match(p, v),
    "Bool": lambda p, v: p.lower() == v.lower(),
}
_NEGATED = {"StringNotEquals", "StringNotLike", "ArnNotEquals", "ArnNotLike"}


def _key_holds(operator: str, policy_values: list[str], request: Any) -> bool | None:
    """One condition key; None when the operator is not one this module evaluates."""
    qualifier, _, base = operator.rpartition(":")
    if_exists = base.endswith("IfExists")
    base = base.removesuffix("IfExists")
    test = _STRING_OPERATORS.get(base)
    if test is None or qualifier not in ("", "ForAllValues", "ForAnyValue"):
        return None
    values = [] if request is None else [str(v) for v in _as_list(request)]
    # Negated operators hold when no policy value matches; others when one does.
    combine = all if base in _NEGATED else any

    def matches(value: str) -> bool:
        return combine(test(str(p), value) for p in policy_values)

    if qualifier == "ForAllValues":
        return all(matches(v) for v in values)
    if qualifier == "ForAnyValue":
        return any(matches(v) for v in values)
    if request is None:
        return if_exists or base in _NEGATED
    return all(matches(v) for v in values)


def condition_holds(condition: dict[str, Any], context: Context) -> bool | None:
    """Whether a statement's Condition holds in `context`; None when it cannot be told."""
    for operator, keys in condition.items():
        if not isinstance(keys, dict):
            return None
        for key, policy_values in keys.items():
            request = next((v for k, v in context.items() if k.lower() == key.lower()), None)
            held = _key_holds(operator, [str(p) for p in _as_list(policy_values)], request)
            if held is not True:
                return held
    return True


def evaluate(
    policies: Sequence[PolicyDocument],
    action: str,
    resource: str,
    context: Context | None = None,
) -> Evaluation:
    """Decide one action on one resource ARN the way IAM does for identity policies.

    Without `context`, a statement with a Condition is undetermined; with it, the
    condition is evaluated where the operator is one this module knows.
    """
    deny: list[str] = []
    deny_maybe: list[str] = []
    allow: list[str] = []
    allow_maybe: list[str] = []
    for policy in policies:
        for index, statement in enumerate(statements(policy.document)):
            if not _matches(statement, "Action", action, case_sensitive=False):
                continue
            if not _matches(statement, "Resource", resource, case_sensitive=True):
                continue
            label = f"{policy.source} statement {statement.get('Sid') or index}"
            conditional = _has_policy_variable(statement)
            condition = statement.get("Condition")
            if condition:
                held = None if context is None else condition_holds(condition, context)
                if held is False:
                    continue
                conditional = conditional or held is None
            if str(statement.get("Effect", "")).lower() == "deny":
                (deny_maybe if conditional else deny).append(label)
            elif str(statement.get("Effect", "")).lower() == "allow":
                (allow_maybe if conditional else allow).append(label)
    if deny:
        return Evaluation(action, resource, Decision.EXPLICIT_DENY, tuple(deny))
    if allow and not deny_maybe:
        return Evaluation(action, resource, Decision.ALLOWED, tuple(allow))
    if allow or allow_maybe:
        return Evaluation(action, resource, Decision.UNDETERMINED, tuple(deny_maybe or allow_maybe))
    return Evaluation(action, resource, Decision.IMPLICIT_DENY)


def evaluate_all(
    policies: Sequence[PolicyDocument], requests: Iterable[tuple[str, str]]
) -> list[Evaluation]:
    return [evaluate(policies, action, resource) for action, resource in requests]


def trusted_services(trust_policy: str | dict[str, Any] | None) -> set[str]:
    """Service principals a role's trust policy lets assume it (sts:AssumeRole allowed)."""
    if not trust_policy:
        return set()
    services: set[str] = set()
    for statement in statements(parse_document(trust_policy)):
        if str(statement.get("Effect", "")).lower() != "allow":
            continue
        if not _matches(statement, "Action", "sts:AssumeRole", case_sensitive=False):
            continue
        principal = statement.get("Principal")
        if isinstance(principal, dict):
            services.update(str(s) for s in _as_list(principal.get("Service")))
    return services
