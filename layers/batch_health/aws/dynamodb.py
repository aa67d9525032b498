"""DynamoDB calls the state stores share (incidents, job incidents, failing checks): a
strongly consistent GetItem by `pk`, BatchGetItem repeated until DynamoDB has answered every
key, and a conditional write that tells "someone wrote first" from a failure. A failure
raises the caller's own error (`fail(summary)`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from batch_health.aws.errors import AWS_ERRORS, classify

# A write's ConditionExpression did not hold.
CONDITION_FAILED = "ConditionalCheckFailedException"

# BatchGetItem may answer part of a request ("UnprocessedKeys"), under throttling or when
# the answer would exceed 16 MB: asked again, with backoff, this many times.
MAX_UNPROCESSED_RETRIES = 5

Fail = Callable[[str], Exception]


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
            sleep(min(1.0, 0.05 * 2**attempt))
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


def conditional_write(write: Callable[[], object], what: str, fail: Fail) -> bool:
    """Run `write`, a write with a ConditionExpression: False when the condition did not
    hold (another writer got there first), the caller's error for any other failure."""
    try:
        write()
    except ClientError as exc:
        if error_code(exc) == CONDITION_FAILED:
            return False
        raise fail(f"write {what}: {classify(exc).summary}") from exc
    except BotoCoreError as exc:
        raise fail(f"write {what}: {classify(exc).summary}") from exc
    return True
