"""What an SQS subscriber of the alert topic receives, read back."""

from __future__ import annotations

import json
from typing import Any

from batch_health.notify.messages import DOCUMENT_ATTRIBUTE


def document_of(envelope: dict[str, Any]) -> dict[str, Any]:
    """The notification document an SNS envelope carries (its `document` attribute)."""
    return json.loads(envelope["MessageAttributes"][DOCUMENT_ATTRIBUTE]["Value"])
