"""The checks each target failed at its previous run, so that a healthy check sends nothing.

CloudWatch bills a custom metric for every hour in which it receives data. So a run sends
`CheckFailed` for a check only while it FAILs (1, every run) and once when it recovers (0,
the first run it is OK or WARN again); `FailedChecks` likewise (sent while above 0, and
0 once). A SKIP did not look: it sends nothing and is no recovery. That needs the failing
checks of each target's previous run, kept in the incident table: one item per target,
pk `<target>#failing`, the checks as a string set; read for every target of the run at once
(BatchGetItem, up to 100 keys a call, unprocessed keys asked again) and written (PutItem)
only when the set changed.

Without the table (the CLI, a local run) or when it does not answer, the run sends every
check's value, as a run without memory must: a FAIL datapoint is never lost, and a
recovery at worst sent again.

Two runs may overlap (a smoke run and a suite run hold different leases): the later write
wins. The cost of a lost update is one recovery datapoint sent twice or not at all; the
alarms treat a missing datapoint as OK either way.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence, Set
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError

from batch_health.aws.dynamodb import batch_get_items
from batch_health.aws.errors import AWS_ERRORS, classify
from batch_health.aws.sessions import AwsSessions
from batch_health.limits import DYNAMODB_BATCH_GET_MAX_KEYS
from batch_health.models import Report, Status, SuiteReport, iso, utc_now
from batch_health.runtime.observability import logger

KEY_SUFFIX = "#failing"
CHECKS = "checks"  # the item's string set (absent when nothing fails: a set is never empty)
# A removed target's item goes away on its own; a longer failure is written again when
# its item expires (the next run finds no state and sees the check fail).
STATE_TTL = timedelta(days=30)
Failing = frozenset[str]


class MetricStateUnavailable(Exception):
    """The table could not be read or written."""


def failing_after(report: Report, previous: Set[str]) -> Failing:
    """The target's failing checks once this run is counted.

    A check that FAILed is failing; one that looked and passed (OK, WARN) is not; a SKIP
    keeps what the previous run knew (a smoke check whose verdict was handed to the job's
    event too: the events function adds and removes it, runtime/smoke_events.py).
    """
    failing = set(previous)
    for result in report.checks:
        if result.status is Status.FAIL:
            failing.add(result.name)
        elif result.status is not Status.SKIP:
            failing.discard(result.name)
    return frozenset(failing)


class MetricStateStore:
    """The failing-checks items of the incident table (PK `pk`, TTL `expires_at`)."""

    def __init__(
        self, client: Any, table_name: str, *, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self._client = client
        self.table_name = table_name
        self._sleep = sleep

    @staticmethod
    def key(target: str) -> str:
        return f"{target}{KEY_SUFFIX}"

    def load(self, targets: Iterable[str]) -> dict[str, Failing]:
        """Every target's failing checks (empty when it has no item)."""
        names = list(dict.fromkeys(targets))
        found: dict[str, Failing] = dict.fromkeys(names, frozenset())
        for i in range(0, len(names), DYNAMODB_BATCH_GET_MAX_KEYS):
            pks = [self.key(t) for t in names[i : i + DYNAMODB_BATCH_GET_MAX_KEYS]]
            fail = MetricStateUnavailable
            for item in batch_get_items(self._client, self.table_name, pks, fail, self._sleep):
                target = item["pk"]["S"].removesuffix(KEY_SUFFIX)
                if target in found:
                    found[target] = frozenset(item.get(CHECKS, {}).get("SS", []))
        return found

    def change(
        self,
        target: str,
        *,
        add: Set[str] = frozenset(),
        remove: Set[str] = frozenset(),
        now: datetime,
    ) -> None:
        """Add and remove checks in the target's set, element by element (UpdateItem's
        ADD and DELETE): a function that changes another check meanwhile is not undone."""
        for verb, checks in (("ADD", add), ("DELETE", remove)):
            if not checks:
                continue
            try:
                self._client.update_item(
                    TableName=self.table_name,
                    Key={"pk": {"S": self.key(target)}},
                    UpdateExpression=f"{verb} #checks :checks SET updated_at = :now, "
                    "expires_at = :expires",
                    ExpressionAttributeNames={"#checks": CHECKS},
                    ExpressionAttributeValues={
                        ":checks": {"SS": sorted(checks)},
                        ":now": {"S": iso(now)},
                        ":expires": {"N": str(int((now + STATE_TTL).timestamp()))},
                    },
                )
            except AWS_ERRORS as exc:
                raise MetricStateUnavailable(f"write: {classify(exc).summary}") from exc

    def save(self, target: str, failing: Set[str], now: datetime) -> None:
        """Replace the target's set (a whole new state)."""
        item: dict[str, Any] = {
            "pk": {"S": self.key(target)},
            "updated_at": {"S": iso(now)},
            "expires_at": {"N": str(int((now + STATE_TTL).timestamp()))},
        }
        if failing:
            item[CHECKS] = {"SS": sorted(failing)}
        try:
            self._client.put_item(TableName=self.table_name, Item=item)
        except AWS_ERRORS as exc:
            raise MetricStateUnavailable(f"write: {classify(exc).summary}") from exc


@dataclass
class MetricState:
    """One run's view: the previous failing checks (None: unknown, send every value)."""

    store: MetricStateStore | None = None
    previous: dict[str, Failing] | None = None

    @classmethod
    def load(
        cls, table_name: str | None, sessions: AwsSessions, targets: Sequence[str]
    ) -> MetricState:
        """Read the targets' previous failing checks; unknown (logged) when it cannot."""
        if not table_name:
            # A deployed function always has its table; this is a local run (batch-health invoke).
            logger.info("metric state off: no INCIDENT_TABLE_NAME; every check's value is sent")
            return cls()
        try:
            store = MetricStateStore(sessions.client("dynamodb"), table_name)
            return cls(store, store.load(targets))
        except (BotoCoreError, MetricStateUnavailable) as exc:
            reason = classify(exc).summary if isinstance(exc, BotoCoreError) else str(exc)
            logger.warning(
                "metric state unavailable; every check's value is sent",
                extra={"table": table_name, "error": reason},
            )
            return cls()

    def save(self, suite: SuiteReport, now: datetime | None = None) -> int:
        """Write each target whose failing checks changed; returns how many were written."""
        if self.store is None or self.previous is None:
            return 0
        written = 0
        for report in suite.reports:
            before = self.previous.get(report.target, frozenset())
            after = failing_after(report, before)
            if after == before:
                continue
            try:
                self.store.change(
                    report.target, add=after - before, remove=before - after, now=now or utc_now()
                )
            except MetricStateUnavailable as exc:
                # The next run reads the old set: it sends a recovery again, or misses one.
                logger.warning(
                    "metric state not saved",
                    extra={"target": report.target, "error": str(exc)},
                )
                continue
            written += 1
        return written
