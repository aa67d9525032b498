"""Batch's events to Slack, offline: a documented FAILED event and a blocked-queue event ->
the events function (confirming with the monitor) -> SNS -> the Slack notifier -> a Slack
stub on 127.0.0.1 over real HTTP; then the scheduled run that finds the cause gone resolves.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from support.batch_events import (
    JOB_TOO_LARGE,
    LOG_GROUP_MISSING,
    blocked,
    failed,
    monitor_behind_invoke,
    sqs_batch,
)
from test_notification_chain import TABLE, Stack, lambda_context, lambda_event, load_notifier
from test_slack_http import SlackStub

from batch_health.aws.sessions import AwsSessions
from batch_health.demo import LOG_GROUP, QUEUE, REGION
from batch_health.notify.webhook_secret import clear_cache
from batch_health.runtime import monitor
from batch_health.runtime.batch_events import handle
from batch_health.runtime.confirmation import monitor_confirmer
from batch_health.runtime.monitor import Runtime
from batch_health.runtime.observability import metrics
from batch_health.runtime.settings import BatchEventSettings, MonitorSettings

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning"),
]


def header(message: dict[str, Any]) -> str:
    return message["blocks"][0]["text"]["text"]


def test_failed_jobs_reach_slack_once_per_cause_and_resolve(seed_world, world, monkeypatch):
    clear_cache()
    monitor.reset_runtime()
    with SlackStub() as slack:
        stack = Stack(slack.url)
        env = {
            "AWS_REGION": REGION,
            "JOB_QUEUE": QUEUE,
            "JOB_DEFINITION": seed_world["job_definition"],
            "TARGET_NAME": "academy-video",
            "LOG_GROUP": LOG_GROUP,
            "ALERT_TOPIC_ARN": stack.topic_arn,
            "INCIDENT_TABLE_NAME": TABLE,
            "MONITOR_FUNCTION_NAME": "batch-health-monitor",
        }
        monkeypatch.setenv("SLACK_WEBHOOK_SECRET_ARN", stack.secret_arn)
        notifier = load_notifier()
        rt = Runtime(sessions=AwsSessions(REGION))
        monitor_behind_invoke(rt.sessions.client("lambda", single_attempt=True), env, REGION)
        settings = BatchEventSettings.from_env(env)

        def deliver() -> list[dict[str, Any]]:
            envelopes = stack.delivered()
            for envelope in envelopes:
                event = lambda_event(envelope, stack.topic_arn)
                answer = notifier.lambda_handler(event, lambda_context("slack-notifier"))
                assert answer == {"posted": 1}
            return envelopes

        events = [
            failed(n, queue=QUEUE, region=REGION, reason=LOG_GROUP_MISSING, log_group=LOG_GROUP)
            for n in range(1, 26)
        ]
        events.append(blocked(99, queue=QUEUE, region=REGION, reason=JOB_TOO_LARGE))
        confirm = monitor_confirmer(rt.sessions, env["MONITOR_FUNCTION_NAME"])
        answer = handle(
            sqs_batch(events), lambda_context("events"), settings, rt=rt, confirm=confirm
        )
        metrics.flush_metrics()
        assert answer == {"batchItemFailures": []}
        assert len(deliver()) == 2
        cards = {header(m): json.dumps(m) for m in slack.messages}
        failed_card = cards[":red_circle: FAIL: JOB_FAILURES_CHECK on academy-video"]
        assert "*Reason*\\nlog group missing" in failed_card and "*Jobs*\\n25" in failed_card
        assert f"Confirmed by check: LOG_GROUP_CHECK FAIL: log group missing: {LOG_GROUP}" in (
            failed_card
        )
        assert "aws logs create-log-group --log-group-name" in failed_card
        blocked_card = cards[":red_circle: FAIL: RUNNABLE_BACKLOG_CHECK on academy-video"]
        assert "*Reason*\\njob larger than any instance" in blocked_card

        # The log group is created; the next scheduled run finds LOG_GROUP_CHECK passing and
        # resolves the failures' incident (the blocked queue's stays: its check still fails).
        world.log_group(LOG_GROUP)
        scheduled = MonitorSettings.from_env(env)
        monitor.handle({"checks": ["LOG_GROUP_CHECK"]}, lambda_context("monitor"), scheduled, rt=rt)
        metrics.flush_metrics()
        resolved = [json.loads(e["MessageAttributes"]["document"]["Value"]) for e in deliver()]
        assert [(d["event"], d["check"]) for d in resolved] == [("RESOLVED", "JOB_FAILURES_CHECK")]
        assert header(slack.messages[-1]) == (
            ":large_green_circle: RESOLVED: JOB_FAILURES_CHECK on academy-video"
        )
    monitor.reset_runtime()
