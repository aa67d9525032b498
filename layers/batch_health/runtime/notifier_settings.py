"""The Slack notifier function's configuration, from its environment.

The webhook URL itself is never here: it is read from Secrets Manager at run time. Kept
apart from the monitor's settings so the notifier loads none of the check suite.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Annotated

from pydantic import Field

from batch_health.environment import EnvModel, Namespace

SECRET_ARN_RE = r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[\w/+=.@-]+$"


class NotifierSettings(EnvModel):
    """The Slack notifier function's configuration. The webhook URL itself is never here:
    it is read from Secrets Manager at run time."""

    slack_webhook_secret_arn: Annotated[str, Field(pattern=SECRET_ARN_RE)] = Field(
        validation_alias="SLACK_WEBHOOK_SECRET_ARN"
    )
    slack_timeout_seconds: Annotated[float, Field(gt=0, le=60)] = Field(
        5.0, validation_alias="SLACK_TIMEOUT_SECONDS"
    )
    metrics_namespace: Namespace = Field(
        "BatchHealth", validation_alias="POWERTOOLS_METRICS_NAMESPACE"
    )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> NotifierSettings:
        return cls._from(dict(os.environ if environ is None else environ))
