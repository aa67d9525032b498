"""moto's DynamoDB, made to keep DynamoDB's own guarantees at storm scale.

- Atomic requests: DynamoDB applies each request atomically; moto does not guard a table
  against two threads. One lock around each DynamoDB call gives moto that guarantee and no
  more: two functions' requests still interleave freely between calls.
- Item-level rollback: for a transaction's rollback moto deep-copies every table it touches,
  once per item in the transaction, so a table of 10,000 items makes each transaction copy
  it 100 times. A rollback needs only the items the transaction touches: those are kept
  and put back; the result of every transaction is the same as moto's.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

import moto.dynamodb.models as models
from botocore.client import BaseClient
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table

MISSING = object()


@contextmanager
def atomic_requests() -> Iterator[None]:
    original = BaseClient._make_api_call
    lock = threading.Lock()

    def atomic(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        if client.meta.service_model.service_name != "dynamodb":
            return original(client, operation, params)
        with lock:
            return original(client, operation, params)

    BaseClient._make_api_call = atomic  # type: ignore[method-assign]
    try:
        yield
    finally:
        BaseClient._make_api_call = original  # type: ignore[method-assign]


def _touched(backend: Any, transact_items: list[dict[str, Any]]) -> list[tuple[Table, Any, Any]]:
    """(table, hash key, the item before) for each item of a hash-key-only table."""
    out = []
    for entry in transact_items:
        ((_, op),) = entry.items()
        table = backend.tables.get(op.get("TableName"))
        if table is None or table.range_key_attr is not None:
            continue
        key = (op.get("Item") or op.get("Key") or {}).get(table.hash_key_attr)
        if key is None:
            continue
        h = DynamoType(key)
        before = copy.deepcopy(table.items[h]) if h in table.items else MISSING
        out.append((table, h, before))
    return out


@contextmanager
def item_level_rollback() -> Iterator[None]:
    backend_class = models.DynamoDBBackend
    original = backend_class.transact_write_items
    real_copy = models.copy

    def no_table_copy(value: Any) -> Any:
        return value if isinstance(value, Table) else real_copy.deepcopy(value)

    def transact(self: Any, transact_items: list[dict[str, Any]]) -> None:
        touched = _touched(self, transact_items)
        models.copy = SimpleNamespace(deepcopy=no_table_copy, copy=real_copy.copy)  # type: ignore[assignment]
        try:
            original(self, transact_items)
        except Exception:
            for table, h, before in reversed(touched):
                if before is MISSING:
                    table.items.pop(h, None)
                else:
                    table.items[h] = before
            raise
        finally:
            models.copy = real_copy

    backend_class.transact_write_items = transact  # type: ignore[method-assign]
    try:
        yield
    finally:
        backend_class.transact_write_items = original  # type: ignore[method-assign]
