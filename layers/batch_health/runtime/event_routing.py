"""The first steps of the events function: the Batch events an SQS batch holds, and the
target each belongs to (its queue's account, region and name; the job definition decides
between targets sharing a queue)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from batch_health.config import Target
from batch_health.domain.arns import arn_account, resource_name
from batch_health.domain.batch_events import BatchEvent, InvalidBatchEvent, parse_batch_event
from batch_health.runtime.event import InvalidEventError
from batch_health.runtime.observability import logger


@dataclass(frozen=True)
class Received:
    message_id: str
    event: BatchEvent


def read_messages(event: Any) -> tuple[list[Received], list[str]]:
    """The Batch events in an SQS batch, and the ids of messages that are not one."""
    records = event.get("Records") if isinstance(event, dict) else None
    if not isinstance(records, list):
        raise InvalidEventError('invalid event: expected an SQS batch ({"Records": [...]})')
    received: list[Received] = []
    bad: list[str] = []
    for index, record in enumerate(records):
        message_id = record.get("messageId") if isinstance(record, dict) else None
        if not isinstance(message_id, str) or not message_id:
            raise InvalidEventError(f"invalid event: Records[{index}].messageId: missing")
        try:
            received.append(Received(message_id, parse_batch_event(json.loads(record["body"]))))
        except (KeyError, TypeError, json.JSONDecodeError, InvalidBatchEvent) as exc:
            logger.error("unreadable message", extra={"message_id": message_id, "error": str(exc)})
            bad.append(message_id)
    return received, bad


class TargetRouter:
    """Which target an event belongs to: its queue's account, region and name."""

    def __init__(self, targets: Iterable[Target], home_region: str, home_account: str) -> None:
        self._by_queue: dict[tuple[str, str, str], list[Target]] = {}
        for t in targets:
            queue_arn = t.job_queue if t.job_queue.startswith("arn:") else ""
            account = arn_account(queue_arn) or (arn_account(t.role_arn or "") or home_account)
            region = (queue_arn.split(":")[3] if queue_arn else "") or t.region or home_region
            self._by_queue.setdefault((account, region, resource_name(t.job_queue)), []).append(t)

    def route(self, event: BatchEvent) -> Target | None:
        key = (event.queue_account, event.region, event.queue_name)
        candidates = self._by_queue.get(key) or self._by_queue.get(("", *key[1:])) or []
        jd = event.job_definition_name
        same = [t for t in candidates if resource_name(t.job_definition) == jd]
        chosen = same or candidates
        return chosen[0] if chosen else None


def home_account(context: Any) -> str:
    """The function's own account, from its ARN (arn:aws:lambda:region:account:function:x)."""
    return arn_account(str(getattr(context, "invoked_function_arn", "") or ""))
