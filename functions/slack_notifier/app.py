"""Slack notifier: posts every message on the alert topic to Slack.

Subscribed to the stack's SNS topic, so the monitor's incidents and the CloudWatch alarm
state changes (heartbeat missing, function errors) reach Slack by one path, even when the
monitor itself is down. The logic lives in the `batch_health` layer
(batch_health.notify.notifier); this file only wires Powertools around it. A failure
raises: Lambda's async retry and the on-failure destination take over.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from batch_health.runtime.notifier_settings import NotifierSettings
from batch_health.runtime.observability import logger, metrics, tracer
from batch_health.runtime.slack_notifier import handle


@logger.inject_lambda_context(log_event=False)  # the event holds no secret, but is long
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    settings = NotifierSettings.from_env()
    metrics.namespace = settings.metrics_namespace
    return handle(event, settings)
