"""The one owner of the Powertools Logger, Tracer and Metrics used by the functions.

Created once per process (Lambda reuses them across warm invocations). The metric
namespace is set per invocation from the settings (`metrics.namespace = ...`), so nothing
here reads the environment beyond what Powertools reads for itself.

One log pipeline: the library's own loggers (`batch_health.*`: the engine's "check
crashed" traceback, the incident and Slack lines) and botocore's warnings go through the
Powertools handler, so every line the function writes is JSON that Logs Insights can query.
"""

from __future__ import annotations

import logging
import warnings

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers

SERVICE = "batch-health"
LIBRARY_LOGGER = "batch_health"
# botocore logs whole response bodies at DEBUG (the Slack webhook secret among them) and a
# line per cold start at INFO ("Found credentials in environment variables."): warnings only.
AWS_SDK_LOGGERS = {"botocore", "urllib3"}

# X-Ray traces the AWS calls only. Patching httplib too (Powertools' default) would record
# each request's URL in the trace, the Slack webhook's among them, and its path is the secret.
TRACED_MODULES = ("botocore",)

logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE, patch_modules=TRACED_MODULES)
# Run-level metrics (flushed by `log_metrics`); per-target and per-check metrics use
# `single_metric` because each carries its own Target/Check dimensions.
metrics = Metrics(service=SERVICE)

for name in (LIBRARY_LOGGER, *AWS_SDK_LOGGERS):
    logging.getLogger(name)  # registered, so the copy below finds them
copy_config_to_registered_loggers(source_logger=logger, include={LIBRARY_LOGGER})
copy_config_to_registered_loggers(
    source_logger=logger, include=set(AWS_SDK_LOGGERS), log_level=logging.WARNING
)
# A run that adds no run-level metric (a manual run without notifications) is normal, and
# Powertools' warning about it would be the one plain-text line in the log.
warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)

__all__ = ["SERVICE", "TRACED_MODULES", "logger", "metrics", "tracer"]
