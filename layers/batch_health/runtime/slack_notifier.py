"""The Slack notifier's decisions: what each SNS record is, and how it looks in Slack.

Records on the alert topic are the monitor's incident documents, CloudWatch alarm state
changes (heartbeat missing, function errors, per-check alarms) or anything else someone
publishes; each becomes one Slack message.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from batch_health.notify.alarms import card_for_alarm, parse_alarm
from batch_health.notify.messages import DOCUMENT_ATTRIBUTE, DOCUMENT_KIND, Notification
from batch_health.notify.slack import (
    DEFAULT_TIMEOUT_S,
    Card,
    SlackError,
    card_for_notification,
    card_for_text,
    post_message,
    render,
)
from batch_health.notify.webhook_secret import WebhookSecretError, get_webhook_url
from batch_health.runtime.metrics import record_notification_failures
from batch_health.runtime.notifier_settings import NotifierSettings
from batch_health.runtime.observability import logger, metrics


class NotifierInputError(ValueError):
    """The event is not an SNS event."""


def _json(text: Any) -> Any:
    try:
        return json.loads(text) if isinstance(text, str) else None
    except json.JSONDecodeError:
        return None


def _document(sns: dict[str, Any]) -> Any:
    """The monitor's notification document: its `document` message attribute."""
    attributes = sns.get("MessageAttributes")
    attribute = attributes.get(DOCUMENT_ATTRIBUTE) if isinstance(attributes, dict) else None
    return _json(attribute.get("Value")) if isinstance(attribute, dict) else None


def card_for_record(record: dict[str, Any]) -> Card:
    """Incident document, alarm state change, or plain text, in that order of trust."""
    sns = record.get("Sns")
    if not isinstance(sns, dict):
        raise NotifierInputError("record without an 'Sns' object: not an SNS event")
    message = sns["Message"] if isinstance(sns.get("Message"), str) else ""
    subject = sns["Subject"] if isinstance(sns.get("Subject"), str) else ""
    body = _json(message)
    doc = _document(sns)
    if not (isinstance(doc, dict) and doc.get("kind") == DOCUMENT_KIND):
        doc = body  # someone may publish the document as the message itself
    if isinstance(doc, dict) and doc.get("kind") == DOCUMENT_KIND:
        try:
            return card_for_notification(Notification.from_document(doc))
        except ValueError as exc:
            # Still shown, as text: a malformed message is better than a lost one.
            logger.warning("malformed incident document (%s); forwarding it as text", exc)
    alarm = parse_alarm(body) if isinstance(body, dict) else None
    if alarm is not None:
        return card_for_alarm(alarm)
    return card_for_text(subject, message)


def sns_records(event: Any) -> list[dict[str, Any]]:
    records = event.get("Records") if isinstance(event, dict) else None
    if not isinstance(records, list) or not records:
        raise NotifierInputError("expected an SNS event with a non-empty 'Records' list")
    if not all(isinstance(r, dict) for r in records):
        raise NotifierInputError("every record must be an object")
    return records


def deliver_sns_event(event: Any, webhook_url: str, *, timeout: float = DEFAULT_TIMEOUT_S) -> int:
    """Post every record to Slack; returns how many. SlackError when any post failed.

    Later records are still tried when one fails, and the error lists every failure.
    """
    records = sns_records(event)
    payloads = [render(card_for_record(r)) for r in records]
    errors = []
    for i, payload in enumerate(payloads):
        try:
            post_message(webhook_url, payload, timeout=timeout)
        except SlackError as exc:
            errors.append(f"record {i}: {exc}" if len(payloads) > 1 else str(exc))
    if errors:
        raise SlackError("; ".join(errors))
    return len(payloads)


def handle(
    event: Any,
    settings: NotifierSettings,
    *,
    read_webhook_url: Callable[[str], str] = get_webhook_url,
) -> dict[str, int]:
    """One invocation: read the webhook secret, post every record, count failures.

    A failure raises after it is counted, so Lambda's async retry and the on-failure
    destination take over.
    """
    sns_records(event)  # not an SNS event: a wiring mistake, raised before anything else
    try:
        url = read_webhook_url(settings.slack_webhook_secret_arn)
        posted = deliver_sns_event(event, url, timeout=settings.slack_timeout_seconds)
    except (WebhookSecretError, SlackError) as exc:
        record_notification_failures(metrics, 1)
        logger.error("Slack notification failed", extra={"error": str(exc)})
        raise
    logger.info("posted to Slack", extra={"messages": posted})
    return {"posted": posted}
