"""Publishing a notification to the stack's SNS topic."""

from __future__ import annotations

from batch_health.aws.sessions import AwsSessions
from batch_health.notify.messages import Notification, publish_request


def topic_region(topic_arn: str) -> str | None:
    """`arn:aws:sns:<region>:<account>:<name>` -> region; ValueError when it is not one."""
    parts = topic_arn.split(":")
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "sns" or not parts[3] or not parts[5]:
        raise ValueError(f"not an SNS topic ARN: {topic_arn!r}")
    return parts[3]


def publish(sessions: AwsSessions, topic_arn: str, message: Notification) -> str:
    """Publish to the topic (in the topic's region); returns the SNS MessageId."""
    client = sessions.client("sns", region=topic_region(topic_arn))
    response = client.publish(TopicArn=topic_arn, **publish_request(message))
    return str(response["MessageId"])
