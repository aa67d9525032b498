"""Every producer of output with a documented limit stays within it, whatever the content.

hypothesis drives adversarial content (non-ASCII, emoji, control characters, lone
surrogates, huge details and hints, 200 targets) through each producer and checks the
result against batch_health.limits: the SNS Publish request, Slack's Block Kit payload, the
EMF metric lines, the function's log line and response, the SSM target parameters.
"""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from batch_health.aws.targets_store import oversized, target_parameters
from batch_health.checks import CHECK_NAMES
from batch_health.config import TARGET_NAME_RE, ConfigError, parse_suite_config
from batch_health.limits import (
    DIMENSION_VALUE_MAX_CHARS,
    EMF_DIMENSIONS_PER_SET,
    EMF_METRICS_PER_DOCUMENT,
    LAMBDA_RESPONSE_MAX_BYTES,
    LOG_EVENT_MAX_BYTES,
    SLACK_BLOCKS_MAX,
    SLACK_CONTEXT_ELEMENTS_MAX,
    SLACK_CONTEXT_TEXT_MAX,
    SLACK_FIELD_TEXT_MAX,
    SLACK_FIELDS_MAX,
    SLACK_HEADER_TEXT_MAX,
    SLACK_SECTION_TEXT_MAX,
    SLACK_TEXT_MAX,
    SNS_ATTRIBUTE_NAME_MAX_CHARS,
    SNS_ATTRIBUTES_MAX,
    SNS_MESSAGE_MAX_BYTES,
    SNS_SUBJECT_MAX_CHARS,
    SSM_STANDARD_VALUE_MAX_BYTES,
    TARGETS_MAX,
)
from batch_health.models import CheckResult, Report, Status, SuiteReport
from batch_health.notify.alarms import AlarmChange, card_for_alarm
from batch_health.notify.messages import (
    Event,
    Link,
    Notification,
    log_group_url,
    publish_request,
    publish_size,
)
from batch_health.notify.slack import card_for_notification, card_for_text, render
from batch_health.runtime.metrics import emit_suite_metrics
from batch_health.runtime.monitor import fit_response

T0 = datetime(2025, 6, 1, 9, 0, tzinfo=UTC)
FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Text as AWS answers and people write it: any code point (control characters and lone
# surrogates included), emoji, Slack's control characters, sometimes very long.
odd = st.lists(
    st.one_of(
        st.characters(),
        st.sampled_from(["&", "<", ">", "|", "\n", "\x00", "\x1b", "😀", "👩‍👩‍👧", "é", "\ud800"]),
    ),
    max_size=300,
).map("".join)
huge = st.builds(lambda s, n: (s or "x") * n, odd, st.integers(1, 2000))
text = st.one_of(odd, huge)
target_names = st.from_regex(TARGET_NAME_RE, fullmatch=True)


@st.composite
def notifications(draw: Any) -> Notification:
    event = draw(st.sampled_from(list(Event)))
    since = T0 if event is not Event.TEST else None
    return Notification(
        event=event,
        target=draw(target_names),
        region="ap-northeast-2",
        check=draw(st.sampled_from(CHECK_NAMES)),
        status=draw(st.sampled_from(["OK", "WARN", "FAIL"])),
        detail=draw(text),
        occurred_at=T0 + timedelta(minutes=draw(st.integers(0, 100_000))),
        hints=tuple(draw(st.lists(text, max_size=30))),
        links=tuple(
            Link(draw(odd) or "log group", log_group_url("ap-northeast-2", draw(odd) or "/g"))
            for _ in range(draw(st.integers(0, 3)))
        ),
        since=since,
        failures=draw(st.integers(0, 10_000)),
        note=draw(text),
    )


# --- SNS -----------------------------------------------------------------------------------

INVALID_IN_A_MESSAGE = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@FAST
@given(notifications())
def test_the_sns_request_is_within_snss_limits(n):
    request = publish_request(n)
    assert publish_size(request) <= SNS_MESSAGE_MAX_BYTES
    subject = request["Subject"]
    assert 0 < len(subject) <= SNS_SUBJECT_MAX_CHARS
    assert re.fullmatch(r"[\x20-\x7e]+", subject), subject
    attributes = request["MessageAttributes"]
    assert len(attributes) <= SNS_ATTRIBUTES_MAX
    for name, attribute in attributes.items():
        assert len(name) <= SNS_ATTRIBUTE_NAME_MAX_CHARS
        assert attribute["StringValue"] and not INVALID_IN_A_MESSAGE.search(
            attribute["StringValue"]
        )
    assert not INVALID_IN_A_MESSAGE.search(request["Message"])
    request["Message"].encode("utf-8")  # no lone surrogate left
    # The document still names what happened.
    document = json.loads(attributes["document"]["StringValue"])
    assert (document["target"], document["check"], document["event"]) == (
        n.target,
        n.check,
        n.event.value,
    )


def test_a_message_of_the_largest_kind_is_shortened_not_refused():
    n = Notification(
        event=Event.FAIL,
        target="t",
        region="ap-northeast-2",
        check="LOG_GROUP_CHECK",
        status="FAIL",
        detail="😀" * 100_000,
        occurred_at=T0,
        hints=tuple("\x00" * 20_000 for _ in range(20)),
    )
    request = publish_request(n)
    assert publish_size(request) <= SNS_MESSAGE_MAX_BYTES
    assert "😀" in request["Message"]


# --- Slack ---------------------------------------------------------------------------------

ENTITY = re.compile(r"&(amp|lt|gt);")


def check_block_kit(payload: dict[str, Any]) -> None:
    blocks = payload["blocks"]
    assert len(blocks) <= SLACK_BLOCKS_MAX
    assert 0 < len(payload["text"]) <= SLACK_TEXT_MAX
    for block in blocks:
        if block["type"] == "header":
            assert 0 < len(block["text"]["text"]) <= SLACK_HEADER_TEXT_MAX
            assert block["text"]["type"] == "plain_text"
        elif block["type"] == "section":
            if "text" in block:
                assert 0 < len(block["text"]["text"]) <= SLACK_SECTION_TEXT_MAX
                assert_escaped(block["text"]["text"])
            fields = block.get("fields", [])
            assert len(fields) <= SLACK_FIELDS_MAX
            for item in fields:
                assert 0 < len(item["text"]) <= SLACK_FIELD_TEXT_MAX
        elif block["type"] == "context":
            assert len(block["elements"]) <= SLACK_CONTEXT_ELEMENTS_MAX
            for element in block["elements"]:
                assert 0 < len(element["text"]) <= SLACK_CONTEXT_TEXT_MAX
                assert_escaped(element["text"])


def assert_escaped(mrkdwn: str) -> None:
    """Every & begins an entity (never cut in half), and < > appear only in the links
    and dates the renderer made itself."""
    without_links = re.sub(r"<(https?://[^<>|]+\|[^<>]*|!date\^[^<>]+)>", "", mrkdwn)
    assert "<" not in without_links and ">" not in without_links, mrkdwn[:200]
    for match in re.finditer("&", without_links):
        assert ENTITY.match(without_links, match.start()), without_links[match.start() :][:10]


@FAST
@given(notifications())
def test_a_notification_renders_within_block_kit_limits(n):
    check_block_kit(render(card_for_notification(n)))


@FAST
@given(odd, text)
def test_any_other_message_renders_within_block_kit_limits(subject, message):
    check_block_kit(render(card_for_text(subject, message)))


@FAST
@given(text, text, text)
def test_an_alarm_renders_within_block_kit_limits(name, reason, description):
    alarm = AlarmChange(name=name or "a", new_state="ALARM", reason=reason, description=description)
    check_block_kit(render(card_for_alarm(alarm)))


def test_escaping_is_never_cut_in_half():
    """Clipping happens before escaping: a detail of ampersands ends on whole entities."""
    n = Notification(
        event=Event.FAIL,
        target="t",
        region="",
        check="LOG_GROUP_CHECK",
        status="FAIL",
        detail="&" * 5000,
        occurred_at=T0,
    )
    detail = render(card_for_notification(n))["blocks"][2]["text"]["text"]
    assert len(detail) <= SLACK_SECTION_TEXT_MAX
    assert re.fullmatch(r"(&amp;)+…", detail), detail[-12:]


# --- metrics, log, response, target parameters ----------------------------------------------


@st.composite
def suites(draw: Any, targets: int) -> SuiteReport:
    """`targets` targets (longest names), each with one drawn set of check outcomes."""
    statuses = draw(st.lists(st.sampled_from(list(Status)), min_size=12, max_size=12))
    details = draw(st.lists(odd, min_size=12, max_size=12))
    checks = [
        CheckResult(name, status, detail, [detail], {"fact": detail}, 10**6)
        for name, status, detail in zip(CHECK_NAMES, statuses, details, strict=False)
    ]
    name = draw(st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{50,62}", fullmatch=True))
    reports = [
        Report(f"{i:03d}{name}"[:63], "ap-northeast-2", checks, [], T0, T0) for i in range(targets)
    ]
    return SuiteReport(reports, T0, T0)


@settings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck))
@given(suites(targets=TARGETS_MAX))
def test_emf_lines_for_200_targets_are_within_the_format(capsys, suite):
    capsys.readouterr()
    emit_suite_metrics(suite, namespace="BatchHealth", publish_durations=True)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) >= 2 * TARGETS_MAX
    for line in lines:
        assert len(line.encode()) <= LOG_EVENT_MAX_BYTES
        document = json.loads(line)
        for directive in document["_aws"]["CloudWatchMetrics"]:
            assert len(directive["Metrics"]) <= EMF_METRICS_PER_DOCUMENT
            for dimension_set in directive["Dimensions"]:
                assert len(dimension_set) <= EMF_DIMENSIONS_PER_SET
                for key in dimension_set:
                    assert 0 < len(str(document[key])) <= DIMENSION_VALUE_MAX_CHARS


def huge_suite(targets: int) -> SuiteReport:
    detail = "x" * 20_000
    reports = [
        Report(
            f"target-{i}",
            "ap-northeast-2",
            [
                CheckResult(name, Status.FAIL, detail, [detail] * 3, {"blob": detail})
                for name in CHECK_NAMES
            ],
            [detail] * 12,
            T0,
            T0,
        )
        for i in range(targets)
    ]
    return SuiteReport(reports, T0, T0)


def test_the_response_for_200_large_targets_fits_lambdas_6_mb():
    document = huge_suite(TARGETS_MAX).to_dict()
    assert len(json.dumps(document).encode()) > LAMBDA_RESPONSE_MAX_BYTES  # the premise
    fitted = fit_response(document)
    assert len(json.dumps(fitted).encode()) <= LAMBDA_RESPONSE_MAX_BYTES
    assert "truncated" in fitted
    assert {c["status"] for r in fitted["reports"] for c in r["checks"]} == {"FAIL"}


def test_a_small_response_is_left_whole():
    document = huge_suite(2).to_dict()
    assert fit_response(json.loads(json.dumps(document))) == document


def test_the_log_line_of_a_target_with_huge_details_is_one_log_event():
    from batch_health.runtime.event import parse_event
    from batch_health.runtime.monitor import log_results
    from batch_health.runtime.observability import logger

    stream = io.StringIO()
    handler = logger.registered_handler
    original = handler.setStream(stream)
    try:
        log_results(huge_suite(1), parse_event({}))
    finally:
        handler.setStream(original)
    [line] = [x for x in stream.getvalue().splitlines() if "target checked" in x]
    assert len(line.encode()) <= LOG_EVENT_MAX_BYTES
    assert json.loads(line)["target"] == "target-0"


@FAST
@given(st.lists(st.tuples(target_names, odd), min_size=1, max_size=5, unique_by=lambda t: t[0]))
def test_a_target_parameter_over_4_kb_is_named_with_its_size(pairs):
    if any(v != v.encode("utf-8", "replace").decode() for _, v in pairs):
        with pytest.raises(ConfigError, match="not valid Unicode"):
            parse_suite_config(
                {
                    "targets": [
                        {
                            "name": n,
                            "job_queue": "q",
                            "job_definition": "d",
                            "smoke": {"parameters": {"p": v}},
                        }
                        for n, v in pairs
                    ]
                }
            )
        return
    config = parse_suite_config(
        {
            "targets": [
                {
                    "name": name,
                    "job_queue": "q",
                    "job_definition": "d",
                    "smoke": {"parameters": {"p": v * 50}},
                }
                for name, v in pairs
            ]
        }
    )
    parameters = target_parameters(config, "/batch-health/targets/")
    lines = oversized(parameters, "Standard")
    too_big = [p for p in parameters if p.size > SSM_STANDARD_VALUE_MAX_BYTES]
    assert len(lines) == len(too_big)
    for p, line in zip(too_big, lines, strict=True):
        assert line.startswith(p.name) and f"{p.size:,} bytes" in line


@pytest.mark.parametrize("tier", ["Standard", "Advanced"])
def test_every_tier_has_its_limit(tier):
    assert oversized([], tier) == []
