"""One run of a kind at a time, without reserved concurrency: a lease in the incident table.

Reserved concurrency would serialize the function's runs, but it needs the account's
unreserved concurrency to stay at 100 or more, which new accounts do not have. Instead a
scheduled run takes the lease of its kind ("suite"; "smoke" for any run that may submit a
test job) with a conditional write that succeeds only when nobody holds it or the holder's
lease has expired, and gives it back when it ends. A run that finds the lease held does
nothing and says who holds it: that run covers the same ground. A holder that dies
(timeout, crash) loses the lease when the function's time limit would have ended it.

The table unreachable: the run goes ahead (fail open) and says so; an overlap is cheaper
than a monitor that stopped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from batch_health.aws.dynamodb import CONDITION_FAILED, error_code
from batch_health.aws.errors import AWS_ERRORS, classify
from batch_health.models import iso


class LeaseState(StrEnum):
    ACQUIRED = "acquired"
    HELD = "held by another run"
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True)
class LeaseOutcome:
    state: LeaseState
    holder: str = ""  # who holds it, when HELD
    until: str = ""  # when the holder's lease ends (ISO-8601), when HELD
    reason: str = ""  # why it could not be asked for, when UNAVAILABLE

    def describe(self, name: str) -> str:
        if self.state is LeaseState.HELD:
            return f"the {name} lease is held by run {self.holder} until {self.until}"
        if self.state is LeaseState.UNAVAILABLE:
            return f"the {name} lease is unavailable ({self.reason}); running anyway"
        return f"the {name} lease is ours"


class RunLease:
    """The lease `name` in `table` (item `lease#<name>`), for `holder` (a request id)."""

    def __init__(self, client: Any, table: str, name: str, holder: str) -> None:
        self._client = client
        self.table = table
        self.name = name
        self.holder = holder
        self.key = {"pk": {"S": f"lease#{name}"}}

    def acquire(self, now: datetime, duration: timedelta) -> LeaseOutcome:
        until = now + duration
        item = {
            **self.key,
            "holder": {"S": self.holder},
            "acquired_at": {"S": iso(now)},
            "lease_until": {"S": iso(until)},
            # Also the table's TTL attribute: a lease item nobody released goes away.
            "expires_at": {"N": str(int(until.timestamp()))},
        }
        try:
            self._client.put_item(
                TableName=self.table,
                Item=item,
                ConditionExpression="attribute_not_exists(pk) OR expires_at < :now",
                ExpressionAttributeValues={":now": {"N": str(int(now.timestamp()))}},
            )
        except ClientError as exc:
            if error_code(exc) == CONDITION_FAILED:
                return self._held()
            return LeaseOutcome(LeaseState.UNAVAILABLE, reason=classify(exc).summary)
        except BotoCoreError as exc:
            return LeaseOutcome(LeaseState.UNAVAILABLE, reason=classify(exc).summary)
        return LeaseOutcome(LeaseState.ACQUIRED)

    def _held(self) -> LeaseOutcome:
        try:
            item = self._client.get_item(
                TableName=self.table, Key=self.key, ConsistentRead=True
            ).get("Item", {})
        except AWS_ERRORS:
            item = {}
        return LeaseOutcome(
            LeaseState.HELD,
            holder=item.get("holder", {}).get("S", "unknown"),
            until=item.get("lease_until", {}).get("S", "unknown"),
        )

    def release(self) -> str | None:
        """Give the lease back; returns why that failed (it then expires on its own)."""
        try:
            self._client.delete_item(
                TableName=self.table,
                Key=self.key,
                ConditionExpression="holder = :me",
                ExpressionAttributeValues={":me": {"S": self.holder}},
            )
        except ClientError as exc:
            if error_code(exc) == CONDITION_FAILED:
                return None  # ours expired and another run took it: nothing to give back
            return classify(exc).summary
        except BotoCoreError as exc:
            return classify(exc).summary
        return None


def lease_name(trigger: str, allow_test_submit: bool) -> str | None:
    """Which lease a run takes: smoke runs one at a time, scheduled suites one at a time;
    a manual run without a smoke submit takes none."""
    if allow_test_submit:
        return "smoke"
    return "suite" if trigger == "schedule" else None
