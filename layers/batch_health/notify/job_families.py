"""The families' items in the incident table (an array or multi-node job: its class,
claimed once, its size and statusSummary, its children's reasons; see
batch_health.notify.job_incidents), for JobIncidentStore."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from batch_health.aws.dynamodb import batch_get_items, conditional_write, get_item
from batch_health.domain.status_reasons import ReasonClass
from batch_health.limits import DYNAMODB_BATCH_GET_MAX_KEYS
from batch_health.notify.incidents import StateUnavailable
from batch_health.notify.job_groups import (
    FamilyTally,
    JobGroup,
    claimed_class,
    family_item_key,
    tally_from_item,
)

SEEN_TTL = timedelta(days=2)  # longer than the event queue keeps a message (1 day)


class FamilyRecords:
    """Reads and writes of the families' items (the table and client are the store's)."""

    _client: Any
    table_name: str
    _sleep: Callable[[float], None]

    # ---- families -----------------------------------------------------------------------
    def note_families(self, group: JobGroup) -> None:
        """The families' sizes and statusSummary: facts a repeat says again, so written
        outside the count (even when every event was counted before)."""
        for family_key, note in group.families.items():
            names, values, sets = {"#kind": "kind"}, {":kind": {"S": note.kind.value}}, []
            for name, value in (("size", note.size), ("summary_failed", note.failed_children)):
                if value is not None:
                    names[f"#{name}"], values[f":{name}"] = name, {"N": str(value)}
                    sets.append(f"#{name} = :{name}")
            if not sets:
                continue  # nothing to note
            update = "SET #kind = :kind, " + ", ".join(sets)
            conditional_write(
                partial(
                    self._client.update_item,
                    TableName=self.table_name,
                    Key={"pk": {"S": family_item_key(family_key)}},
                    UpdateExpression=update,
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues=values,
                ),
                family_key,
                StateUnavailable,
                self._sleep,
            )

    def claim_families(
        self, proposals: Mapping[str, ReasonClass], now: datetime
    ) -> dict[str, ReasonClass]:
        """Each family's class: the one claimed before, else this proposal, claimed now (of
        two functions proposing at once, the first write wins and the other reads it)."""
        found: dict[str, ReasonClass] = {}
        pks = [family_item_key(fk) for fk in proposals]
        for i in range(0, len(pks), DYNAMODB_BATCH_GET_MAX_KEYS):
            chunk = pks[i : i + DYNAMODB_BATCH_GET_MAX_KEYS]
            for item in batch_get_items(
                self._client, self.table_name, chunk, StateUnavailable, self._sleep
            ):
                kind = claimed_class(item)
                if kind is not None:
                    found[item["pk"]["S"].removeprefix("family#")] = kind
        expires = {"N": str(int((now + SEEN_TTL).timestamp()))}
        for fk, proposed in proposals.items():
            if fk in found:
                continue
            pk = family_item_key(fk)
            won = self._claim(pk, proposed, expires)
            winner = proposed if won else claimed_class(self._item(pk))
            if winner is None:
                raise StateUnavailable(f"read {pk}: no class after a lost claim")
            found[fk] = winner
        return found

    def _claim(self, pk: str, proposed: ReasonClass, expires: dict[str, str]) -> bool:
        return conditional_write(
            lambda: self._client.update_item(
                TableName=self.table_name,
                Key={"pk": {"S": pk}},
                UpdateExpression="SET #class = :class, expires_at = :expires",
                ConditionExpression="attribute_not_exists(#class)",
                ExpressionAttributeNames={"#class": "class"},
                ExpressionAttributeValues={":class": {"S": proposed.name}, ":expires": expires},
            ),
            pk,
            StateUnavailable,
            self._sleep,
        )

    def load_family(self, family_key: str) -> FamilyTally | None:
        return tally_from_item(self._item(family_item_key(family_key)))

    def _item(self, pk: str) -> dict[str, Any]:
        return get_item(self._client, self.table_name, pk, StateUnavailable) or {}
