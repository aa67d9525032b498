"""The ops report's text format: STEP sections, FINAL REPORT, ROOT_CAUSE_HINTS."""

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
        # Never claim "all passed" when a FAIL/WARN merely came without a hint.
        unexplained = [r for r in report.checks if r.status in (Status.FAIL, Status.WARN)]
        lines.extend(f"- {r.name}: {r.status} (the check gave no hint)" for r in unexplained)
        if not unexplained:
            lines.append("- none: every check passed or was skipped")
    return lines


def stats_lines(suite: SuiteReport) -> list[str]:
    """A header with the run's AWS call count, so retried throttling stays visible; the
    report keeps ending with FINAL REPORT and ROOT_CAUSE_HINTS, as the ops report's does."""
    if not suite.stats:
        return []
    s = suite.stats
    return [
        f"AWS_CALLS: {s.get('aws_calls', 0)} (HTTP attempts {s.get('aws_http_attempts', 0)}, "
        f"retries {s.get('aws_retries', 0)})",
        "",
    ]


def render_text(suite: SuiteReport) -> str:
    if len(suite.reports) == 1:
        return "\n".join([*stats_lines(suite), *render_target(suite.reports[0])]) + "\n"
    lines: list[str] = stats_lines(suite)
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
