"""iam:SimulatePrincipalPolicy, asked once per execution role for every target's resources.

The simulator evaluates each action on each resource asked about; its answer has one
result per action, with each resource's decision in ResourceSpecificResults (older answers
had one result per action and resource). `simulation_answers` picks one resource's
decisions out of it, shaped as for a single resource.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from batch_health.config import Target
from batch_health.domain.execution_role import execution_role_needs
from batch_health.domain.job_definition import JobDefinitionView

# Said of an action the simulator did not answer for a resource: undetermined, never allowed.
NO_SIMULATOR_ANSWER = "(no simulator answer for this resource)"


class SimulationKey(NamedTuple):
    """One question for the IAM simulator: may `principal` do `actions` on `resource`?"""

    principal: str
    actions: tuple[str, ...]
    resource: str


def simulation_keys(
    target: Target, job_definition: JobDefinitionView | None, region: str | None
) -> list[SimulationKey]:
    """What IAM_CHECK will ask the simulator about this target's execution roles (the keys
    of the job's secrets, known only once they are read, are asked about when they are)."""
    return [
        SimulationKey(n.role_arn, r.actions, r.resource)
        for n in execution_role_needs(target, job_definition, region)
        for r in n.requirements
    ]


def simulation_answers(
    results: list[dict[str, Any]], actions: tuple[str, ...], resource: str, *, alone: bool
) -> list[dict[str, Any]]:
    """Per action, the simulator's answer for `resource`, shaped as for a single resource.

    Today's simulator answers one result per action, with each resource's decision in
    ResourceSpecificResults; older answers had one result per action and resource. With
    one resource asked about (`alone`), the top-level decision is that resource's. An action
    left unanswered for the resource is undetermined, never allowed.
    """
    answers = []
    for action in actions:
        answer = None
        for result in results:
            if str(result.get("EvalActionName", "")).lower() != action.lower():
                continue
            specific = next(
                (
                    r
                    for r in result.get("ResourceSpecificResults") or []
                    if r.get("EvalResourceName") == resource
                ),
                None,
            )
            if specific is not None:
                answer = {
                    "EvalActionName": action,
                    "EvalDecision": specific.get("EvalResourceDecision"),
                    "MatchedStatements": specific.get("MatchedStatements") or [],
                    "MissingContextValues": specific.get("MissingContextValues") or [],
                }
            elif alone or result.get("EvalResourceName") == resource:
                answer = dict(result)
            if answer is not None:
                break
        if answer is None:
            answer = {
                "EvalActionName": action,
                "EvalDecision": "implicitDeny",
                "MissingContextValues": [NO_SIMULATOR_ANSWER],
            }
        answers.append({**answer, "EvalResourceName": resource})
    return answers


def simulate(
    iam: Any, principal: str, actions: list[str], resources: list[str]
) -> list[dict[str, Any]]:
    """Every evaluation result of one simulation of `principal`."""
    # A failed simulation falls back to local evaluation at once: retrying it only
    # spends the time budget (emulators answer 500 for it).
    iam.meta.events.register_first(
        "needs-retry.iam.SimulatePrincipalPolicy",
        _never_retry,
        unique_id="batch-health-simulate-no-retry",
    )
    pages = iam.get_paginator("simulate_principal_policy").paginate(
        PolicySourceArn=principal, ActionNames=actions, ResourceArns=resources
    )
    return [r for page in pages for r in page.get("EvaluationResults", [])]


def _never_retry(**_: Any) -> bool:
    # False (not None) from the first needs-retry handler tells botocore not to retry.
    return False
