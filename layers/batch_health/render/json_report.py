"""The JSON report: one target's, or `reports` when there are several."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from batch_health.models import SuiteReport, iso


def _jsonable(value: Any) -> Any:
    # Check data may carry timestamps; they render like the report's own (ISO-8601 UTC).
    if isinstance(value, datetime):
        return iso(value)
    return str(value)


def render_json(report: SuiteReport) -> str:
    return json.dumps(report.to_dict(), indent=2, ensure_ascii=False, default=_jsonable)
