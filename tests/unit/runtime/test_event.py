"""The monitor's event: a scheduled event or a manual request; bad input names the field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from batch_health.runtime.event import InvalidEventError, RunRequest, parse_event

EVENTS = Path(__file__).resolve().parents[3] / "events"


def load(name: str):
    return json.loads((EVENTS / name).read_text())


def test_eventbridge_scheduled_event_is_a_full_notifying_run():
    event = parse_event(load("scheduled.json"))
    assert event.trigger == "schedule"
    assert event.request == RunRequest()
    assert event.request.checks is None and event.request.notify is True
    assert event.request.allow_test_submit is False
    assert event.scheduled_time == "2026-01-15T03:05:00Z"


def test_scheduler_envelope_with_unknown_envelope_fields_is_accepted():
    # EventBridge Scheduler fills these in (template: the Suite schedule's Input); AWS may
    # add envelope fields (e.g. replay-name), which are not ours to reject.
    event = parse_event(
        {
            "detail-type": "Scheduled Event",
            "source": "aws.scheduler",
            "id": "exec-1",
            "time": "2026-01-15T03:05:00Z",
            "resources": ["arn:aws:scheduler:ap-northeast-2:123456789012:schedule/default/x"],
            "detail": {},
            "replay-name": "r1",
        }
    )
    assert event.trigger == "schedule" and event.request.notify is True


def test_manual_events():
    full = parse_event(load("manual-full.json")).request
    assert (full.checks, full.allow_test_submit, full.notify) == (None, False, False)
    smoke = parse_event(load("manual-smoke.json")).request
    assert smoke.checks == ["SMOKE_SUBMIT_CHECK"] and smoke.allow_test_submit is True
    single = parse_event(load("single-check.json")).request
    assert single.checks == ["LOG_GROUP_CHECK"]
    assert parse_event({}).request == RunRequest()


def test_the_smoke_schedule_input_is_a_valid_manual_event():
    request = parse_event({"allow_test_submit": True, "checks": ["SMOKE_SUBMIT_CHECK"]}).request
    assert request.allow_test_submit is True and request.notify is True


def test_check_names_are_normalised_and_deduplicated():
    request = parse_event({"checks": ["queue_check", "QUEUE_CHECK", "ce_check"]}).request
    assert request.checks == ["QUEUE_CHECK", "CE_CHECK"]


def test_the_invalid_sample_event_names_every_bad_field():
    with pytest.raises(InvalidEventError) as err:
        parse_event(load("invalid.json"))
    message = str(err.value)
    assert message.startswith("invalid event: ")
    assert "checks: unknown check LOGS_CHECK; valid checks: CONFIG_MATCH_QUEUE" in message
    assert "allow_test_submit: Input should be a valid boolean" in message
    assert "notfy: unknown field (valid fields: checks, allow_test_submit, notify, targets)" in (
        message
    )


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        ({"notify": "false"}, "notify: Input should be a valid boolean"),
        ({"checks": "QUEUE_CHECK"}, "checks: Input should be a valid list"),
        ({"checks": []}, "checks: List should have at least 1 item"),
        ({"checks": [""]}, "checks[0]: String should have at least 1 character"),
        ({"targets": ["a", 3]}, "targets[1]: Input should be a valid string"),
        ({"targets": ["\x1f"]}, "targets[0]: String should match pattern"),
        ({"targets": ["prod/eu"]}, "targets[0]: String should match pattern"),
        ({"detail-type": "Batch Job State Change", "source": "aws.batch"}, "detail-type: Input"),
        (
            {"detail-type": "Scheduled Event", "source": "aws.events", "detail": {"x": 1}},
            "detail.x: unknown field",
        ),
        ([], "event: expected a JSON object, got list"),
        (None, "event: expected a JSON object, got NoneType"),
    ],
)
def test_errors_name_the_field(event, expected):
    with pytest.raises(InvalidEventError) as err:
        parse_event(event)
    assert expected in str(err.value)


def test_options_can_ride_in_a_scheduled_events_detail():
    event = parse_event(
        {
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "detail": {"checks": ["LOG_GROUP_CHECK"], "notify": False},
        }
    )
    assert event.request.checks == ["LOG_GROUP_CHECK"] and event.request.notify is False


def test_an_unknown_field_spelled_like_pydantics_key_marker_is_still_named():
    # pydantic marks a bad dictionary key with "[key]" in the error's location; a field
    # of that name must not be mistaken for the marker and dropped from the message.
    with pytest.raises(InvalidEventError) as err:
        parse_event({"[key]": None})
    assert str(err.value).startswith("invalid event: '[key]': unknown field")
