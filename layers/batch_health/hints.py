"""ROOT_CAUSE_HINTS: the failing checks' hints, most fundamental first, each once."""

from __future__ import annotations

from collections.abc import Iterable

from batch_health.checks import REGISTRY
from batch_health.models import CheckResult, Status

_PRIORITY = {c.name: (c.priority, i) for i, c in enumerate(REGISTRY)}


def root_cause_hints(results: Iterable[CheckResult]) -> list[str]:
    """FAIL hints before WARN hints; within each, access before resources before content."""
    ranked = sorted(
        (r for r in results if r.status in (Status.FAIL, Status.WARN)),
        key=lambda r: (r.status is not Status.FAIL, _PRIORITY.get(r.name, (99, 99))),
    )
    seen: set[str] = set()
    hints: list[str] = []
    for result in ranked:
        for hint in result.hints or [result.detail]:
            if hint and hint not in seen:
                seen.add(hint)
                hints.append(f"{result.name}: {hint}")
    return hints
