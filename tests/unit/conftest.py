"""Fixtures shared by tests in more than one folder of tests/unit."""

from __future__ import annotations

import json

import boto3
import pytest
from support.slack import WEBHOOK

from batch_health.demo import REGION
from batch_health.notify.webhook_secret import clear_cache


@pytest.fixture
def secret_arn(aws: None) -> str:
    """The Slack webhook's secret in Secrets Manager (moto), and no cached copy of it."""
    clear_cache()
    client = boto3.client("secretsmanager", region_name=REGION)
    return client.create_secret(
        Name="batch-health/slack", SecretString=json.dumps({"url": WEBHOOK})
    )["ARN"]
