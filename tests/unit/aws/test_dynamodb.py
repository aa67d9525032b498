"""The state stores' shared DynamoDB reads: answers as DynamoDB gives them (botocore's
Stubber), failures raised as the caller's own error, naming what was read."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from batch_health.aws.dynamodb import (
    MAX_UNPROCESSED_RETRIES,
    batch_get_items,
    conditional_write,
    get_item,
)

TABLE = "batch-health-incidents"


class StoreDown(Exception):
    """A store's own error."""


@pytest.fixture
def ddb():
    client = boto3.client(
        "dynamodb", region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b"
    )
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


def keys(*pks: str) -> dict:
    return {TABLE: {"Keys": [{"pk": {"S": pk}} for pk in pks], "ConsistentRead": True}}


def test_get_item_reads_consistently_and_answers_none_for_no_item(ddb):
    client, stub = ddb
    expected = {"TableName": TABLE, "Key": {"pk": {"S": "t#A"}}, "ConsistentRead": True}
    stub.add_response("get_item", {"Item": {"pk": {"S": "t#A"}}}, expected)
    stub.add_response("get_item", {}, expected)
    assert get_item(client, TABLE, "t#A", StoreDown) == {"pk": {"S": "t#A"}}
    assert get_item(client, TABLE, "t#A", StoreDown) is None


def test_get_item_denied_is_the_callers_error_naming_the_key(ddb):
    client, stub = ddb
    stub.add_client_error("get_item", "AccessDeniedException", "not authorized", 400)
    with pytest.raises(StoreDown, match=r"read t#A: .*AccessDenied"):
        get_item(client, TABLE, "t#A", StoreDown)


def test_unprocessed_keys_are_asked_again_until_answered(ddb):
    client, stub = ddb
    sleeps: list[float] = []
    item = {"pk": {"S": "a"}}
    stub.add_response(
        "batch_get_item",
        {"Responses": {TABLE: [item]}, "UnprocessedKeys": keys("b")},
        {"RequestItems": keys("a", "b")},
    )
    stub.add_response(
        "batch_get_item", {"Responses": {TABLE: [{"pk": {"S": "b"}}]}}, {"RequestItems": keys("b")}
    )
    found = batch_get_items(client, TABLE, ["a", "b"], StoreDown, sleeps.append)
    assert found == [item, {"pk": {"S": "b"}}]
    # Backed off once, before asking again: a jittered wait of at most 0.05 s x 2.
    assert len(sleeps) == 1 and 0 <= sleeps[0] <= 0.1


def test_keys_left_unprocessed_fail_naming_the_table(ddb):
    client, stub = ddb
    for _ in range(MAX_UNPROCESSED_RETRIES + 1):
        stub.add_response("batch_get_item", {"Responses": {}, "UnprocessedKeys": keys("a")})
    with pytest.raises(StoreDown, match=rf"read {TABLE} \(1 keys\): keys left unprocessed"):
        batch_get_items(client, TABLE, ["a"], StoreDown, lambda _: None)


def test_a_throttled_batch_read_is_the_callers_error(ddb):
    client, stub = ddb
    stub.add_client_error(
        "batch_get_item", "ProvisionedThroughputExceededException", "slow down", 400
    )
    with pytest.raises(StoreDown, match=rf"read {TABLE} \(1 keys\): .*ThroughputExceeded"):
        batch_get_items(client, TABLE, ["a"], StoreDown, lambda _: None)


def test_a_conditional_write_says_whether_its_condition_held(ddb):
    client, stub = ddb
    stub.add_response("put_item", {})
    stub.add_client_error("put_item", "ConditionalCheckFailedException", "no", 400)

    def write() -> None:
        client.put_item(
            TableName=TABLE,
            Item={"pk": {"S": "t#A"}},
            ConditionExpression="attribute_not_exists(pk)",
        )

    assert conditional_write(write, "t#A", StoreDown) is True
    assert conditional_write(write, "t#A", StoreDown) is False  # someone wrote first


def test_a_failed_conditional_write_is_the_callers_error_naming_the_item(ddb):
    client, stub = ddb
    stub.add_client_error("update_item", "ResourceNotFoundException", "no table", 400)
    with pytest.raises(StoreDown, match=r"write t#A: .*ResourceNotFound"):
        conditional_write(
            lambda: client.update_item(TableName=TABLE, Key={"pk": {"S": "t#A"}}),
            "t#A",
            StoreDown,
        )
