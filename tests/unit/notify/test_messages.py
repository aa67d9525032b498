"""What an incident message says: subject, text body, console links, the JSON document."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from batch_health.limits import SNS_MESSAGE_MAX_BYTES
from batch_health.models import CheckResult, Report, Status
from batch_health.notify.incidents import incident_notification
from batch_health.notify.messages import (
    Event,
    Link,
    Notification,
    console_links,
    format_duration,
    message_attributes,
    publish_request,
    publish_size,
    render_text,
    subject,
)

REGION = "ap-northeast-2"
T0 = datetime(2025, 6, 1, 9, 0, tzinfo=UTC)
LOG_GROUP = "/aws/batch/academy-video-worker"
QUEUE_ARN = f"arn:aws:batch:{REGION}:123456789012:job-queue/academy-video-batch-queue"
HINTS = [
    f"Create it: `aws logs create-log-group --log-group-name {LOG_GROUP} --region {REGION}`",
    "Or let jobs create it: set awslogs-create-group=true",
]


def report(detail: str = f"log group {LOG_GROUP} missing", region: str = REGION) -> Report:
    checks = [
        CheckResult("QUEUE_CHECK", Status.OK, "ok", data={"jobQueueArn": QUEUE_ARN}),
        CheckResult("LOG_GROUP_CHECK", Status.FAIL, detail, HINTS, {"log_group": LOG_GROUP}),
    ]
    return Report("academy-video", region, checks, [], T0, T0)


def notification(event: Event = Event.FAIL, minutes: int = 0, **kw) -> Notification:
    r = report(**kw)
    result = r.result("LOG_GROUP_CHECK")
    assert result is not None
    return incident_notification(
        r, result, event, T0 + timedelta(minutes=minutes), since=T0, failures=3
    )


def test_fail_subject_is_the_issue_example():
    assert subject(notification()) == (
        "[FAIL] academy-video LOG_GROUP_CHECK: log group /aws/batch/academy-video-worker missing"
    )


@pytest.mark.parametrize(
    ("event", "minutes", "expected"),
    [
        (Event.REMINDER, 360, "[REMINDER] academy-video LOG_GROUP_CHECK: still failing after 6 h:"),
        (Event.RESOLVED, 42, "[RESOLVED] academy-video LOG_GROUP_CHECK: resolved after 42 min"),
    ],
)
def test_reminder_and_resolved_subjects_say_how_long(event, minutes, expected):
    assert subject(notification(event, minutes)).startswith(expected)


def test_subject_is_under_100_printable_ascii_characters():
    long = "log group " + "/aws/batch/" + "x" * 200 + " 로그 그룹이 없습니다\nsecond line"
    s = subject(notification(detail=long))
    assert len(s) == 99 and s.endswith("...")  # "less than 100 characters long"
    assert all(32 <= ord(c) < 127 for c in s)
    assert subject(notification(detail="café\tnaïve")).endswith(": cafe naive")


def test_text_body_has_detail_every_hint_and_console_links():
    text = render_text(notification())
    assert text.startswith("FAIL: LOG_GROUP_CHECK is failing on academy-video\n")
    assert f"  log group {LOG_GROUP} missing" in text
    for hint in HINTS:
        assert f"  - {hint}" in text
    assert (
        "https://ap-northeast-2.console.aws.amazon.com/cloudwatch/home?region=ap-northeast-2"
        "#logsV2:log-groups/log-group/$252Faws$252Fbatch$252Facademy-video-worker"
    ) in text
    assert (
        f"https://ap-northeast-2.console.aws.amazon.com/batch/home?region=ap-northeast-2"
        f"#queues/detail/{QUEUE_ARN}"
    ) in text
    assert "Failing since: 2025-06-01T09:00:00Z (3 failed runs)" in text


def test_resolved_text_says_resolved_after():
    text = render_text(notification(Event.RESOLVED, 42))
    assert text.startswith("RESOLVED: LOG_GROUP_CHECK on academy-video (resolved after 42 min)\n")
    assert "Resolved at:" in text and "Failed for:" in text


def test_links_follow_the_partition_and_are_absent_without_a_region():
    cn = console_links(report(region="cn-north-1"))
    assert all(link.url.startswith("https://console.amazonaws.cn/") for link in cn)
    assert console_links(report(region="")) == ()


def test_queue_link_without_an_arn_opens_the_queue_list():
    r = Report(
        "t",
        REGION,
        [CheckResult("QUEUE_CHECK", Status.FAIL, "missing", data={"job_queue": "q1"})],
        [],
        T0,
        T0,
    )
    assert console_links(r) == (
        Link(
            "Job queue q1",
            f"https://{REGION}.console.aws.amazon.com/batch/home?region={REGION}#queues",
        ),
    )


def test_the_publish_request_gives_people_text_and_programs_the_document():
    n = notification()
    request = publish_request(n)
    assert set(request) == {"Subject", "Message", "MessageAttributes"}
    assert request["Message"] == render_text(n)
    doc = json.loads(request["MessageAttributes"]["document"]["StringValue"])
    assert doc["kind"] == "batch-health.notification"
    assert (doc["event"], doc["target"], doc["check"], doc["status"]) == (
        "FAIL",
        "academy-video",
        "LOG_GROUP_CHECK",
        "FAIL",
    )
    assert doc["hints"] == HINTS and doc["subject"] == subject(n) == request["Subject"]


def test_document_round_trips():
    n = notification(Event.RESOLVED, 42)
    back = Notification.from_document(json.loads(json.dumps(n.to_document())))
    assert back == n
    assert back.duration == timedelta(minutes=42)


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"kind": "other"}, "not a batch-health.notification"),
        ({"event": "EXPLODED"}, "event: unknown value"),
        ({"target": ""}, "target: expected a non-empty string"),
        ({"hints": "one"}, "hints: expected a list"),
        ({"since": "yesterday"}, "since: expected an ISO-8601 time"),
    ],
)
def test_malformed_documents_name_the_field(change, error):
    doc = {**notification().to_document(), **change}
    with pytest.raises(ValueError, match=error):
        Notification.from_document(doc)


def test_message_attributes_for_subscription_filters():
    n = notification(Event.RESOLVED, 42)
    attrs = message_attributes(n)
    assert json.loads(attrs.pop("document")["StringValue"]) == n.to_document()
    assert attrs == {
        "target": {"DataType": "String", "StringValue": "academy-video"},
        "check": {"DataType": "String", "StringValue": "LOG_GROUP_CHECK"},
        "status": {"DataType": "String", "StringValue": "FAIL"},
        "event": {"DataType": "String", "StringValue": "RESOLVED"},
    }


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(seconds=20), "< 1 min"),
        (timedelta(minutes=42), "42 min"),
        (timedelta(hours=3), "3 h"),
        (timedelta(hours=3, minutes=5), "3 h 5 min"),
        (timedelta(days=2, hours=4, minutes=59), "2 d 4 h"),
    ],
)
def test_durations_read_like_a_person_wrote_them(delta, text):
    assert format_duration(delta) == text


def test_long_details_and_many_hints_are_clipped_for_sns():
    r = report(detail="x" * 5000)
    result = r.result("LOG_GROUP_CHECK")
    assert result is not None
    result.hints = [f"hint {i}" for i in range(50)]
    n = incident_notification(r, result, Event.FAIL, T0)
    assert len(n.detail) == 1000 and len(n.hints) == 20
    assert publish_size(publish_request(n)) <= SNS_MESSAGE_MAX_BYTES
