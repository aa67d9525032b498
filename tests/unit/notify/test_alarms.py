"""CloudWatch alarm state changes on the alert topic: parsed and shown with name, state, reason."""

from __future__ import annotations

import json

import pytest

from batch_health.notify.alarms import card_for_alarm, parse_alarm
from batch_health.notify.slack import render

ACCOUNT = "123456789012"
HEARTBEAT = {
    "AlarmName": "batch-health-dev-heartbeat",
    "AlarmDescription": "The monitor has not run for 15 minutes",
    "AWSAccountId": ACCOUNT,
    "AlarmConfigurationUpdatedTimestamp": "2025-06-01T08:00:00.000+0000",
    "NewStateValue": "ALARM",
    "NewStateReason": (
        "Threshold Crossed: no datapoints were received for 3 periods and 3 missing "
        "datapoints were treated as [Breaching]."
    ),
    "StateChangeTime": "2025-06-01T09:15:00.123+0000",
    "Region": "Asia Pacific (Seoul)",
    "AlarmArn": f"arn:aws:cloudwatch:ap-northeast-2:{ACCOUNT}:alarm:batch-health-dev-heartbeat",
    "OldStateValue": "OK",
    "OKActions": [],
    "AlarmActions": [f"arn:aws:sns:ap-northeast-2:{ACCOUNT}:batch-health-alerts"],
    "Trigger": {
        "MetricName": "SuiteRun",
        "Namespace": "BatchHealth",
        "StatisticType": "Statistic",
        "Statistic": "SUM",
        "Dimensions": [{"value": "academy-video", "name": "Target"}],
        "Period": 300,
        "EvaluationPeriods": 3,
        "ComparisonOperator": "LessThanThreshold",
        "Threshold": 1.0,
        "TreatMissingData": "breaching",
    },
}


def blocks_text(payload: dict) -> str:
    return json.dumps(payload["blocks"], ensure_ascii=False)


def test_alarm_action_message_is_parsed():
    alarm = parse_alarm(json.dumps(HEARTBEAT))
    assert alarm is not None
    assert (alarm.name, alarm.old_state, alarm.new_state) == (
        "batch-health-dev-heartbeat",
        "OK",
        "ALARM",
    )
    assert alarm.reason.startswith("Threshold Crossed")
    assert alarm.region == "ap-northeast-2" and alarm.account == ACCOUNT
    assert alarm.metric == "BatchHealth SuiteRun (Target=academy-video)"
    assert alarm.changed_time() is not None


def test_alarm_card_in_slack():
    alarm = parse_alarm(HEARTBEAT)
    assert alarm is not None
    payload = render(card_for_alarm(alarm))
    header = payload["blocks"][0]["text"]["text"]
    assert header == ":rotating_light: ALARM: batch-health-dev-heartbeat"
    fields = [f["text"] for f in payload["blocks"][1]["fields"]]
    assert "*Alarm*\nbatch-health-dev-heartbeat" in fields
    assert "*State*\nOK → ALARM" in fields
    assert any(f.startswith("*Changed*\n<!date^") for f in fields)
    detail = payload["blocks"][2]["text"]["text"]
    assert HEARTBEAT["NewStateReason"].split(" (")[0] in detail  # why it changed
    text = blocks_text(payload)
    assert "treated as [Breaching]" in text
    assert "The monitor has not run for 15 minutes" in text
    assert (
        "<https://ap-northeast-2.console.aws.amazon.com/cloudwatch/home?region=ap-northeast-2"
        "#alarmsV2:alarm/batch-health-dev-heartbeat|Alarm batch-health-dev-heartbeat>"
    ) in text
    assert payload["text"] == "CloudWatch alarm batch-health-dev-heartbeat is ALARM"


def test_ok_state_gets_a_check_mark():
    alarm = parse_alarm({**HEARTBEAT, "NewStateValue": "OK", "OldStateValue": "ALARM"})
    assert alarm is not None
    assert render(card_for_alarm(alarm))["blocks"][0]["text"]["text"] == (
        ":white_check_mark: OK: batch-health-dev-heartbeat"
    )


def test_user_text_in_alarms_is_escaped():
    alarm = parse_alarm(
        {**HEARTBEAT, "NewStateReason": "x < 1 & <!channel>", "AlarmDescription": "a>b"}
    )
    assert alarm is not None
    text = blocks_text(render(card_for_alarm(alarm)))
    assert "x &lt; 1 &amp; &lt;!channel&gt;" in text and "a&gt;b" in text
    assert "<!channel>" not in text


def test_eventbridge_alarm_state_change_is_parsed():
    event = {
        "version": "0",
        "detail-type": "CloudWatch Alarm State Change",
        "source": "aws.cloudwatch",
        "account": ACCOUNT,
        "time": "2025-06-01T09:15:00Z",
        "region": "ap-northeast-2",
        "resources": [f"arn:aws:cloudwatch:ap-northeast-2:{ACCOUNT}:alarm:monitor-errors"],
        "detail": {
            "alarmName": "monitor-errors",
            "state": {"value": "ALARM", "reason": "1 error", "timestamp": "2025-06-01T09:15:00Z"},
            "previousState": {"value": "OK"},
            "configuration": {"description": "Errors of the monitor function"},
        },
    }
    alarm = parse_alarm(json.dumps(event))
    assert alarm is not None
    assert (alarm.name, alarm.new_state, alarm.reason, alarm.old_state) == (
        "monitor-errors",
        "ALARM",
        "1 error",
        "OK",
    )
    assert alarm.link is not None and "#alarmsV2:alarm/monitor-errors" in alarm.link.url


def test_composite_alarm_shows_its_rule():
    composite = {k: v for k, v in HEARTBEAT.items() if k != "Trigger"}
    composite["AlarmRule"] = 'ALARM("a") OR ALARM("b")'
    alarm = parse_alarm(composite)
    assert alarm is not None and alarm.metric == 'composite: ALARM("a") OR ALARM("b")'


@pytest.mark.parametrize(
    "message",
    ["plain text", "[1, 2]", json.dumps({"AlarmName": "x"}), json.dumps({"kind": "other"})],
)
def test_other_messages_are_not_alarms(message):
    assert parse_alarm(message) is None
