"""Batch Health Monitor: runs the check suite on a schedule, or on demand.

Scheduled by EventBridge Scheduler (the full suite, and the smoke submit), or invoked by
hand: `sam remote invoke MonitorFunction --event-file events/manual-full.json`.
The logic lives in the `batch_health` layer (batch_health.monitor); this file only wires
Powertools (structured logs with the Lambda context, X-Ray, EMF metrics) around it.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from batch_health.runtime.monitor import handle
from batch_health.runtime.observability import logger, metrics, tracer
from batch_health.runtime.settings import MonitorSettings


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)  # reports can exceed X-Ray's 64 KB
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(event, context, MonitorSettings.from_env())
