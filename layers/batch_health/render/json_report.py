"""JSON exactly as SPEC §4 (one report, or `reports` when several targets)."""

from __future__ import annotations

import json

from batch_health.models import SuiteReport


def render_json(report: SuiteReport) -> str:
    return json.dumps(report.to_dict(), indent=2, ensure_ascii=False, default=str)
