"""The seed's text format: STEP sections, FINAL REPORT, ROOT_CAUSE_HINTS."""

from __future__ import annotations

from itertools import groupby

from batch_health.checks import REGISTRY
from batch_health.models import CheckResult, Report, Status, SuiteReport

_STEP = {c.name: (c.step, c.step_title) for c in REGISTRY}


def status_line(result: CheckResult) -> str:
    if result.status is Status.SKIP and result.detail:
        return f"{result.name}: SKIP ({result.detail})"
    return f"{result.name}: {result.status}"


def render_target(report: Report) -> list[str]:
    lines: list[str] = []
    for (step, title), group in groupby(
        report.checks, key=lambda r: _STEP.get(r.name, (99, "OTHER"))
    ):
        lines.append(f"=== STEP {step} {title} ===")
        for result in group:
            if result.status is not Status.SKIP and result.detail:
                lines.append(result.detail)
            lines.append(status_line(result))
            lines.extend(f"  hint: {h}" for h in result.hints)
        lines.append("")
    lines.append("========== FINAL REPORT ==========")
    lines.extend(status_line(r) for r in report.checks)
    lines.append("")
    lines.append("ROOT_CAUSE_HINTS:")
    lines.extend(f"- {h}" for h in report.root_cause_hints)
    if not report.root_cause_hints:
        lines.append("- none: every check passed or was skipped")
    return lines


def render_text(suite: SuiteReport) -> str:
    if len(suite.reports) == 1:
        return "\n".join(render_target(suite.reports[0])) + "\n"
    lines: list[str] = []
    for report in suite.reports:
        lines.append(f"########## TARGET {report.target} ({report.region}) ##########")
        lines.extend(render_target(report))
        lines.append("")
    failing = [r.target for r in suite.reports if r.overall is Status.FAIL]
    lines.append(
        f"OVERALL: {suite.overall} ({len(failing)} of {len(suite.reports)} targets failing"
        + (f": {', '.join(failing)})" if failing else ")")
    )
    return "\n".join(lines) + "\n"
