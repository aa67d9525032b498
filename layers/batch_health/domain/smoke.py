"""The smoke job: its name, its tags, the job parameters its commands need, the share it
takes on a fair-share queue and the nodes it takes as a multi-node job.

Every `Ref::NAME` in the commands is resolved before anything is submitted: the configured
smoke parameters, then the job definition's defaults, then the built-in
`job_id=health-smoke-<ts>`. A name nothing supplies is named, instead of the submit
failing with Batch's "No parameter found for reference".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

SMOKE_JOB_PREFIX = "health-smoke-"
SMOKE_TAG = "batch-health:smoke"
TARGET_TAG = "batch-health:target"
PARAMETER_REF = re.compile(r"Ref::([A-Za-z0-9_-]+)")
CONFIGURED, JOBDEF_DEFAULT, BUILT_IN = "configured", "job definition default", "built-in default"


@dataclass(frozen=True)
class ResolvedParameter:
    value: str
    source: str


def referenced_parameters(command: Iterable[str]) -> list[str]:
    """Every `Ref::NAME` in the command, in order of first use."""
    names = [m for part in command for m in PARAMETER_REF.findall(str(part))]
    return list(dict.fromkeys(names))


def resolve_job_parameters(
    names: Iterable[str],
    configured: Mapping[str, str],
    defaults: Mapping[str, str],
    built_in: Mapping[str, str],
) -> tuple[dict[str, ResolvedParameter], list[str]]:
    """(resolved name -> value and source, unresolved names), first source wins."""
    resolved: dict[str, ResolvedParameter] = {}
    unresolved: list[str] = []
    for name in names:
        for source, values in ((CONFIGURED, configured), (JOBDEF_DEFAULT, defaults)):
            if name in values:
                resolved[name] = ResolvedParameter(str(values[name]), source)
                break
        else:
            if name in built_in:
                resolved[name] = ResolvedParameter(built_in[name], BUILT_IN)
            else:
                unresolved.append(name)
    return resolved, unresolved


def find_unresolved_job_parameters(
    command: Iterable[str],
    configured: Mapping[str, str],
    defaults: Mapping[str, str],
    built_in: Mapping[str, str] | None = None,
) -> list[str]:
    """The `Ref::` names in the command that nothing would supply at submit time."""
    _, unresolved = resolve_job_parameters(
        referenced_parameters(command), configured, defaults, built_in or {}
    )
    return unresolved


def smoke_job_name(now: datetime) -> str:
    return f"{SMOKE_JOB_PREFIX}{now.strftime('%Y%m%dT%H%M%SZ')}"


def is_smoke_job(job: Mapping[str, Any]) -> bool:
    return str(job.get("jobName", "")).startswith(SMOKE_JOB_PREFIX)


# --- the share of a fair-share queue ----------------------------------------------------
# SubmitJob.shareIdentifier: "Don't specify this parameter if the job queue doesn't have a
# fair-share scheduling policy. If the job queue has a fair-share scheduling policy, then
# this parameter must be specified. This string is limited to 255 alphanumeric characters,
# and can be followed by an asterisk (*)." SubmitJob.schedulingPriorityOverride: "Jobs with
# a higher scheduling priority are scheduled before jobs with a lower scheduling priority
# [...] works only within a single share identifier. The minimum supported value is 0 and
# the maximum supported value is 9999."
# https://docs.aws.amazon.com/batch/latest/APIReference/API_SubmitJob.html
SHARE_IDENTIFIER_MAX_CHARS = 255
SHARE_IDENTIFIER_RE = r"^[A-Za-z0-9]{1,255}\*?$"
SCHEDULING_PRIORITY_MIN, SCHEDULING_PRIORITY_MAX = 0, 9999
# A share identifier the policy does not list "has a default weight of 1.0" (FairsharePolicy.
# shareDistribution, https://docs.aws.amazon.com/batch/latest/APIReference/API_FairsharePolicy.html),
# so the smoke job may use its own; it is also what a listed prefix (`A1*`) is completed with.
SMOKE_SHARE_IDENTIFIER = "healthsmoke"
# ShareAttributes.weightFactor: "The default value is 1.0. A lower value has a higher
# priority for compute resources." https://docs.aws.amazon.com/batch/latest/APIReference/API_ShareAttributes.html
DEFAULT_WEIGHT_FACTOR = 1.0
SHARE_CONFIGURED = "configured (smoke.share_identifier)"
PRIORITY_CONFIGURED = "configured (smoke.scheduling_priority)"
PRIORITY_LOWEST = "lowest (never ahead of the share's own jobs)"


@dataclass(frozen=True)
class ShareChoice:
    """The share identifier and scheduling priority a smoke job on a fair-share queue carries,
    and where each came from."""

    identifier: str
    source: str
    priority: int
    priority_source: str

    def describe(self) -> str:
        return (
            f"share {self.identifier} ({self.source}), scheduling priority {self.priority} "
            f"({self.priority_source})"
        )


def _weight(entry: Mapping[str, Any]) -> float:
    weight = entry.get("weightFactor")
    if isinstance(weight, int | float) and not isinstance(weight, bool):
        return float(weight)
    return DEFAULT_WEIGHT_FACTOR


def share_from_policy(policy: Mapping[str, Any]) -> tuple[str, str]:
    """(identifier, where it came from) out of a DescribeSchedulingPolicies entry: the listed
    share the policy weighs least (the highest weightFactor; the first of equals), a
    prefix entry (`A1*`) completed to a concrete identifier; no distribution: our own."""
    name = str(policy.get("name") or policy.get("arn") or "?")
    if set(policy) == {"arn"}:  # the inventory's answer for an ARN the describe did not know
        return SMOKE_SHARE_IDENTIFIER, f"built-in default: scheduling policy {name} not found"
    fairshare = policy.get("fairsharePolicy")
    distribution = fairshare.get("shareDistribution") if isinstance(fairshare, Mapping) else None
    entries = [
        e
        for e in (distribution if isinstance(distribution, list) else [])
        if isinstance(e, Mapping)
        and isinstance(e.get("shareIdentifier"), str)
        and e["shareIdentifier"]
    ]
    if not entries:
        return SMOKE_SHARE_IDENTIFIER, (
            f"built-in default: scheduling policy {name} lists no share, and an unlisted "
            f"share weighs {DEFAULT_WEIGHT_FACTOR}"
        )
    chosen = max(entries, key=_weight)  # max keeps the first of equal weights
    listed = chosen["shareIdentifier"]
    weight = _weight(chosen)
    if not listed.endswith("*"):
        return listed, f"scheduling policy {name}, share {listed} (weightFactor {weight:g})"
    prefix = listed[:-1]
    identifier = (prefix + SMOKE_SHARE_IDENTIFIER)[:SHARE_IDENTIFIER_MAX_CHARS]
    return identifier, (f"scheduling policy {name}, prefix {listed} (weightFactor {weight:g})")


def choose_share(
    configured_share: str | None,
    configured_priority: int | None,
    policy: Mapping[str, Any] | None,
) -> ShareChoice:
    """The share and priority for a queue that has a scheduling policy (its describe answer,
    or None when it was not read because a share is configured or it was not found)."""
    if configured_share:
        identifier, source = configured_share, SHARE_CONFIGURED
    elif policy:
        identifier, source = share_from_policy(policy)
    else:
        identifier, source = SMOKE_SHARE_IDENTIFIER, "built-in default"
    if configured_priority is not None:
        return ShareChoice(identifier, source, configured_priority, PRIORITY_CONFIGURED)
    return ShareChoice(identifier, source, SCHEDULING_PRIORITY_MIN, PRIORITY_LOWEST)


def quota_share_only(policy: Mapping[str, Any] | None) -> bool:
    """A quota-share scheduling policy (no fairsharePolicy): its shares are not in it."""
    if not policy:
        return False
    return not policy.get("fairsharePolicy") and bool(policy.get("quotaSharePolicy"))


# --- how many nodes a multi-node smoke job takes --------------------------------------------
# NodeOverrides.numNodes: "To use this override, you must meet the following conditions:
# There must be at least one node range in your job definition that has an open upper
# boundary, such as : or n:. The lower boundary of the node range that's specified in the
# job definition must be fewer than the number of nodes specified in the override. The main
# node index that's specified in the job definition must be fewer than the number of nodes
# specified in the override." It "isn't applicable to jobs that are running on Fargate".
# https://docs.aws.amazon.com/batch/latest/APIReference/API_NodeOverrides.html


@dataclass(frozen=True)
class NodeChoice:
    """How many nodes the smoke job runs on, and whether that is a `numNodes` override."""

    num_nodes: int | None  # None: not known (the job definition gives none)
    override: bool
    why: str


def smallest_node_override(
    ranges: Iterable[tuple[int | None, bool]], main_node: int | None
) -> int | None:
    """The fewest nodes a `numNodes` override may ask for: above the lower bound of a node
    range open at the top, and above the main node; None when no range is open at the top.
    `ranges` are (lower bound, open at the top) pairs."""
    open_lows = [first for first, open_end in ranges if open_end and first is not None]
    if not open_lows:
        return None
    return max(min(open_lows), main_node or 0) + 1


def choose_nodes(
    ranges: Iterable[tuple[int | None, bool]],
    main_node: int | None,
    num_nodes: int | None,
    on_fargate: bool = False,
) -> NodeChoice:
    """The smallest valid override when it is fewer nodes than the job's own numNodes."""
    smallest = None if on_fargate else smallest_node_override(ranges, main_node)
    if smallest is not None and (num_nodes is None or smallest < num_nodes):
        return NodeChoice(
            smallest,
            True,
            f"nodeOverrides.numNodes={smallest}: the fewest a node range open at the top and "
            f"main node {main_node or 0} allow",
        )
    if on_fargate:
        why = "the job definition's numNodes (nodeOverrides do not apply on Fargate)"
    elif smallest is None:
        why = (
            "the job definition's numNodes (no node range is open at the top, so it cannot "
            "be overridden)"
        )
    else:
        why = "the job definition's numNodes (already the fewest an override allows)"
    return NodeChoice(num_nodes, False, why)
