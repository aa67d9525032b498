"""Batch events: names why jobs fail, seconds after they fail.

Fed by an SQS queue that EventBridge fills with AWS Batch's own events ("Batch Job State
Change" FAILED/SUCCEEDED, RUNNING for smoke jobs, and "Batch Job Queue Blocked") of the
monitored queues. The logic lives in the `batch_health` layer
(batch_health.runtime.batch_events); this file only wires Powertools around it and returns
the partial batch response, so only the messages that could not be handled come back.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from batch_health.runtime.batch_events import handle
from batch_health.runtime.confirmation import monitor_confirmer
from batch_health.runtime.monitor import runtime
from batch_health.runtime.observability import logger, metrics, tracer
from batch_health.runtime.settings import BatchEventSettings


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = BatchEventSettings.from_env()
    metrics.namespace = settings.metrics_namespace
    rt = runtime()
    confirm = (
        monitor_confirmer(
            rt.sessions,
            settings.monitor_function_name,
            lambda: context.get_remaining_time_in_millis() / 1000,
        )
        if settings.monitor_function_name
        else None
    )
    return handle(event, context, settings, rt=rt, confirm=confirm)
