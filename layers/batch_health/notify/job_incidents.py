"""Incidents from Batch's own events: one per (target, check, reason class), with exact counts.

The incident table holds, besides the checks' incidents (batch_health.notify.job_groups
says what one is made of):

- `<target>#<check>#<CLASS>`: the incident: `state` (OK/FAIL), `jobs` (events counted since
  it opened), `version` (every write adds one), `since`, `notified_at`, `reminders`,
  `newest_at` and `example` (the newest job: id, name, log stream, reason).
- `<target>#events`: `open`, the keys of the target's open incidents, so a later success
  or a passing scheduled check finds what to resolve with one read.
- `event#<account>:<id>`: an event that was counted (expires after SEEN_TTL).
- `family#<account>:<parent>`: an array or multi-node job: `class` (the incident its events
  are counted under, claimed once), `kind`, `size`, `summary_failed` (the parent's
  statusSummary), `failed` and `c_<CLASS>` (its failed children, by their reasons' class).

Each event is counted once however often EventBridge or SQS deliver it: up to 99 markers
and the count go in one TransactWriteItems, each marker conditional on not existing. A
marker that exists is a repeat: it is left out and the rest written again. A family's
events all carry the parent's marker (counted once, one job) and each failed child its own
too, whose reason is added to the family's item in the same transaction. A transaction
that does not commit counts nothing (its events are retried by the caller), so the count is
exact. Opening, reminding and resolving are conditional on the `version` read, as for the
checks' incidents: of two functions that saw the same transition, one publishes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from batch_health.aws.dynamodb import (
    backoff_s,
    batch_get_items,
    conditional_write,
    error_code,
    get_item,
)
from batch_health.aws.errors import classify
from batch_health.domain.status_reasons import ReasonClass
from batch_health.limits import DYNAMODB_BATCH_GET_MAX_KEYS
from batch_health.models import iso
from batch_health.notify.incidents import FAIL, OK, STATE_TTL, StateUnavailable
from batch_health.notify.job_families import SEEN_TTL, FamilyRecords
from batch_health.notify.job_groups import (
    JobGroup,
    JobIncident,
    count_chunks,
    families_touched,
    family_item_key,
    incident_from_item,
    index_key,
    parse_incident_key,
    state_update,
)

logger = logging.getLogger(__name__)

MAX_CONFLICT_RETRIES = 5  # TransactionConflict, throttling: back off and write again
MAX_WRITE_ATTEMPTS = 3
# How long a transition's message is claimed by the invocation sending it: longer than the
# events function's 60 s timeout (it cannot still be sending), shorter than the events
# queue's 360 s visibility timeout (a redelivered batch finds the claim run out).
SEND_CLAIM = timedelta(seconds=90)
RETRIED_TRANSACTION_ERRORS = frozenset(
    {"TransactionCanceledException", "TransactionInProgressException"}
)


class JobIncidentStore(FamilyRecords):
    """The incident table, for incidents from events (see the module's docstring)."""

    def __init__(
        self, client: Any, table_name: str, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self._client = client
        self.table_name = table_name
        self._sleep = sleep

    # ---- counting -------------------------------------------------------------------

    def count(self, group: JobGroup, now: datetime) -> int:
        """Count the group's events not counted before; returns how many jobs were new."""
        keys = list(dict.fromkeys([*group.event_keys, *group.children]))
        return sum(self._count_chunk(group, chunk, now) for chunk in count_chunks(group, keys))

    def _count_chunk(self, group: JobGroup, keys: list[str], now: datetime) -> int:
        conflicts = 0
        while keys:
            try:
                self._client.transact_write_items(TransactItems=self._count_items(group, keys, now))
                return sum(1 for k in keys if k not in group.children)
            except ClientError as exc:
                error = error_code(exc)
                reasons = exc.response.get("CancellationReasons") or []
                repeats = {
                    keys[i]
                    for i, r in enumerate(reasons[: len(keys)])
                    if r.get("Code") == "ConditionalCheckFailed"
                }
                if error == "TransactionCanceledException" and repeats:
                    keys = [k for k in keys if k not in repeats]
                    continue
                conflicts += 1
                # A conflict with another writer (or a throttled item) passes; anything else
                # (no table, no permission) would fail the same way again.
                if error not in RETRIED_TRANSACTION_ERRORS or conflicts > MAX_CONFLICT_RETRIES:
                    raise StateUnavailable(f"count {group.pk}: {classify(exc).summary}") from exc
                self._sleep(backoff_s(conflicts))
            except BotoCoreError as exc:
                raise StateUnavailable(f"count {group.pk}: {classify(exc).summary}") from exc
        return 0

    def _count_items(self, group: JobGroup, keys: list[str], now: datetime) -> list[dict[str, Any]]:
        seen_until = {"N": str(int((now + SEEN_TTL).timestamp()))}
        marks = [
            {
                "Put": {
                    "TableName": self.table_name,
                    "Item": {"pk": {"S": f"event#{key}"}, "expires_at": seen_until},
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
            for key in keys
        ]
        jobs = sum(1 for k in keys if k not in group.children)
        update = {
            "Update": {
                "TableName": self.table_name,
                "Key": {"pk": {"S": group.pk}},
                "UpdateExpression": (
                    "ADD jobs :n, version :one "
                    "SET #state = if_not_exists(#state, :ok), expires_at = :expires"
                ),
                "ExpressionAttributeNames": {"#state": "state"},
                "ExpressionAttributeValues": {
                    ":n": {"N": str(jobs)},
                    ":one": {"N": "1"},
                    ":ok": {"S": OK},
                    ":expires": {"N": str(int((now + STATE_TTL).timestamp()))},
                },
            }
        }
        families = [
            self._family_update(group, fk, kinds, now)
            for fk, kinds in families_touched(group, keys).items()
        ]
        return [*marks, update, *families]

    def _family_update(
        self, group: JobGroup, family_key: str, kinds: Mapping[ReasonClass, int], now: datetime
    ) -> dict[str, Any]:
        note = group.families[family_key]
        names = {"#kind": "kind", "#failed": "failed"}
        values: dict[str, Any] = {
            ":kind": {"S": note.kind.value},
            ":failed": {"N": str(sum(kinds.values()))},
            ":expires": {"N": str(int((now + SEEN_TTL).timestamp()))},
        }
        adds = ["#failed :failed"]
        for i, (kind, n) in enumerate(sorted(kinds.items())):
            names[f"#c{i}"], values[f":c{i}"] = f"c_{kind.name}", {"N": str(n)}
            adds.append(f"#c{i} :c{i}")
        sets = ["#kind = :kind", "expires_at = :expires"]
        return {
            "Update": {
                "TableName": self.table_name,
                "Key": {"pk": {"S": family_item_key(family_key)}},
                "UpdateExpression": f"SET {', '.join(sets)} ADD {', '.join(adds)}",
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": values,
            }
        }

    def note_newest(self, group: JobGroup) -> None:
        """Keep the newest job as the incident's example (an older one changes nothing)."""
        at = group.example.at
        if at is None:
            return
        values = {
            ":at": {"N": str(int(at.timestamp() * 1000))},
            ":example": {"S": group.example.to_json()},
            ":one": {"N": "1"},
        }
        # The condition fails when a newer failure is already noted: nothing to do then.
        conditional_write(
            lambda: self._client.update_item(
                TableName=self.table_name,
                Key={"pk": {"S": group.pk}},
                UpdateExpression="SET newest_at = :at, example = :example ADD version :one",
                ConditionExpression="attribute_not_exists(newest_at) OR newest_at < :at",
                ExpressionAttributeValues=values,
            ),
            group.pk,
            StateUnavailable,
            self._sleep,
        )

    # ---- reading ------------------------------------------------------------------------

    def load(self, pk: str) -> JobIncident:
        item = get_item(self._client, self.table_name, pk, StateUnavailable)
        return incident_from_item(pk, item or {})

    def open_keys(self, targets: Sequence[str]) -> dict[str, list[str]]:
        """Each target's open incidents (keys), from the targets' index items."""
        names = list(dict.fromkeys(targets))
        items: list[dict[str, Any]] = []
        for i in range(0, len(names), DYNAMODB_BATCH_GET_MAX_KEYS):
            pks = [index_key(t) for t in names[i : i + DYNAMODB_BATCH_GET_MAX_KEYS]]
            items += batch_get_items(
                self._client, self.table_name, pks, StateUnavailable, self._sleep
            )
        found: dict[str, list[str]] = {}
        for item in items:
            target = item["pk"]["S"].removesuffix("#events")
            open_keys = sorted(item.get("open", {}).get("SS", []))
            if open_keys:
                found[target] = open_keys
        return found

    # ---- transitions --------------------------------------------------------------------

    def _write(self, pk: str, expected: int, update: str, values: dict[str, Any]) -> bool:
        """An update conditional on the version read; False when someone wrote since."""
        condition = "version = :expected" if expected else "attribute_not_exists(version)"
        if expected:
            values = {**values, ":expected": {"N": str(expected)}}
        return conditional_write(
            lambda: self._client.update_item(
                TableName=self.table_name,
                Key={"pk": {"S": pk}},
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues=values,
            ),
            pk,
            StateUnavailable,
            self._sleep,
        )

    def _index(self, target: str, pk: str, verb: str) -> None:
        conditional_write(
            lambda: self._client.update_item(
                TableName=self.table_name,
                Key={"pk": {"S": index_key(target)}},
                UpdateExpression=f"{verb} #open :keys",
                ExpressionAttributeNames={"#open": "open"},
                ExpressionAttributeValues={":keys": {"SS": [pk]}},
            ),
            index_key(target),
            StateUnavailable,
            self._sleep,
        )

    def open_or_remind(
        self, group: JobGroup, now: datetime, remind_after: timedelta | None
    ) -> tuple[str | None, JobIncident, JobIncident]:
        """("FAIL" | "REMINDER" | None, the incident before, after) for a group just counted.
        A transition claims its message until `now + SEND_CLAIM` (`sent` ends the claim);
        a claim that ran out unsent makes the message due again, once."""
        for _ in range(MAX_WRITE_ATTEMPTS):
            before = self.load(group.pk)
            event, after = _transition(before, group, now, remind_after)
            if event is None:
                return None, before, before
            if self._write(group.pk, before.version, *state_update(after)):
                if not before.open:
                    self._index(group.target, group.pk, "ADD")
                return event, before, after
        logger.warning(
            "%s: lost %d conditional writes; another run owns it", group.pk, MAX_WRITE_ATTEMPTS
        )
        return None, before, before

    def sent(self, incident: JobIncident) -> None:
        """The transition's message went out: its claim ends (the claim it wrote, only)."""
        claim = incident.sending_until
        if claim is None:
            return
        conditional_write(
            lambda: self._client.update_item(
                TableName=self.table_name,
                Key={"pk": {"S": incident.pk}},
                UpdateExpression="REMOVE sending_until",
                ConditionExpression="sending_until = :mine",
                ExpressionAttributeValues={":mine": {"S": iso(claim)}},
            ),
            incident.pk,
            StateUnavailable,
            self._sleep,
        )

    def revert(self, before: JobIncident, after: JobIncident) -> None:
        """Undo a transition whose message was not sent, so a retry sends it."""
        restored = replace(before, version=after.version + 1)
        if not self._write(before.pk, after.version, *state_update(restored)):
            logger.info("%s changed before its unsent transition could be undone", before.pk)

    def resolve(self, pk: str, succeeded_at: datetime, quiet: timedelta) -> JobIncident | None:
        """End the incident if its newest failure is at least `quiet` before `succeeded_at`;
        returns it as it was (with its count), or None when it stays (or was not open)."""
        parsed = parse_incident_key(pk)
        for _ in range(MAX_WRITE_ATTEMPTS):
            before = self.load(pk)
            if not before.open:
                if parsed:
                    self._index(parsed[0], pk, "DELETE")
                return None
            if before.newest_at is not None and succeeded_at - before.newest_at < quiet:
                return None
            after = JobIncident(pk, version=before.version + 1, newest_at=before.newest_at)
            if self._write(pk, before.version, *state_update(after, reset_jobs=True)):
                if parsed:
                    self._index(parsed[0], pk, "DELETE")
                return before
        return None


def _transition(
    before: JobIncident, group: JobGroup, now: datetime, remind_after: timedelta | None
) -> tuple[str | None, JobIncident]:
    """What the incident becomes for a group just counted: opened (FAIL), reminded, its
    unsent message due again, or nothing (None)."""
    claim = now + SEND_CLAIM
    if not before.open:
        opened = replace(
            before,
            state=FAIL,
            since=group.first_at,
            notified_at=now,
            reminders=0,
            version=before.version + 1,
            sending_until=claim,
        )
        return FAIL, opened
    if before.sending_until is not None:
        if now < before.sending_until:
            return None, before  # another invocation is sending it
        again = replace(before, notified_at=now, version=before.version + 1, sending_until=claim)
        return (FAIL if before.reminders == 0 else "REMINDER"), again
    due = (
        remind_after is not None
        and before.notified_at is not None
        and now - before.notified_at >= remind_after
    )
    if not due:
        return None, before
    reminded = replace(
        before,
        notified_at=now,
        reminders=before.reminders + 1,
        version=before.version + 1,
        sending_until=claim,
    )
    return "REMINDER", reminded
