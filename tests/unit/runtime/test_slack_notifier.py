"""The Slack notifier function (runtime/slack_notifier.py): what each SNS record becomes in
Slack, and the function's failures: a failed post, an unreadable secret, counted and raised."""

from __future__ import annotations

import importlib.util
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest
from support.slack import WEBHOOK

from batch_health.demo import REGION
from batch_health.models import CheckResult, Report, Status
from batch_health.notify.incidents import incident_notification
from batch_health.notify.messages import Event, publish_request
from batch_health.notify.slack import SlackError, render
from batch_health.notify.webhook_secret import WebhookSecretError, clear_cache
from batch_health.runtime import slack_notifier as notifier
from batch_health.runtime.notifier_settings import NotifierSettings
from batch_health.runtime.slack_notifier import NotifierInputError, card_for_record

T0 = datetime(2025, 6, 1, 9, 0, tzinfo=UTC)
APP = Path(__file__).resolve().parents[3] / "functions" / "slack_notifier" / "app.py"


def load_app() -> ModuleType:
    # Both functions are called `app.py`; load this one under its own name.
    spec = importlib.util.spec_from_file_location("slack_notifier_app", APP)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def incident(event: Event = Event.FAIL, detail: str = "log group /aws/batch/w missing"):
    result = CheckResult(
        "LOG_GROUP_CHECK",
        Status.FAIL if event is not Event.RESOLVED else Status.OK,
        detail,
        ["Create it: `aws logs create-log-group --log-group-name /aws/batch/w`"],
        {"log_group": "/aws/batch/w"},
    )
    report = Report("academy-video", REGION, [result], [], T0, T0)
    return incident_notification(report, result, event, T0 + timedelta(minutes=42), since=T0)


def sns_event(message: str, subject: str = "", **attributes: str) -> dict[str, Any]:
    """The event Lambda receives from an SNS subscription (one record)."""
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": f"arn:aws:sns:{REGION}:123456789012:alerts:sub",
                "Sns": {
                    "Type": "Notification",
                    "MessageId": "0f5a-example",
                    "TopicArn": f"arn:aws:sns:{REGION}:123456789012:alerts",
                    "Subject": subject or None,
                    "Message": message,
                    "Timestamp": "2025-06-01T09:00:00.000Z",
                    "MessageAttributes": {
                        k: {"Type": "String", "Value": v} for k, v in attributes.items()
                    },
                },
            }
        ]
    }


def published(n) -> dict[str, Any]:
    """The SNS event the notifier receives when the monitor publishes `n`."""
    request = publish_request(n)
    attributes = {k: v["StringValue"] for k, v in request["MessageAttributes"].items()}
    return sns_event(request["Message"], request["Subject"], **attributes)


def all_text(payload: dict[str, Any]) -> str:
    return json.dumps(payload, ensure_ascii=False)


# ---- what a record becomes --------------------------------------------------------------


def test_incident_document_becomes_a_block_kit_card():
    payload = render(card_for_record(published(incident())["Records"][0]))
    blocks = payload["blocks"]
    assert blocks[0] == {
        "type": "header",
        "text": {
            "type": "plain_text",
            "text": ":red_circle: FAIL: LOG_GROUP_CHECK on academy-video",
            "emoji": True,
        },
    }
    fields = [f["text"] for f in blocks[1]["fields"]]
    assert fields[:4] == [
        "*Target*\nacademy-video",
        "*Check*\nLOG_GROUP_CHECK",
        "*Status*\nFAIL",
        f"*Region*\n{REGION}",
    ]
    assert fields[4].startswith("*Since*\n<!date^1748768400^") and fields[4].endswith("(42 min)")
    assert blocks[2]["text"]["text"] == "log group /aws/batch/w missing"
    assert blocks[3]["text"]["text"].startswith("*Hints*\n• Create it: `aws logs")
    assert (
        "#logsV2:log-groups/log-group/$252Faws$252Fbatch$252Fw|Log group /aws/batch/w>"
        in (blocks[4]["text"]["text"])
    )
    assert payload["text"] == "[FAIL] academy-video LOG_GROUP_CHECK: log group /aws/batch/w missing"


def test_resolved_card_says_how_long_it_failed():
    payload = render(card_for_record(published(incident(Event.RESOLVED))["Records"][0]))
    assert payload["blocks"][0]["text"]["text"] == (
        ":large_green_circle: RESOLVED: LOG_GROUP_CHECK on academy-video"
    )
    fields = [f["text"] for f in payload["blocks"][1]["fields"]]
    assert (
        "*Failed for*\n42 min (since <!date^1748768400^{date_short_pretty} {time}|" in (fields[-1])
    )
    assert payload["blocks"][2]["text"]["text"].startswith("resolved after 42 min")


def test_user_text_is_escaped_for_mrkdwn():
    n = incident(detail="queue <!channel> & <https://evil.example|click me> > 0")
    payload = render(card_for_record(published(n)["Records"][0]))
    detail = payload["blocks"][2]["text"]["text"]
    assert detail == ("queue &lt;!channel&gt; &amp; &lt;https://evil.example|click me&gt; &gt; 0")
    assert "<!channel>" not in all_text(payload)
    assert "<https://evil.example" not in all_text(payload)


def test_alarm_message_becomes_an_alarm_card():
    alarm = {
        "AlarmName": "batch-health-dev-monitor-errors",
        "NewStateValue": "ALARM",
        "OldStateValue": "OK",
        "NewStateReason": "Threshold Crossed: 1 datapoint [1.0] was >= 1.0",
        "StateChangeTime": "2025-06-01T09:15:00.000+0000",
        "AlarmArn": f"arn:aws:cloudwatch:{REGION}:123456789012:alarm:"
        "batch-health-dev-monitor-errors",
    }
    record = sns_event(json.dumps(alarm), 'ALARM: "batch-health-dev-monitor-errors" in Seoul')
    payload = render(card_for_record(record["Records"][0]))
    assert payload["blocks"][0]["text"]["text"] == (
        ":rotating_light: ALARM: batch-health-dev-monitor-errors"
    )
    assert "Threshold Crossed: 1 datapoint [1.0] was &gt;= 1.0" in all_text(payload)


def test_other_text_is_forwarded_as_it_came():
    payload = render(card_for_record(sns_event("disk <full> & more", "Heads up")["Records"][0]))
    assert payload["blocks"][0]["text"]["text"] == ":information_source: Heads up"
    assert payload["blocks"][1]["text"]["text"] == "disk &lt;full&gt; &amp; more"


def test_a_malformed_incident_document_is_still_delivered_as_text():
    doc = {**incident().to_document(), "event": "EXPLODED"}
    payload = render(card_for_record(sns_event(json.dumps(doc), "[FAIL] x")["Records"][0]))
    assert payload["blocks"][0]["text"]["text"] == ":information_source: [FAIL] x"
    assert "EXPLODED" in all_text(payload)


@pytest.mark.parametrize("event", [{}, {"Records": []}, {"Records": ["x"]}, []])
def test_not_an_sns_event_is_refused(event):
    with pytest.raises(NotifierInputError):
        notifier.sns_records(event)


def test_a_record_without_sns_is_refused():
    with pytest.raises(NotifierInputError, match="not an SNS event"):
        card_for_record({"s3": {}})


# ---- the function -----------------------------------------------------------------------


def context() -> SimpleNamespace:
    return SimpleNamespace(
        function_name="batch-health-dev-slack-notifier",
        memory_limit_in_mb=256,
        invoked_function_arn=f"arn:aws:lambda:{REGION}:123456789012:function:slack-notifier",
        aws_request_id="req-1",
        get_remaining_time_in_millis=lambda: 30_000,
    )


def emf_values(output: str, name: str) -> list[float]:
    values = []
    for line in output.splitlines():
        try:
            doc = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(doc, dict) and "_aws" in doc and name in doc:
            value = doc[name]
            values += value if isinstance(value, list) else [value]
    return values


@pytest.fixture
def posted(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any]]]:
    sent: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(
        notifier, "post_message", lambda url, payload, **_: sent.append((url, payload))
    )
    return sent


@pytest.fixture
def notifier_env(monkeypatch: pytest.MonkeyPatch, secret_arn: str) -> str:
    monkeypatch.setenv("SLACK_WEBHOOK_SECRET_ARN", secret_arn)
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "BatchHealthTest")
    return secret_arn


# A run with nothing to count flushes no metric; Powertools warns about the empty flush.
@pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")
def test_handler_posts_each_record_and_counts_no_failure(notifier_env, posted, capsys, caplog):
    app = load_app()
    result = app.lambda_handler(published(incident()), context())
    assert result == {"posted": 1}
    [(url, payload)] = posted
    assert url == WEBHOOK
    assert (
        payload["blocks"][0]["text"]["text"]
        == ":red_circle: FAIL: LOG_GROUP_CHECK on academy-video"
    )
    out = capsys.readouterr().out
    # Nothing failed: NotificationFailed is not sent at all (each hour with a datapoint
    # is billed; its alarm treats no data as OK).
    assert emf_values(out, "NotificationFailed") == []
    assert "s3cr3tT0ken" not in out and "s3cr3tT0ken" not in caplog.text


def test_handler_raises_on_a_failed_post_and_counts_it(notifier_env, monkeypatch, capsys, caplog):
    def refuse(url: str, payload: Any, **_: Any) -> None:
        raise SlackError("Slack webhook answered HTTP 404: no_service")

    monkeypatch.setattr(notifier, "post_message", refuse)
    app = load_app()
    with pytest.raises(SlackError, match="no_service"):
        app.lambda_handler(sns_event("hello", "plain"), context())
    out = capsys.readouterr().out
    assert emf_values(out, "NotificationFailed") == [1.0]
    assert "s3cr3tT0ken" not in out and "s3cr3tT0ken" not in caplog.text
    assert "Slack notification failed" in caplog.text


def test_handler_raises_when_the_secret_is_unreadable(aws, monkeypatch, posted, capsys):
    clear_cache()
    arn = f"arn:aws:secretsmanager:{REGION}:123456789012:secret:gone-AbCdEf"
    monkeypatch.setenv("SLACK_WEBHOOK_SECRET_ARN", arn)
    with pytest.raises(WebhookSecretError, match="gone"):
        load_app().lambda_handler(sns_event("hello"), context())
    assert posted == []
    assert emf_values(capsys.readouterr().out, "NotificationFailed") == [1.0]


def test_handle_tries_every_record_and_reports_all_failures(monkeypatch):
    attempts: list[str] = []

    def flaky(url: str, payload: dict[str, Any], **_: Any) -> None:
        attempts.append(payload["text"])
        if payload["text"] == "first":
            raise SlackError("Slack webhook answered HTTP 500: oops")

    monkeypatch.setattr(notifier, "post_message", flaky)
    event = {"Records": sns_event("a", "first")["Records"] + sns_event("b", "second")["Records"]}
    arn = f"arn:aws:secretsmanager:{REGION}:123456789012:secret:s-AbCdEf"
    settings = NotifierSettings.model_validate({"SLACK_WEBHOOK_SECRET_ARN": arn})
    with pytest.raises(SlackError, match="record 0: Slack webhook answered HTTP 500"):
        notifier.handle(event, settings, read_webhook_url=lambda _: WEBHOOK)
    assert attempts == ["first", "second"]
