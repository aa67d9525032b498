"""DynamoDB calls the state stores share (incidents, job incidents, failing checks): a
strongly consistent GetItem by `pk`, BatchGetItem repeated until DynamoDB has answered every
key, and a conditional write that tells "someone wrote first" from a failure. A failure
raises the caller's own error (`fail(summary)`).

A write to an item that another request's TransactWriteItems holds is refused with
`TransactionConflictException` ("the non-transactional request is rejected",
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html#transaction-conflict-handling),
which botocore does not retry: every write here retries it, with capped exponential backoff
and full jitter (so two functions in conflict do not retry in step:
https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from batch_health.aws.errors import AWS_ERRORS, classify

# A write's ConditionExpression did not hold.
CONDITION_FAILED = "ConditionalCheckFailedException"

# BatchGetItem may answer part of a request ("UnprocessedKeys"), under throttling or when
# the answer would exceed 16 MB: asked again, with backoff, this many times.
MAX_UNPROCESSED_RETRIES = 5
# Another transaction holds the item: worth writing again shortly, this many times.
TRANSIENT_WRITE_ERRORS = frozenset({"TransactionConflictException"})
MAX_TRANSIENT_RETRIES = 5
BACKOFF_BASE_S = 0.05
BACKOFF_CAP_S = 1.0

Fail = Callable[[str], Exception]
Sleep = Callable[[float], None]


def backoff_s(attempt: int) -> float:
    """How long to wait before retry `attempt` (1, 2, ...): full jitter, capped."""
    return random.uniform(0.0, min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2**attempt))


def get_item(client: Any, table: str, pk: str, fail: Fail) -> dict[str, Any] | None:
    """The item with this `pk`, None when there is none."""
    try:
        item = client.get_item(TableName=table, Key={"pk": {"S": pk}}, ConsistentRead=True)
    except AWS_ERRORS as exc:
        raise fail(f"read {pk}: {classify(exc).summary}") from exc
    return item.get("Item")


def batch_get_items(
    client: Any,
    table: str,
    pks: Sequence[str],
    fail: Fail,
    sleep: Callable[[float], None],
) -> list[dict[str, Any]]:
    """The items with these `pk`s (at most BatchGetItem's 100), those that exist."""
    items: list[dict[str, Any]] = []
    keys = [{"pk": {"S": pk}} for pk in pks]
    request: dict[str, Any] = {table: {"Keys": keys, "ConsistentRead": True}}
    for attempt in range(MAX_UNPROCESSED_RETRIES + 1):
        if attempt:
            sleep(backoff_s(attempt))
        try:
            response = client.batch_get_item(RequestItems=request)
        except AWS_ERRORS as exc:
            raise fail(f"read {table} ({len(pks)} keys): {classify(exc).summary}") from exc
        items += response.get("Responses", {}).get(table, [])
        request = response.get("UnprocessedKeys") or {}
        if not request:
            return items
    raise fail(f"read {table} ({len(pks)} keys): keys left unprocessed after retries")


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def conditional_write(
    write: Callable[[], object], what: str, fail: Fail, sleep: Sleep = time.sleep
) -> bool:
    """Run `write`, a write with a ConditionExpression (or none): False when the condition
    did not hold (another writer got there first), True once written; a transaction
    conflict is retried, and any other failure raises the caller's error."""
    for attempt in range(MAX_TRANSIENT_RETRIES + 1):
        try:
            write()
        except ClientError as exc:
            code = error_code(exc)
            if code == CONDITION_FAILED:
                return False
            if code in TRANSIENT_WRITE_ERRORS and attempt < MAX_TRANSIENT_RETRIES:
                sleep(backoff_s(attempt + 1))
                continue
            raise fail(f"write {what}: {classify(exc).summary}") from exc
        except BotoCoreError as exc:
            raise fail(f"write {what}: {classify(exc).summary}") from exc
        return True
    raise AssertionError("unreachable: the last attempt returns or raises")
