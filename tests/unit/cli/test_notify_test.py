"""`batch-health notify-test`: a marked test message through each channel; exit 0 / 1 / 2."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from support.sns import document_of

from batch_health.cli import main
from batch_health.notify import slack as slack_module
from batch_health.notify.slack import SlackError

REGION = "ap-northeast-2"
WEBHOOK = "https://hooks.slack.com/services/T0000/B0000/s3cr3tT0ken"


@pytest.fixture
def topic(aws: None) -> tuple[str, str]:
    """A topic with an SQS queue subscribed; returns (topic ARN, queue URL)."""
    sns = boto3.client("sns", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    arn = sns.create_topic(Name="batch-health-alerts")["TopicArn"]
    url = sqs.create_queue(QueueName="copy")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue_arn)
    return arn, url


@pytest.fixture
def secret(aws: None) -> str:
    client = boto3.client("secretsmanager", region_name=REGION)
    return client.create_secret(Name="slack-webhook", SecretString=WEBHOOK)["ARN"]


@pytest.fixture
def slack(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    posted: list[dict[str, Any]] = []

    def post(url: str, payload: dict[str, Any], **_: Any) -> None:
        assert url == WEBHOOK
        posted.append(payload)

    monkeypatch.setattr(slack_module, "post_message", post)
    return posted


def test_no_channel_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        main(["notify-test"])
    assert info.value.code == 2
    assert "needs --topic-arn and/or --slack-webhook-secret" in capsys.readouterr().err


def test_a_malformed_topic_arn_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        main(["notify-test", "--topic-arn", "batch-health-alerts"])
    assert info.value.code == 2
    assert "--topic-arn: not an SNS topic ARN" in capsys.readouterr().err


def test_sns_gets_a_clearly_marked_test_message(topic, capsys):
    arn, queue = topic
    assert main(["notify-test", "--topic-arn", arn]) == 0
    out = capsys.readouterr().out
    assert "SNS:   sent to " + arn in out
    [m] = boto3.client("sqs", region_name=REGION).receive_message(QueueUrl=queue)["Messages"]
    envelope = json.loads(m["Body"])
    assert envelope["Subject"] == "[TEST] batch-health notification test (no action needed)"
    assert envelope["MessageAttributes"]["event"] == {"Type": "String", "Value": "TEST"}
    assert document_of(envelope)["event"] == "TEST"


def test_slack_gets_the_test_card(secret, slack, capsys):
    assert main(["notify-test", "--slack-webhook-secret", secret]) == 0
    [payload] = slack
    assert payload["blocks"][0]["text"]["text"] == (
        ":test_tube: TEST: batch-health notification test"
    )
    assert "sent by `batch-health notify-test` from " in json.dumps(payload)
    assert "No action needed." in json.dumps(payload)
    out = capsys.readouterr().out
    assert "Slack: sent" in out and "s3cr3tT0ken" not in out


def test_both_channels_and_one_fails_exits_1(topic, secret, monkeypatch, capsys):
    def refuse(url: str, payload: Any, **_: Any) -> None:
        raise SlackError("Slack webhook answered HTTP 403: invalid_token")

    monkeypatch.setattr(slack_module, "post_message", refuse)
    arn, _ = topic
    code = main(["notify-test", "--topic-arn", arn, "--slack-webhook-secret", secret])
    out = capsys.readouterr().out
    assert code == 1
    assert "SNS:   sent" in out
    assert "Slack: FAILED: Slack webhook answered HTTP 403: invalid_token" in out


def test_a_missing_topic_fails_with_a_hint(aws, capsys):
    arn = f"arn:aws:sns:{REGION}:123456789012:no-such-topic"
    assert main(["notify-test", "--topic-arn", arn]) == 1
    out = capsys.readouterr().out
    assert "SNS:   FAILED: not found on Publish" in out


def test_a_missing_secret_by_name_in_the_given_region_fails(aws, slack, capsys):
    assert main(["notify-test", "--slack-webhook-secret", "nope", "--region", "eu-west-1"]) == 1
    out = capsys.readouterr().out
    assert "Slack: FAILED: secret nope: not found on GetSecretValue" in out
    assert slack == []
