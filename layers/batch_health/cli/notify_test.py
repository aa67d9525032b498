"""`batch-health notify-test`: send a clearly marked test message through the channels.

Lets an operator check the wiring (topic policy, subscriptions, the Slack secret) without
waiting for an incident. Exit 0 when every channel took the message, 1 when one failed,
2 on a usage error.
"""

from __future__ import annotations

import argparse
import getpass
import socket
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import BotoCoreError

from batch_health.aws.errors import AWS_ERRORS, classify
from batch_health.aws.sessions import AwsSessions
from batch_health.cli.common import ExitCode, UsageError
from batch_health.models import Status, utc_now
from batch_health.notify import sns
from batch_health.notify.messages import Event, Notification, subject

TEST_TARGET = "notify-test"
TEST_CHECK = "NOTIFY_TEST"


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "notify-test",
        help="send a test message to the SNS topic and/or Slack to check the wiring",
        description=(
            "Sends one message marked TEST through each channel given. A topic the stack's "
            "Slack notifier subscribes to also reaches Slack that way."
        ),
    )
    parser.add_argument(
        "--topic-arn", metavar="ARN", help="the alert topic (arn:aws:sns:<region>:<acct>:<name>)"
    )
    parser.add_argument(
        "--slack-webhook-secret",
        metavar="ARN",
        help="Secrets Manager secret holding the Slack incoming-webhook URL (posted directly)",
    )
    parser.add_argument("--region", help="AWS region for a secret given by name")
    parser.set_defaults(handler=cmd_notify_test)


def build_test_notification(origin: str) -> Notification:
    return Notification(
        event=Event.TEST,
        target=TEST_TARGET,
        region="",
        check=TEST_CHECK,
        status=Status.OK.value,
        detail=f"Test message sent by `batch-health notify-test` from {origin}: the channel "
        "works. No action needed.",
        occurred_at=utc_now(),
        note="this is a test of the notification channels",
    )


def _origin() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def cmd_notify_test(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    if not args.topic_arn and not args.slack_webhook_secret:
        raise UsageError("notify-test needs --topic-arn and/or --slack-webhook-secret")
    if args.topic_arn:
        try:
            sns.topic_region(args.topic_arn)
        except ValueError as exc:
            raise UsageError(f"--topic-arn: {exc}") from None
    message = build_test_notification(_origin())
    sessions = AwsSessions(default_region=args.region or environ.get("AWS_REGION") or None)
    failed = 0
    print(f"Sending: {subject(message)}")
    if args.topic_arn:
        try:
            message_id = sns.publish(sessions, args.topic_arn, message)
            print(f"SNS:   sent to {args.topic_arn} (MessageId {message_id})")
        except AWS_ERRORS as exc:
            failure = classify(exc)
            failed += 1
            print(f"SNS:   FAILED: {failure.summary}")
            print(f"       hint: {failure.hint(action='sns:Publish', resource=args.topic_arn)}")
    if args.slack_webhook_secret and not send_to_slack(
        sessions, args.slack_webhook_secret, args.region, message
    ):
        failed += 1
    return ExitCode.CHECK_FAILED if failed else ExitCode.OK


def send_to_slack(
    sessions: AwsSessions, secret: str, region: str | None, message: Notification
) -> bool:
    """Post the message with the webhook in `secret`; says how it went; True when sent."""
    # Imported here: slack_sdk and Powertools' parameters cost every other command ~100 ms.
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

    from batch_health.notify.slack import SlackError, card_for_notification, post_message, render
    from batch_health.notify.webhook_secret import (
        WebhookSecretError,
        get_webhook_url,
        secret_region,
    )

    try:
        client = sessions.client("secretsmanager", region=secret_region(secret) or region)
        url = get_webhook_url(secret, provider=SecretsProvider(boto3_client=client))
        post_message(url, render(card_for_notification(message)))
    except BotoCoreError as exc:
        print(f"Slack: FAILED: cannot read {secret}: {classify(exc).summary}")
        return False
    except (WebhookSecretError, SlackError) as exc:
        print(f"Slack: FAILED: {exc}")
        return False
    print(f"Slack: sent (webhook from {secret})")
    return True
