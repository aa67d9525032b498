"""A request that waits, holds no work slot: botocore's retry backoff after a throttled
answer (standard mode waits up to 20 s) and the smoke check's wait between polls leave the
slot to other checks. Throttling is answered in DynamoDB's wire protocol before the request
is sent (support.faults), with DynamoDB's own code, ProvisionedThroughputExceededException,
which botocore's standard mode retries as throttling and the classifier names so too."""

from __future__ import annotations

import threading
from typing import Any

from botocore.exceptions import ClientError
from support.faults import error_response, first_attempt

from batch_health.aws import concurrency, sessions
from batch_health.aws.errors import ErrorKind, classify
from batch_health.aws.sessions import AwsSessions

THROTTLED = "ProvisionedThroughputExceededException"


def test_the_retry_backoff_gives_the_work_slot_up(aws, monkeypatch):
    client = AwsSessions("us-east-1").client("dynamodb")
    client.create_table(
        TableName="t",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )

    def throttle_first(request: Any, **_: Any) -> Any:
        if first_attempt(request):
            return error_response(client.meta.service_model, request, THROTTLED)
        return None

    client.meta.events.register_first("before-send.dynamodb.GetItem", throttle_first)
    slept: list[tuple[float, bool]] = []
    real_sleep = sessions.time.sleep

    def sleep(seconds: float) -> None:
        slept.append((seconds, concurrency._work_slots.get() is None))
        real_sleep(0)

    monkeypatch.setattr(sessions.time, "sleep", sleep)
    slots = threading.Semaphore(1)
    with slots, concurrency.in_work_slot(slots):
        client.get_item(TableName="t", Key={"pk": {"S": "a"}})
        assert concurrency._work_slots.get() is slots  # taken back once answered
    backoffs = [s for s in slept if s[0] > 0]
    assert backoffs and all(free for _, free in backoffs)


def test_dynamodbs_throttling_code_is_named_throttling():
    error = ClientError({"Error": {"Code": THROTTLED, "Message": "Rate exceeded"}}, "GetItem")
    assert classify(error).kind is ErrorKind.THROTTLED
