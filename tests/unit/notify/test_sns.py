"""Publishing to SNS (moto): subject, message attributes, text vs document, filter policies."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from batch_health.aws.sessions import AwsSessions
from batch_health.limits import SNS_SUBJECT_MAX_CHARS
from batch_health.models import CheckResult, Report, Status
from batch_health.notify import sns
from batch_health.notify.incidents import incident_notification
from batch_health.notify.messages import (
    DOCUMENT_ATTRIBUTE,
    Event,
    Notification,
    render_text,
    subject,
)

REGION = "ap-northeast-2"
T0 = datetime(2025, 6, 1, 9, 0, tzinfo=UTC)


def notification(event: Event = Event.FAIL, detail: str = "log group /aws/x missing"):
    result = CheckResult("LOG_GROUP_CHECK", Status.FAIL, detail, ["Create it"], {})
    report = Report("academy-video", REGION, [result], [], T0, T0)
    return incident_notification(report, result, event, T0 + timedelta(minutes=42), since=T0)


class Topic:
    def __init__(self, region: str = REGION) -> None:
        self.sns = boto3.client("sns", region_name=region)
        self.sqs = boto3.client("sqs", region_name=region)
        self.arn = self.sns.create_topic(Name="batch-health-alerts")["TopicArn"]

    def queue(self, name: str, filter_policy: dict[str, Any] | None = None) -> str:
        url = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        attributes = {"FilterPolicy": json.dumps(filter_policy)} if filter_policy else {}
        self.sns.subscribe(TopicArn=self.arn, Protocol="sqs", Endpoint=arn, Attributes=attributes)
        return url

    def envelopes(self, url: str) -> list[dict[str, Any]]:
        messages = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get(
            "Messages", []
        )
        return [json.loads(m["Body"]) for m in messages]


@pytest.fixture
def topic(aws: None) -> Topic:
    return Topic()


def test_publish_sends_subject_attributes_and_the_document(topic):
    queue = topic.queue("copy")
    n = notification()
    message_id = sns.publish(AwsSessions(REGION), topic.arn, n)
    [envelope] = topic.envelopes(queue)
    assert envelope["MessageId"] == message_id
    assert envelope["Subject"] == "[FAIL] academy-video LOG_GROUP_CHECK: log group /aws/x missing"
    attributes = dict(envelope["MessageAttributes"])
    document = attributes.pop(DOCUMENT_ATTRIBUTE)
    assert attributes == {
        "target": {"Type": "String", "Value": "academy-video"},
        "check": {"Type": "String", "Value": "LOG_GROUP_CHECK"},
        "status": {"Type": "String", "Value": "FAIL"},
        "event": {"Type": "String", "Value": "FAIL"},
    }
    assert Notification.from_document(json.loads(document["Value"])) == n
    assert envelope["Message"] == render_text(n)  # e-mail reads the text


def test_the_message_structure_is_string_so_attributes_are_delivered(topic):
    """'Message attributes are sent only when the message structure is String, not JSON'
    (Amazon SNS Developer Guide, message attributes): with MessageStructure=json the
    filter policies on check/status/event would never match on AWS. The emulator
    delivers them either way, so the request itself is checked."""
    sent: list[dict[str, Any]] = []
    sessions = AwsSessions(REGION)
    client = sessions.client("sns", REGION)
    client.meta.events.register(
        "provide-client-params.sns.Publish", lambda params, **_: sent.append(dict(params))
    )
    n = notification()
    sns.publish(sessions, topic.arn, n)
    [params] = sent
    assert "MessageStructure" not in params
    assert params["Message"] == render_text(n)
    assert "Detail:\n  log group /aws/x missing" in params["Message"]
    assert set(params["MessageAttributes"]) == {"target", "check", "status", "event", "document"}


def test_a_very_long_subject_is_cut_to_what_sns_accepts(topic):
    queue = topic.queue("copy")
    n = notification(detail="log group " + "/very/long/name" * 30 + " missing")
    sns.publish(AwsSessions(REGION), topic.arn, n)
    [envelope] = topic.envelopes(queue)
    # "less than 100 characters long" (Publish API reference)
    assert len(envelope["Subject"]) == SNS_SUBJECT_MAX_CHARS == 99
    assert envelope["Subject"] == subject(n)
    assert envelope["Subject"].endswith("...")


def test_subscribers_can_filter_on_the_event_attribute(topic):
    everything = topic.queue("everything")
    resolved_only = topic.queue("resolved-only", {"event": ["RESOLVED"]})
    sessions = AwsSessions(REGION)
    for event in (Event.FAIL, Event.RESOLVED):
        sns.publish(sessions, topic.arn, notification(event))
    assert len(topic.envelopes(everything)) == 2
    [resolved] = topic.envelopes(resolved_only)
    assert resolved["Subject"] == "[RESOLVED] academy-video LOG_GROUP_CHECK: resolved after 42 min"


def test_publish_goes_to_the_topic_region(aws):
    other = Topic("eu-west-1")
    queue = other.queue("copy")
    sns.publish(AwsSessions(REGION), other.arn, notification())
    assert len(other.envelopes(queue)) == 1


@pytest.mark.parametrize(
    "arn", ["", "my-topic", "arn:aws:sqs:ap-northeast-2:123456789012:q", "arn:aws:sns::1:t"]
)
def test_not_a_topic_arn_is_refused_before_any_call(arn):
    with pytest.raises(ValueError, match="not an SNS topic ARN"):
        sns.topic_region(arn)
