"""A FAIL from Batch's events is sent exactly once, whatever happens between counting and
publishing: a function stopped after committing the incident, a write refused because
another batch's transaction holds the item, a confirmation that cannot be waited for.

Events are AWS's documented FAILED job event (support.batch_events); the table and topic
are moto's. DynamoDB refuses a plain write to an item an ongoing TransactWriteItems holds
with TransactionConflictException
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html#transaction-conflict-handling);
moto never does, so the refusal is injected on the client, before the request is sent.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from botocore.exceptions import ClientError, ReadTimeoutError
from support.batch_events import (
    EPOCH_MS,
    LOG_GROUP_MISSING,
    Resources,
    context,
    events_function_env,
    failed,
    sqs_batch,
)
from support.moto_dynamodb import atomic_requests, item_level_rollback
from support.sns import document_of

from batch_health.aws.sessions import AwsSessions
from batch_health.demo import LOG_GROUP, QUEUE, REGION
from batch_health.notify.job_incidents import SEND_CLAIM
from batch_health.runtime import batch_events, monitor
from batch_health.runtime.batch_events import handle
from batch_health.runtime.confirmation import monitor_confirmer
from batch_health.runtime.monitor import Runtime
from batch_health.runtime.settings import BatchEventSettings

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

T0 = datetime.fromtimestamp(EPOCH_MS / 1000, UTC) + timedelta(minutes=1)
PK = "academy-video#JOB_FAILURES_CHECK#LOG_GROUP_MISSING"


class Stopped(BaseException):
    """Lambda ends the invocation (its timeout, the runtime killed): nothing after runs."""


def fail(n: int) -> dict[str, Any]:
    return failed(n, queue=QUEUE, region=REGION, reason=LOG_GROUP_MISSING, log_group=LOG_GROUP)


@pytest.fixture
def fn(seed_world) -> Iterator[SimpleNamespace]:
    monitor.reset_runtime()
    res = Resources(REGION)
    env = {
        **events_function_env(res.topic_arn, res.table),
        "POWERTOOLS_METRICS_NAMESPACE": "BatchHealth",
    }
    settings = BatchEventSettings.from_env(env)

    def run(events: list[dict[str, Any]], rt: Runtime, prefix: str = "m", **kw: Any):
        return handle(sqs_batch(events, prefix), context(REGION), settings, rt=rt, **kw)

    yield SimpleNamespace(run=run, res=res, env=env)
    monitor.reset_runtime()


def test_stopped_between_commit_and_publish_the_fail_goes_out_on_redelivery_once(fn, monkeypatch):
    rt = Runtime(sessions=AwsSessions(REGION))
    real = batch_events.publish_notification

    def stop(*args: Any, **kwargs: Any) -> bool:
        raise Stopped

    monkeypatch.setattr(batch_events, "publish_notification", stop)
    with pytest.raises(Stopped):
        fn.run([fail(1)], rt, now=T0)
    assert fn.res.item(PK)["state"]["S"] == "FAIL"  # committed, never sent
    monkeypatch.setattr(batch_events, "publish_notification", real)
    # SQS hands the batch over again after its visibility timeout (360 s).
    redelivered = T0 + timedelta(seconds=360)
    assert redelivered > T0 + SEND_CLAIM
    assert fn.run([fail(1)], rt, now=redelivered) == {"batchItemFailures": []}
    [envelope] = fn.res.messages()
    assert document_of(envelope)["event"] == "FAIL"
    # ... and once: a later delivery, or more jobs of the class, are counted, not sent.
    fn.run([fail(1), fail(2)], rt, prefix="r", now=redelivered + timedelta(minutes=5))
    assert fn.res.messages() == []
    assert fn.res.item(PK)["jobs"]["N"] == "2"


def test_a_write_refused_by_another_batchs_transaction_is_retried_not_returned(fn):
    """Two batches at once on one incident; DynamoDB refuses one plain UpdateItem of the
    incident's item with TransactionConflictException."""
    runtimes = [Runtime(sessions=AwsSessions(REGION)) for _ in range(2)]
    refused: list[str] = []

    def conflict_once(params: dict[str, Any], **_: Any) -> None:
        if not refused and params.get("Key", {}).get("pk", {}).get("S") == PK:
            refused.append(PK)
            error = {"Code": "TransactionConflictException", "Message": "Transaction is ongoing"}
            raise ClientError({"Error": error}, "UpdateItem")

    runtimes[0].sessions.client("dynamodb").meta.events.register_first(
        "provide-client-params.dynamodb.UpdateItem", conflict_once
    )
    batches = [[fail(n) for n in range(1, 60)], [fail(n) for n in range(60, 120)]]
    with atomic_requests(), item_level_rollback(), ThreadPoolExecutor(max_workers=2) as pool:
        answers = list(
            pool.map(lambda i: fn.run(batches[i], runtimes[i], prefix=f"b{i}", now=T0), (0, 1))
        )
    assert refused == [PK]
    assert answers == [{"batchItemFailures": []}, {"batchItemFailures": []}]
    [envelope] = fn.res.messages()
    assert document_of(envelope)["event"] == "FAIL"
    assert fn.res.item(PK)["jobs"]["N"] == "119"


def test_the_confirmation_is_one_invoke_without_sdk_retries(fn):
    rt = Runtime(sessions=AwsSessions(REGION))
    client = rt.sessions.client("lambda", single_attempt=True)
    attempts: list[int] = []

    def read_timeout(**_: Any) -> None:
        attempts.append(1)
        raise ReadTimeoutError(endpoint_url="https://lambda.ap-northeast-2.amazonaws.com")

    client.meta.events.register_first("before-send.lambda.Invoke", read_timeout)
    confirm = monitor_confirmer(rt.sessions, "batch-health-monitor", lambda: 59.0)
    fn.run([fail(1)], rt, confirm=confirm, now=T0)
    assert attempts == [1]  # a retried Invoke would run the monitor again
    [envelope] = fn.res.messages()
    assert document_of(envelope)["confirmation"].startswith("LOG_GROUP_CHECK could not be run:")


def test_with_too_little_time_left_the_message_says_the_check_was_not_run(fn):
    rt = Runtime(sessions=AwsSessions(REGION))
    invoked: list[int] = []
    rt.sessions.client("lambda", single_attempt=True).meta.events.register_first(
        "before-send.lambda.Invoke", lambda **_: invoked.append(1)
    )
    confirm = monitor_confirmer(rt.sessions, "batch-health-monitor", lambda: 12.0)
    fn.run([fail(1)], rt, confirm=confirm, now=T0)
    assert invoked == []
    [envelope] = fn.res.messages()
    assert document_of(envelope)["confirmation"] == (
        "LOG_GROUP_CHECK not run now: 12 s of this function's time left, too little to wait "
        "for it (the scheduled run checks it)"
    )


def test_a_throttled_confirmation_says_the_monitor_is_busy(fn):
    rt = Runtime(sessions=AwsSessions(REGION))

    def throttled(**_: Any) -> None:
        error = {"Code": "TooManyRequestsException", "Message": "Rate Exceeded."}
        raise ClientError({"Error": error}, "Invoke")

    rt.sessions.client("lambda", single_attempt=True).meta.events.register_first(
        "before-call.lambda.Invoke", throttled
    )
    confirm = monitor_confirmer(rt.sessions, "batch-health-monitor", lambda: 59.0)
    fn.run([fail(1)], rt, confirm=confirm, now=T0)
    [envelope] = fn.res.messages()
    confirmation = document_of(envelope)["confirmation"]
    assert "TooManyRequestsException" in confirmation
    assert "the monitor function is busy" in confirmation
