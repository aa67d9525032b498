"""A storm: 10,000 failed jobs in one minute give one message per reason class, with exact
counts, however the batches interleave and however often SQS delivers them again."""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from support.batch_events import EPOCH_MS, Resources, blocked, context, failed, sqs_batch
from support.moto_dynamodb import atomic_requests, item_level_rollback
from support.sns import document_of

from batch_health.aws.sessions import AwsSessions
from batch_health.domain.status_reasons import classify_reason
from batch_health.runtime.batch_events import handle
from batch_health.runtime.monitor import Runtime
from batch_health.runtime.settings import BatchEventSettings

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

REGION, QUEUE = "us-east-1", "transcode-queue"
BATCH_SIZE, CONCURRENCY = 500, 2  # the template's event source: BatchSize, MaximumConcurrency
# (jobs, reason): the class is the classifier's (tests/unit/domain/test_reason_corpus.py)
REASONS = {
    "LOG_GROUP_MISSING": (
        4000,
        "ResourceInitializationError: failed to validate logger args: create stream has been "
        "retried 1 times: failed to create Cloudwatch log stream: ResourceNotFoundException: "
        "The specified log group does not exist. : exit status 1",
    ),
    "OUT_OF_MEMORY": (3000, "OutOfMemoryError: Container killed due to memory usage"),
    "DOCKER_HUB_RATE_LIMIT": (
        2000,
        "CannotPullContainerError: inspect image has been retried 1 time(s): httpReaderSeeker: "
        "failed open: unexpected status code https://registry-1.docker.io/v2/library/ffmpeg/"
        "manifests/sha256:1a2b: 429 Too Many Requests - Server message: toomanyrequests: You "
        "have reached your pull rate limit.",
    ),
}
BLOCKED = 1000
BLOCKED_REASON = (
    "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE - CE(s) associated with the job queue "
    "cannot meet the CPU requirement of the job."
)


@pytest.fixture
def dynamodb_as_aws() -> Iterator[None]:
    """Atomic requests and a rollback that copies only what it must (support/moto_dynamodb)."""
    with atomic_requests(), item_level_rollback():
        yield


def storm() -> list[dict[str, Any]]:
    events, n = [], 0
    for count, reason in REASONS.values():
        for _ in range(count):
            n += 1
            at = EPOCH_MS + (n * 6) % 60_000  # all within one minute
            events.append(failed(n, queue=QUEUE, region=REGION, reason=reason, at_ms=at))
    events += [
        blocked(i, queue=QUEUE, region=REGION, reason=BLOCKED_REASON) for i in range(BLOCKED)
    ]
    random.Random(7).shuffle(events)
    return events


def test_ten_thousand_failures_in_a_minute_give_one_message_per_class(aws, dynamodb_as_aws, capsys):
    res = Resources(REGION)
    settings = BatchEventSettings.from_env(
        {
            "AWS_REGION": REGION,
            "JOB_QUEUE": QUEUE,
            "JOB_DEFINITION": "academy-video-batch-jobdef",
            "TARGET_NAME": "transcode",
            "ALERT_TOPIC_ARN": res.topic_arn,
            "INCIDENT_TABLE_NAME": res.table,
        }
    )
    events = storm()
    assert len(events) == 10_000
    # SQS redelivers some (at-least-once): 1,000 of them arrive a second time.
    again = random.Random(11).sample(events, 1000)
    batches = [events[i : i + BATCH_SIZE] for i in range(0, len(events), BATCH_SIZE)]
    batches += [again[i : i + BATCH_SIZE] for i in range(0, len(again), BATCH_SIZE)]
    runtimes = [Runtime(sessions=AwsSessions(REGION)) for _ in range(CONCURRENCY)]

    def invoke(i: int) -> dict[str, Any]:
        batch = sqs_batch(batches[i], prefix=f"b{i}")
        return handle(batch, context(REGION), settings, rt=runtimes[i % CONCURRENCY])

    with ThreadPoolExecutor(max_workers=CONCURRENCY) as pool:
        answers = list(pool.map(invoke, range(len(batches))))

    assert all(a == {"batchItemFailures": []} for a in answers)
    messages = res.messages()
    docs = sorted((document_of(m) for m in messages), key=lambda d: d["reason_class"])
    assert len(messages) == 4  # one per (target, reason class), not 10,000
    assert {d["event"] for d in docs} == {"FAIL"}
    expected = {name: count for name, (count, _) in REASONS.items()}
    expected[classify_reason(BLOCKED_REASON).kind.name] = BLOCKED
    for name, count in expected.items():
        assert name in REASONS or name == "CE_MAX_RESOURCE"
        check = "JOB_FAILURES_CHECK" if name in REASONS else "RUNNABLE_BACKLOG_CHECK"
        item = res.item(f"transcode#{check}#{name}")
        assert item["jobs"] == {"N": str(count)}, name  # exact: no loss, no double count
    # The messages carry the count so far (the first batches' share).
    assert all(1 <= d["jobs"] <= BATCH_SIZE * CONCURRENCY for d in docs)

    emf = [json.loads(x) for x in capsys.readouterr().out.splitlines() if '"_aws"' in x]
    totals: Counter[str] = Counter()
    for line in emf:
        for metric in ("JobFailures", "JobsBlocked"):
            if metric in line:
                totals[line["ReasonClass"]] += int(sum(line[metric]))
    assert totals == expected
