"""CloudWatch alarm state changes arriving on the alert topic, made readable.

Alarm actions publish a JSON document (AlarmName, NewStateValue, NewStateReason, ...);
EventBridge rules forwarding "CloudWatch Alarm State Change" events send another shape.
Both become an `AlarmChange`, shown in Slack with the alarm name, the new state and why.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from batch_health.notify.messages import Link, alarm_url
from batch_health.notify.slack import Card, slack_date

STATE_EMOJI = {
    "ALARM": ":rotating_light:",
    "OK": ":white_check_mark:",
    "INSUFFICIENT_DATA": ":grey_question:",
}


@dataclass(frozen=True)
class AlarmChange:
    name: str
    new_state: str
    reason: str
    old_state: str = ""
    description: str = ""
    changed_at: str = ""  # as the alarm sent it (ISO-8601)
    region: str = ""  # region code when known (from the ARN), else the display name
    account: str = ""
    metric: str = ""  # "Namespace MetricName (Dim=value, ...)"
    arn: str = ""

    @property
    def region_code(self) -> str:
        parts = self.arn.split(":")
        return parts[3] if len(parts) > 3 and parts[0] == "arn" else ""

    @property
    def link(self) -> Link | None:
        region = self.region_code
        return Link(f"Alarm {self.name}", alarm_url(region, self.name)) if region else None

    def changed_time(self) -> datetime | None:
        if not self.changed_at:
            return None
        try:
            # CloudWatch writes "2025-06-01T09:00:00.000+0000".
            return datetime.strptime(self.changed_at, "%Y-%m-%dT%H:%M:%S.%f%z")
        except ValueError:
            try:
                return datetime.fromisoformat(self.changed_at.replace("Z", "+00:00"))
            except ValueError:
                return None


def parse_alarm(message: str | dict[str, Any]) -> AlarmChange | None:
    """An AlarmChange, or None when the message is not an alarm state change."""
    doc: Any = message
    if isinstance(message, str):
        try:
            doc = json.loads(message)
        except json.JSONDecodeError:
            return None
    if not isinstance(doc, dict):
        return None
    if isinstance(doc.get("AlarmName"), str) and isinstance(doc.get("NewStateValue"), str):
        return _from_alarm_action(doc)
    if doc.get("detail-type") == "CloudWatch Alarm State Change" and isinstance(
        doc.get("detail"), dict
    ):
        return _from_event(doc)
    return None


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _from_alarm_action(doc: dict[str, Any]) -> AlarmChange:
    given = doc.get("Trigger")
    trigger: dict[str, Any] = given if isinstance(given, dict) else {}
    metric = ""
    if trigger.get("MetricName"):
        dims = trigger.get("Dimensions") or []
        dim_text = ", ".join(
            f"{d.get('name') or d.get('Name')}={d.get('value') or d.get('Value')}"
            for d in dims
            if isinstance(d, dict)
        )
        metric = " ".join(x for x in (_str(trigger.get("Namespace")), trigger["MetricName"]) if x)
        metric += f" ({dim_text})" if dim_text else ""
    elif doc.get("AlarmRule"):
        metric = f"composite: {doc['AlarmRule']}"
    arn = _str(doc.get("AlarmArn"))
    return AlarmChange(
        name=doc["AlarmName"],
        new_state=doc["NewStateValue"],
        reason=_str(doc.get("NewStateReason")),
        old_state=_str(doc.get("OldStateValue")),
        description=_str(doc.get("AlarmDescription")),
        changed_at=_str(doc.get("StateChangeTime")),
        region=(arn.split(":")[3] if arn.count(":") >= 3 else "") or _str(doc.get("Region")),
        account=_str(doc.get("AWSAccountId")),
        metric=str(metric),
        arn=arn,
    )


def _from_event(doc: dict[str, Any]) -> AlarmChange:
    detail = doc["detail"]
    state = detail.get("state") if isinstance(detail.get("state"), dict) else {}
    previous = detail.get("previousState") if isinstance(detail.get("previousState"), dict) else {}
    resources = doc.get("resources") or []
    arn = resources[0] if resources and isinstance(resources[0], str) else ""
    config = detail.get("configuration") if isinstance(detail.get("configuration"), dict) else {}
    return AlarmChange(
        name=_str(detail.get("alarmName")) or arn.rsplit(":", 1)[-1] or "(unnamed alarm)",
        new_state=_str(state.get("value")) or "UNKNOWN",
        reason=_str(state.get("reason")),
        old_state=_str(previous.get("value")),
        description=_str(config.get("description")),
        changed_at=_str(state.get("timestamp")) or _str(doc.get("time")),
        region=_str(doc.get("region")),
        account=_str(doc.get("account")),
        arn=arn,
    )


def card_for_alarm(alarm: AlarmChange) -> Card:
    change = f"{alarm.old_state} → {alarm.new_state}" if alarm.old_state else alarm.new_state
    when = alarm.changed_time()
    detail = alarm.reason or "(no reason given)"
    if alarm.description:
        detail = f"{alarm.description}\n{detail}"
    link = alarm.link
    return Card(
        header=f"{alarm.new_state}: {alarm.name}",
        emoji=STATE_EMOJI.get(alarm.new_state, ":bell:"),
        fallback=f"CloudWatch alarm {alarm.name} is {alarm.new_state}",
        fields=[
            ("Alarm", alarm.name),
            ("State", change),
            ("Region", alarm.region),
            ("Account", alarm.account),
            ("Metric", alarm.metric),
        ],
        extra_fields_mrkdwn=[("Changed", slack_date(when))] if when else [],
        detail=detail,
        links=[link] if link else [],
        footer="batch-health · CloudWatch alarm",
    )
