"""The check registry: the one place that knows every check, in report order."""

from __future__ import annotations

from collections.abc import Sequence

from batch_health.checks.aws_access import AwsAccess
from batch_health.checks.base import Check, CheckContext, RunOptions
from batch_health.checks.ce import CeCheck
from batch_health.checks.config_match_jobdef import ConfigMatchJobdef
from batch_health.checks.config_match_queue import ConfigMatchQueue
from batch_health.checks.iam import IamCheck
from batch_health.checks.job_failures import JobFailuresCheck
from batch_health.checks.jobdef import JobdefCheck
from batch_health.checks.log_content import LogContentCheck
from batch_health.checks.log_group import LogGroupCheck
from batch_health.checks.queue import QueueCheck
from batch_health.checks.runnable_backlog import RunnableBacklogCheck
from batch_health.checks.smoke_submit import SmokeSubmitCheck

REGISTRY: tuple[Check, ...] = (
    ConfigMatchQueue(),
    ConfigMatchJobdef(),
    AwsAccess(),
    QueueCheck(),
    CeCheck(),
    JobdefCheck(),
    IamCheck(),
    LogGroupCheck(),
    LogContentCheck(),
    SmokeSubmitCheck(),
    RunnableBacklogCheck(),
    JobFailuresCheck(),
)

CHECK_NAMES: tuple[str, ...] = tuple(c.name for c in REGISTRY)


def get_check(name: str) -> Check:
    for check in REGISTRY:
        if check.name == name:
            return check
    raise KeyError(name)


def parse_check_names(
    value: str | Sequence[str], source: str = "--checks", *, allow_empty: bool = False
) -> list[str]:
    """Validate a selection (case-insensitive, duplicates dropped); unknown names raise
    ValueError listing the valid ones. `source` prefixes the message ("" for none)."""
    items = value.split(",") if isinstance(value, str) else list(value)
    names = [n.strip().upper() for n in items if n.strip()]
    unknown = [n for n in names if n not in CHECK_NAMES]
    if unknown or not (names or allow_empty):
        what = f"unknown check {', '.join(unknown)}" if unknown else "no check named"
        prefix = f"{source}: " if source else ""
        raise ValueError(f"{prefix}{what}; valid checks: {', '.join(CHECK_NAMES)}")
    return list(dict.fromkeys(names))


__all__ = [
    "CHECK_NAMES",
    "REGISTRY",
    "Check",
    "CheckContext",
    "RunOptions",
    "get_check",
    "parse_check_names",
]
