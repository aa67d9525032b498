"""The Slack webhook's secret (notify/webhook_secret.py): a URL or JSON holding one, read once
and cached; a bad or missing secret is named, its value never shown."""

from __future__ import annotations

import json

import boto3
import pytest
from support.slack import WEBHOOK

from batch_health.demo import REGION
from batch_health.notify.webhook_secret import (
    SecretsProvider,
    WebhookSecretError,
    clear_cache,
    get_webhook_url,
    parse_webhook_secret,
)


@pytest.mark.parametrize(
    "value",
    [WEBHOOK, f"  {WEBHOOK}\n", json.dumps({"url": WEBHOOK}), json.dumps({"webhook_url": WEBHOOK})],
)
def test_secret_may_be_the_url_or_json(value):
    assert parse_webhook_secret(value, "slack") == WEBHOOK


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("{not json", "not valid JSON"),
        (json.dumps({"token": "xoxb-123"}), "without a string 'url' or 'webhook_url'"),
        ("xoxb-123-secret", "expected a webhook URL"),
    ],
)
def test_a_bad_secret_is_named_but_its_value_is_not_shown(value, error):
    with pytest.raises(WebhookSecretError, match=error) as info:
        parse_webhook_secret(value, "slack-secret")
    assert "slack-secret" in str(info.value)
    assert "xoxb" not in str(info.value)


def test_secret_is_read_once_and_cached(secret_arn):
    client = boto3.client("secretsmanager", region_name=REGION)
    calls: list[str] = []
    client.meta.events.register(
        "before-call.secrets-manager.GetSecretValue", lambda **_: calls.append("get")
    )
    provider = SecretsProvider(boto3_client=client)
    assert get_webhook_url(secret_arn, provider=provider) == WEBHOOK
    assert get_webhook_url(secret_arn, provider=provider) == WEBHOOK
    assert calls == ["get"]


def test_missing_secret_says_which_and_what_to_check(aws):
    clear_cache()
    arn = f"arn:aws:secretsmanager:{REGION}:123456789012:secret:nope-AbCdEf"
    with pytest.raises(WebhookSecretError, match="not found") as info:
        get_webhook_url(arn)
    assert arn in str(info.value) and "check the secret ARN" in str(info.value)
