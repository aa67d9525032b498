"""The whole notification path, offline: monitor run -> SNS -> Slack notifier -> Slack.

The monitor runs the real suite on the ops report's world (log group missing) in moto and
publishes to a moto SNS topic; an SQS queue subscribed to the topic captures exactly what
SNS delivers; that delivery becomes the Lambda event of the Slack notifier, which reads
its webhook from a moto secret and posts over real HTTP to a Slack stub on 127.0.0.1.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import socket
import subprocess
import sys
import traceback
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import boto3
import pytest
from test_slack_http import SECRET_PATH, Reply, SlackStub

from batch_health.aws.sessions import AwsSessions
from batch_health.demo import LOG_GROUP, REGION, WorldBuilder
from batch_health.notify.slack import SlackError
from batch_health.notify.webhook_secret import WebhookSecretError, clear_cache
from batch_health.runtime.monitor import Runtime, handle
from batch_health.runtime.observability import logger, metrics
from batch_health.runtime.settings import MonitorSettings

pytestmark = [
    pytest.mark.integration,
    # A Slack post that went out counts nothing: Powertools warns about the empty flush.
    pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning"),
]

APP = Path(__file__).resolve().parents[2] / "functions" / "slack_notifier" / "app.py"
TABLE = "batch-health-incidents"


def load_notifier() -> ModuleType:
    # Both functions are called `app.py`; load this one under its own name.
    spec = importlib.util.spec_from_file_location("slack_notifier_app", APP)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Stack:
    """What the template deploys for notifications, in moto: topic, table, secret."""

    def __init__(self, webhook_url: str) -> None:
        sns = boto3.client("sns", region_name=REGION)
        self.sqs = boto3.client("sqs", region_name=REGION)
        self.topic_arn = sns.create_topic(Name="batch-health-alerts")["TopicArn"]
        # Stands in for the Lambda subscription: SQS gets the same JSON document.
        self.queue_url = self.sqs.create_queue(QueueName="delivered")["QueueUrl"]
        queue_arn = self.sqs.get_queue_attributes(
            QueueUrl=self.queue_url, AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=self.topic_arn, Protocol="sqs", Endpoint=queue_arn)
        boto3.client("dynamodb", region_name=REGION).create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        self.secret_arn = boto3.client("secretsmanager", region_name=REGION).create_secret(
            Name="batch-health/slack-webhook", SecretString=json.dumps({"url": webhook_url})
        )["ARN"]

    def delivered(self) -> list[dict[str, Any]]:
        """The SNS envelopes delivered since the last call."""
        out = []
        while batch := self.sqs.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=10
        ).get("Messages", []):
            for m in batch:
                out.append(json.loads(m["Body"]))
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=m["ReceiptHandle"])
        return out


def lambda_event(envelope: dict[str, Any], topic_arn: str) -> dict[str, Any]:
    """The event Lambda builds from one SNS delivery."""
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": f"{topic_arn}:0e6f-subscription",
                "Sns": {
                    "Type": "Notification",
                    "MessageId": envelope["MessageId"],
                    "TopicArn": envelope["TopicArn"],
                    "Subject": envelope.get("Subject"),
                    "Message": envelope["Message"],
                    "Timestamp": envelope["Timestamp"],
                    "SignatureVersion": envelope["SignatureVersion"],
                    "Signature": envelope["Signature"],
                    "SigningCertUrl": envelope["SigningCertURL"],
                    "UnsubscribeUrl": envelope["UnsubscribeURL"],
                    "MessageAttributes": envelope.get("MessageAttributes", {}),
                },
            }
        ]
    }


def lambda_context(name: str) -> SimpleNamespace:
    return SimpleNamespace(
        function_name=name,
        memory_limit_in_mb=256,
        invoked_function_arn=f"arn:aws:lambda:{REGION}:123456789012:function:{name}",
        aws_request_id="00000000-0000-4000-8000-000000000000",
        get_remaining_time_in_millis=lambda: 60_000,
    )


@pytest.fixture
def slack():
    with SlackStub() as stub:
        yield stub


@pytest.fixture
def chain(seed_world, world: WorldBuilder, slack: SlackStub, monkeypatch: pytest.MonkeyPatch):
    clear_cache()  # a provider cached by an earlier test would hold another moto's client
    stack = Stack(slack.url)
    boto3.client("ssm", region_name=REGION).put_parameter(
        Name="/batch-health/targets",
        Value=json.dumps({"targets": [seed_world]}),
        Type="String",
    )
    settings = MonitorSettings.from_env(
        {
            "AWS_REGION": "ap-northeast-2",
            "CONFIG_PARAMETER_PATH": "/academy/api/",
            "TARGETS_PARAMETER": "/batch-health/targets",
            "ALERT_TOPIC_ARN": stack.topic_arn,
            "INCIDENT_TABLE_NAME": TABLE,
        }
    )
    monkeypatch.setenv("SLACK_WEBHOOK_SECRET_ARN", stack.secret_arn)
    notifier = load_notifier()
    runtime = Runtime(sessions=AwsSessions(REGION))

    def monitor() -> dict[str, Any]:
        return handle({}, lambda_context("monitor"), settings, rt=runtime)

    def run_monitor_and_deliver() -> list[dict[str, Any]]:
        """One scheduled run; every SNS delivery goes through the Slack notifier."""
        monitor()
        envelopes = stack.delivered()
        for envelope in envelopes:
            event = lambda_event(envelope, stack.topic_arn)
            assert notifier.lambda_handler(event, lambda_context("slack-notifier")) == {"posted": 1}
        return envelopes

    return SimpleNamespace(
        stack=stack, world=world, run=run_monitor_and_deliver, monitor=monitor, notifier=notifier
    )


def header(message: dict[str, Any]) -> str:
    return message["blocks"][0]["text"]["text"]


def test_an_incident_reaches_slack_once_and_its_recovery_too(chain, slack, caplog):
    [fail] = chain.run()
    assert fail["Subject"].startswith(
        f"[FAIL] academy-video LOG_GROUP_CHECK: log group missing: {LOG_GROUP}"
    )
    assert fail["MessageAttributes"]["event"]["Value"] == "FAIL"
    [message] = slack.messages
    assert header(message) == ":red_circle: FAIL: LOG_GROUP_CHECK on academy-video"
    text = json.dumps(message)
    assert f"log group missing: {LOG_GROUP}" in text
    assert "aws logs create-log-group --log-group-name /aws/batch/academy-video-worker" in text
    assert "$252Faws$252Fbatch$252Facademy-video-worker|Log group" in text

    # Five minutes later, still failing: nothing new anywhere.
    assert chain.run() == []
    assert len(slack.messages) == 1

    chain.world.log_group(LOG_GROUP)
    [resolved] = chain.run()
    assert resolved["Subject"].startswith(
        "[RESOLVED] academy-video LOG_GROUP_CHECK: resolved after"
    )
    assert len(slack.messages) == 2
    assert header(slack.messages[1]) == (
        ":large_green_circle: RESOLVED: LOG_GROUP_CHECK on academy-video"
    )
    assert chain.run() == []
    assert len(slack.messages) == 2
    # The webhook's secret path never reached a log line.
    assert "s3cr3tT0ken" not in caplog.text


def test_a_cloudwatch_alarm_on_the_topic_reaches_slack_too(chain, slack):
    alarm = {
        "AlarmName": "batch-health-dev-heartbeat",
        "NewStateValue": "ALARM",
        "OldStateValue": "OK",
        "NewStateReason": "Threshold Crossed: 3 missing datapoints were treated as [Breaching].",
        "StateChangeTime": "2025-06-01T09:15:00.000+0000",
        "AlarmArn": f"arn:aws:cloudwatch:{REGION}:123456789012:alarm:batch-health-dev-heartbeat",
    }
    boto3.client("sns", region_name=REGION).publish(
        TopicArn=chain.stack.topic_arn,
        Subject='ALARM: "batch-health-dev-heartbeat" in Asia Pacific (Seoul)',
        Message=json.dumps(alarm),
    )
    [envelope] = chain.stack.delivered()
    chain.notifier.lambda_handler(
        lambda_event(envelope, chain.stack.topic_arn), lambda_context("slack-notifier")
    )
    [message] = slack.messages
    assert header(message) == ":rotating_light: ALARM: batch-health-dev-heartbeat"
    assert "treated as [Breaching]" in json.dumps(message)


def test_slack_down_fails_the_notifier_not_the_monitor_and_the_retry_delivers(chain, slack):
    slack.replies.append(Reply(500, b"internal_error"))
    report = chain.monitor()
    assert report["overall"] == "FAIL"  # the monitor's run is unaffected by Slack
    [envelope] = chain.stack.delivered()
    event = lambda_event(envelope, chain.stack.topic_arn)
    with pytest.raises(SlackError, match="HTTP 500: internal_error"):
        chain.notifier.lambda_handler(event, lambda_context("slack-notifier"))
    # Lambda's async retry runs the same event again once Slack answers.
    assert chain.notifier.lambda_handler(event, lambda_context("slack-notifier")) == {"posted": 1}
    assert len(slack.requests) == 2
    assert header(slack.messages[-1]) == ":red_circle: FAIL: LOG_GROUP_CHECK on academy-video"


def test_notify_test_command_reaches_sns_and_slack(slack):
    """The CLI as an operator runs it: a subprocess against an AWS emulator over HTTP."""
    from batch_health.demo import emulator

    with emulator() as endpoint:
        clients = {
            svc: boto3.client(svc, region_name=REGION, endpoint_url=endpoint)
            for svc in ("sns", "sqs", "secretsmanager")
        }
        topic_arn = clients["sns"].create_topic(Name="alerts")["TopicArn"]
        queue_url = clients["sqs"].create_queue(QueueName="copy")["QueueUrl"]
        queue_arn = clients["sqs"].get_queue_attributes(
            QueueUrl=queue_url, AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        clients["sns"].subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
        secret_arn = clients["secretsmanager"].create_secret(Name="slack", SecretString=slack.url)[
            "ARN"
        ]
        env = {**os.environ, "AWS_ENDPOINT_URL": endpoint}
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "batch_health",
                "notify-test",
                "--topic-arn",
                topic_arn,
                "--slack-webhook-secret",
                secret_arn,
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert "SNS:   sent to" in done.stdout and "Slack: sent" in done.stdout
        assert "s3cr3tT0ken" not in done.stdout + done.stderr
        [delivered] = clients["sqs"].receive_message(QueueUrl=queue_url)["Messages"]
        subject = json.loads(delivered["Body"])["Subject"]
        assert subject == "[TEST] batch-health notification test (no action needed)"
    [message] = slack.messages
    assert header(message) == ":test_tube: TEST: batch-health notification test"


# --- Slack failing: counted, and the message waits in SNS for the retry ----------------------


def emf_values(out: str, name: str) -> list[float]:
    docs = [json.loads(x) for x in out.splitlines() if x.startswith("{")]
    return [v for d in docs if "_aws" in d and name in d for v in d[name]]


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}{SECRET_PATH}"


def set_webhook(stack: Stack, url: str) -> None:
    boto3.client("secretsmanager", region_name=REGION).put_secret_value(
        SecretId=stack.secret_arn, SecretString=json.dumps({"url": url})
    )
    clear_cache()  # the notifier caches the secret for five minutes


@pytest.mark.parametrize(
    ("fault", "says"),
    [
        ("HTTP 500", "Slack webhook answered HTTP 500: internal_error"),
        ("timeout", "Slack webhook timed out (timeout 0.5s)"),
        ("connection refused", "Slack webhook unreachable"),
    ],
)
def test_a_slack_failure_is_counted_and_the_retry_delivers_it(
    chain, slack, capsys, monkeypatch, fault, says
):
    monkeypatch.setenv("SLACK_TIMEOUT_SECONDS", "0.5")
    assert chain.monitor()["overall"] == "FAIL"
    metrics.flush_metrics()  # what the monitor's own handler does at the end of its run
    [envelope] = chain.stack.delivered()  # published: SNS (and e-mail) has it either way
    event = lambda_event(envelope, chain.stack.topic_arn)
    if fault == "HTTP 500":
        slack.replies.append(Reply(500, b"internal_error"))
    elif fault == "timeout":
        slack.replies.append(Reply(200, b"ok", delay=2.0))
    else:
        set_webhook(chain.stack, closed_port_url())
    capsys.readouterr()

    with pytest.raises(SlackError) as failed:
        chain.notifier.lambda_handler(event, lambda_context("slack-notifier"))
    assert says in str(failed.value)
    # Counted: the NotificationFailed alarm fires; Lambda retries the event, then parks it
    # in the dead-letter queue (template: EventInvokeConfig), so it is not lost.
    assert emf_values(capsys.readouterr().out, "NotificationFailed") == [1.0]

    if fault == "connection refused":
        set_webhook(chain.stack, slack.url)
    assert chain.notifier.lambda_handler(event, lambda_context("slack-notifier")) == {"posted": 1}
    assert emf_values(capsys.readouterr().out, "NotificationFailed") == []  # only failures count
    assert header(slack.messages[-1]) == ":red_circle: FAIL: LOG_GROUP_CHECK on academy-video"


# --- the webhook URL is a secret: nowhere in what the functions show --------------------------


class CurrentStdout:
    """Writes to whatever sys.stdout is now (the Logger bound its stream at import)."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


def test_the_webhook_never_shows_in_logs_reports_events_or_errors(
    chain, slack, capsys, caplog, monkeypatch
):
    """A notifying run end to end, then every way the notifier fails, all output kept."""
    caplog.set_level(logging.INFO)  # every library's INFO and up, as a verbose Lambda shows
    for name in ("batch-health", "batch_health"):
        caplog.set_level(logging.DEBUG, logger=name)
    handler = logger.registered_handler
    original = handler.setStream(CurrentStdout())
    shown: list[str] = []
    errors: list[BaseException] = []

    def notify(event: dict[str, Any]) -> None:
        try:
            shown.append(json.dumps(chain.notifier.lambda_handler(event, lambda_context("n"))))
        except (SlackError, WebhookSecretError) as exc:
            errors.append(exc)

    try:
        report = chain.monitor()
        metrics.flush_metrics()
        envelopes = chain.stack.delivered()
        event = lambda_event(envelopes[0], chain.stack.topic_arn)
        notify(event)  # delivered
        slack.replies.append(Reply(404, f"no_service for {SECRET_PATH}".encode()))
        notify(event)  # Slack quotes the URL back
        set_webhook(chain.stack, closed_port_url())
        notify(event)  # nobody at the URL
        boto3.client("secretsmanager", region_name=REGION).put_secret_value(
            SecretId=chain.stack.secret_arn, SecretString=json.dumps({"hook": slack.url})
        )
        clear_cache()
        notify(event)  # the secret holds the URL under a key the notifier does not read
    finally:
        handler.stream = original

    assert len(slack.requests) == 2 and slack.requests[0]["path"] == SECRET_PATH
    assert [type(e).__name__ for e in errors] == ["SlackError", "SlackError", "WebhookSecretError"]
    out, err = capsys.readouterr()
    shown += [json.dumps(report), json.dumps(envelopes), out, err, caplog.text]
    shown += ["".join(traceback.format_exception(e)) for e in errors]
    shown += [json.dumps(r.__dict__, default=str) for r in caplog.records]
    shown.append(json.dumps(dict(os.environ)))
    everything = "\n".join(shown)
    assert "Slack notification failed" in everything  # the failures' log lines are in it
    for secret in (slack.url, SECRET_PATH, "s3cr3tT0ken"):
        assert secret not in everything


def test_the_webhook_stays_out_of_a_debug_log_too(chain, slack, caplog):
    caplog.set_level(logging.DEBUG)
    chain.run()
    assert slack.messages
    assert "s3cr3tT0ken" not in caplog.text
