"""The Slack webhook URL, read from Secrets Manager (Powertools Parameters, cached).

The secret holds the URL itself or a JSON object {"url": ...} / {"webhook_url": ...}.
Neither the URL nor the secret's content appears in a log line or an error message.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from aws_lambda_powertools.utilities.parameters import SecretsProvider
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

from batch_health.aws.errors import ErrorKind, classify
from batch_health.aws.sessions import client_config

CACHE_SECONDS = 300  # a rotated webhook is picked up within five minutes
URL_KEYS = ("url", "webhook_url")

_providers: dict[str | None, SecretsProvider] = {}
_lock = threading.Lock()


class WebhookSecretError(RuntimeError):
    """The secret could not be read or holds no webhook URL; names the secret, not its value."""


def secret_region(secret_id: str) -> str | None:
    """The region of a secret ARN; None for a plain name (the default region)."""
    parts = secret_id.split(":")
    return parts[3] if len(parts) >= 7 and parts[0] == "arn" and parts[3] else None


def default_provider(region: str | None) -> SecretsProvider:
    """One provider per region for the process, so the cache outlives a Lambda invocation."""
    with _lock:
        if region not in _providers:
            config = client_config()
            if region:
                config = config.merge(type(config)(region_name=region))
            _providers[region] = SecretsProvider(boto_config=config)
        return _providers[region]


def clear_cache() -> None:
    with _lock:
        _providers.clear()


def parse_webhook_secret(value: str | bytes, secret_id: str) -> str:
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    text = text.strip()
    if text.startswith("{"):
        try:
            doc: Any = json.loads(text)
        except json.JSONDecodeError:
            raise WebhookSecretError(
                f"secret {secret_id}: starts with '{{' but is not valid JSON"
            ) from None
        url = next((doc[k] for k in URL_KEYS if isinstance(doc.get(k), str)), None)
        if url is None:
            raise WebhookSecretError(
                f"secret {secret_id}: JSON without a string 'url' or 'webhook_url' key"
            )
        text = url.strip()
    if not text.startswith(("https://", "http://")):
        raise WebhookSecretError(
            f"secret {secret_id}: expected a webhook URL (https://hooks.slack.com/...) "
            'or JSON {"url": ...}'
        )
    return text


def get_webhook_url(
    secret_id: str,
    *,
    provider: SecretsProvider | None = None,
    max_age: int = CACHE_SECONDS,
) -> str:
    """The webhook URL from the secret (cached for `max_age` seconds)."""
    provider = provider or default_provider(secret_region(secret_id))
    try:
        value = provider.get(secret_id, max_age=max_age)
    except GetParameterError as exc:
        raise WebhookSecretError(_describe(secret_id, exc)) from None
    if not isinstance(value, str | bytes):
        raise WebhookSecretError(f"secret {secret_id}: unexpected value type")
    return parse_webhook_secret(value, secret_id)


def _describe(secret_id: str, exc: GetParameterError) -> str:
    # Powertools wraps the boto error; the original is the exception's context.
    cause = exc.__cause__ or exc.__context__
    if cause is None:
        return f"secret {secret_id}: {exc}"
    failure = classify(cause)
    if failure.kind is ErrorKind.ACCESS_DENIED:
        hint = f"grant secretsmanager:GetSecretValue on {secret_id} (and kms:Decrypt on its key)"
    elif failure.kind is ErrorKind.NOT_FOUND:
        hint = "check the secret ARN/name and region"
    else:
        hint = failure.hint()
    return f"secret {secret_id}: {failure.summary}; {hint}"
