"""A report like the ops report's (every kind of result), and how tests read its text view."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from batch_health.hints import root_cause_hints
from batch_health.models import CheckResult, Report, Status, SuiteReport

STARTED = datetime(2025, 3, 1, 9, 30, 0, tzinfo=UTC)
FINISHED = STARTED + timedelta(seconds=4, milliseconds=250)
STATUS_LINE = re.compile(r"^([A-Z_]+): (OK|WARN|FAIL|SKIP)( \(.+\))?$")

SEED_LIKE = [
    CheckResult("CONFIG_MATCH_QUEUE", Status.OK, "monitor=q api=q -> MATCH", duration_ms=3),
    CheckResult(
        "CONFIG_MATCH_JOBDEF",
        Status.SKIP,
        "no config sources for job_definition",
    ),
    CheckResult("AWS_ACCESS", Status.OK, "account=123456789012 arn=arn:aws:sts::1:user/x"),
    CheckResult("QUEUE_CHECK", Status.OK, "state=ENABLED status=VALID"),
    CheckResult(
        "CE_CHECK",
        Status.FAIL,
        "CE ce-1 status=INVALID: CLIENT_ERROR - role missing",
        ["Fix what CE ce-1's statusReason names"],
        {"compute_environments": [{"ce": "ce-1", "status": "INVALID"}]},
        12,
    ),
    CheckResult(
        "JOBDEF_CHECK",
        Status.WARN,
        "retryStrategy.attempts=1",
        ["Set retryStrategy on jd"],
        {"revision": 3},
        7,
    ),
]


def report(checks: list[CheckResult] = SEED_LIKE, target: str = "academy-video") -> Report:
    return Report(
        target=target,
        region="ap-northeast-2",
        checks=checks,
        root_cause_hints=root_cause_hints(checks),
        started_at=STARTED,
        finished_at=FINISHED,
    )


def suite(*reports: Report) -> SuiteReport:
    return SuiteReport(list(reports) or [report()], STARTED, FINISHED)


def section(text: str, header: str) -> list[str]:
    lines = text.splitlines()
    start = lines.index(header) + 1
    end = next((i for i in range(start, len(lines)) if not lines[i].strip()), len(lines))
    return lines[start:end]
