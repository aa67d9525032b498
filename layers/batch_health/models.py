"""The one result model: every view (text, JSON, metrics, Slack, SNS) renders these."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    OK = "OK"
    WARN = "WARN"
    FAIL = "FAIL"
    SKIP = "SKIP"


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass
class CheckResult:
    name: str
    status: Status
    detail: str = ""
    hints: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    duration_ms: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status.value,
            "detail": self.detail,
            "hints": list(self.hints),
            "duration_ms": self.duration_ms,
            "data": self.data,
        }


def overall_status(results: list[CheckResult]) -> Status:
    """FAIL if any check failed, WARN if any warned, else OK (SKIPs do not count)."""
    statuses = {r.status for r in results}
    if Status.FAIL in statuses:
        return Status.FAIL
    if Status.WARN in statuses:
        return Status.WARN
    return Status.OK


@dataclass
class Report:
    """The outcome of one suite run against one target."""

    target: str
    region: str
    checks: list[CheckResult]
    root_cause_hints: list[str]
    started_at: datetime
    finished_at: datetime
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def overall(self) -> Status:
        return overall_status(self.checks)

    def result(self, name: str) -> CheckResult | None:
        return next((c for c in self.checks if c.name == name), None)

    @property
    def failed(self) -> list[CheckResult]:
        return [c for c in self.checks if c.status is Status.FAIL]

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "region": self.region,
            "overall": self.overall.value,
            "checks": [c.to_dict() for c in self.checks],
            "root_cause_hints": list(self.root_cause_hints),
            "started_at": iso(self.started_at),
            "finished_at": iso(self.finished_at),
        }


@dataclass
class SuiteReport:
    """One run over one or more targets."""

    reports: list[Report]
    started_at: datetime
    finished_at: datetime
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def overall(self) -> Status:
        return overall_status([c for r in self.reports for c in r.checks])

    def to_dict(self) -> dict[str, Any]:
        """A single target renders as its report; several go under `reports`.

        `stats` (AWS calls, HTTP attempts, retries of this run) is added beside the report's
        keys so throttling that retries absorbed is still visible.
        """
        if len(self.reports) == 1:
            doc = self.reports[0].to_dict()
        else:
            doc = {
                "overall": self.overall.value,
                "reports": [r.to_dict() for r in self.reports],
                "started_at": iso(self.started_at),
                "finished_at": iso(self.finished_at),
            }
        if self.stats:
            doc["stats"] = dict(self.stats)
        return doc
