"""The Slack notifier's environment (runtime/notifier_settings.py), validated on entry; every
error names the variable."""

from __future__ import annotations

import pytest

from batch_health.runtime.notifier_settings import NotifierSettings
from batch_health.runtime.settings import SettingsError

SECRET_ARN = "arn:aws:secretsmanager:ap-northeast-2:123456789012:secret:slack-webhook-AbCdEf"


def test_notifier_settings():
    s = NotifierSettings.from_env({"SLACK_WEBHOOK_SECRET_ARN": SECRET_ARN})
    assert s.slack_webhook_secret_arn == SECRET_ARN
    assert s.slack_timeout_seconds == 5.0 and s.metrics_namespace == "BatchHealth"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "SLACK_WEBHOOK_SECRET_ARN: Field required"),
        (
            {"SLACK_WEBHOOK_SECRET_ARN": "https://hooks.slack.com/services/T/B/x"},
            "SLACK_WEBHOOK_SECRET_ARN: String should match pattern",
        ),
        (
            {"SLACK_WEBHOOK_SECRET_ARN": SECRET_ARN, "SLACK_TIMEOUT_SECONDS": "-1"},
            "SLACK_TIMEOUT_SECONDS: Input should be greater than 0",
        ),
    ],
)
def test_notifier_errors_name_the_variable(env, expected):
    with pytest.raises(SettingsError) as err:
        NotifierSettings.from_env(env)
    assert expected in str(err.value)
