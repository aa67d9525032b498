"""The smoke job: its name, its tags, and the job parameters its command needs.

Every `Ref::NAME` in the command is resolved before anything is submitted: the configured
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
