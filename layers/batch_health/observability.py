"""The one owner of the Powertools Logger, Tracer and Metrics used by the functions.

Created once per process (Lambda reuses them across warm invocations). The metric
namespace is set per invocation from the settings (`metrics.namespace = ...`), so nothing
here reads the environment beyond what Powertools reads for itself.
"""

from __future__ import annotations

import logging

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE = "batch-health"

# botocore logs whole response bodies at DEBUG, the Slack webhook secret among them: keep it
# at INFO even when the function's log level is DEBUG.
logging.getLogger("botocore").setLevel(logging.INFO)

logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE)
# Run-level metrics (flushed by `log_metrics`); per-target and per-check metrics use
# `single_metric` because each carries its own Target/Check dimensions.
metrics = Metrics(service=SERVICE)

__all__ = ["SERVICE", "logger", "metrics", "tracer"]
