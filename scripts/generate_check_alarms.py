"""Write template.yaml's per-check alarms and dashboard from the check registry.

    python scripts/generate_check_alarms.py          # rewrite the generated section
    python scripts/generate_check_alarms.py --check  # exit 1 when it is out of date

One alarm per registered check on `CheckFailed >= 1` for any target (a Metrics Insights
query grouped by Target, so targets added to TARGETS_PARAMETER are covered without a
redeploy); its description is the check's `verifies` plus a first step. The dashboard's
first row shows those alarms' states.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from batch_health.checks import REGISTRY, Check
from batch_health.limits import ALARM_DESCRIPTION_MAX_CHARS
from batch_health.text import clip

TEMPLATE = Path(__file__).resolve().parent.parent / "template.yaml"
BEGIN = "  # BEGIN GENERATED: per-check alarms and dashboard (scripts/generate_check_alarms.py)\n"
END = "  # END GENERATED\n"
STATIC_ALARMS = (
    "HeartbeatAlarm",
    "MonitorErrorsAlarm",
    "NotificationFailedAlarm",
    "DeadLetterAlarm",
)


def logical_id(check_name: str) -> str:
    """QUEUE_CHECK -> QueueCheckAlarm (logical IDs are alphanumeric)."""
    return "".join(part.capitalize() for part in check_name.split("_")) + "Alarm"


def alarm_name_suffix(check_name: str) -> str:
    return check_name


def first_hint(check: Check) -> str:
    deps = check.depends_on
    fix_deps = ""
    if deps:
        them = "it" if len(deps) == 1 else "them"
        fix_deps = (
            f"if {' or '.join(deps)} is also in ALARM, fix {them} first "
            f"(this check depends on {them}); then "
        )
    return (
        f"First: {fix_deps}run `batch-health check --checks {check.name}` with the target's "
        f"settings, or invoke MonitorFunction with "
        f'{{"checks": ["{check.name}"], "notify": false}}, and follow the hints it prints '
        f'(the function log\'s "target checked" line has the detail of every run).'
    )


def description(check: Check) -> str:
    text = (
        f"{check.name} FAILED on at least one target ({check.title}). "
        f"Verifies: {check.verifies.rstrip('.')}. {first_hint(check)}"
    )
    return clip(text, ALARM_DESCRIPTION_MAX_CHARS)


def check_query(check_name: str) -> str:
    return (
        'SELECT MAX(CheckFailed) FROM "${MetricNamespace}" '
        f'WHERE "Check" = \'{check_name}\' GROUP BY "Target"'
    )


def _yaml_str(text: str) -> str:
    # A JSON string is a valid YAML double-quoted scalar.
    return json.dumps(text, ensure_ascii=False)


def render_alarm(check: Check) -> str:
    return f"""  {logical_id(check.name)}:
    Type: AWS::CloudWatch::Alarm
    Properties:
      AlarmName: !Sub ${{AWS::StackName}}-{alarm_name_suffix(check.name)}
      AlarmDescription: {_yaml_str(description(check))}
      Metrics:
        - Id: failed
          Label: {check.name} failed, per target
          Expression: !Sub {_yaml_str(check_query(check.name))}
          Period: 60
          ReturnData: true
      ComparisonOperator: GreaterThanOrEqualToThreshold
      Threshold: 1
      EvaluationPeriods: 1
      DatapointsToAlarm: 1
      # Between runs there is no data: keep the last run's verdict.
      TreatMissingData: ignore
      AlarmActions: [!Ref AlertTopic]
      OKActions: [!Ref AlertTopic]
"""


def metrics_insights_widgets(
    namespace: str, queries: Sequence[tuple[str, str, str]], *, y: int
) -> list[dict]:
    """One metric widget per Metrics Insights query, side by side in one row.

    A widget is one GetMetricData request, and CloudWatch runs at most one Metrics Insights
    query per request, so each query gets a widget of its own.
    """
    width = 24 // len(queries)
    return [
        {
            "type": "metric",
            "x": i * width,
            "y": y,
            "width": width,
            "height": 6,
            "properties": {
                "title": title,
                "region": "${AWS::Region}",
                "view": "timeSeries",
                "period": 300,
                "metrics": [
                    [
                        {
                            "id": "q1",
                            "expression": f"SELECT {aggregate} FROM {namespace} GROUP BY {by}",
                            "period": 300,
                        }
                    ]
                ],
            },
        }
        for i, (title, aggregate, by) in enumerate(queries)
    ]


def dashboard_body(registry: Sequence[Check]) -> dict:
    namespace = '"${MetricNamespace}"'
    check_alarms = [f"${{{logical_id(c.name)}.Arn}}" for c in registry]
    monitor_alarms = [f"${{{name}.Arn}}" for name in STATIC_ALARMS]
    return {
        "widgets": [
            {
                "type": "alarm",
                "x": 0,
                "y": 0,
                "width": 24,
                "height": 3,
                "properties": {"title": "Checks (any target)", "alarms": check_alarms},
            },
            {
                "type": "alarm",
                "x": 0,
                "y": 3,
                "width": 24,
                "height": 2,
                "properties": {"title": "The monitor itself", "alarms": monitor_alarms},
            },
            *metrics_insights_widgets(
                namespace,
                [
                    ("CheckFailed by check and target", "MAX(CheckFailed)", '"Check", "Target"'),
                    ("Suite runs per target", "SUM(SuiteRun)", '"Target"'),
                    ("Failed checks per target", "MAX(FailedChecks)", '"Target"'),
                ],
                y=5,
            ),
            {
                "type": "metric",
                "x": 0,
                "y": 11,
                "width": 12,
                "height": 6,
                "properties": {
                    "title": "Monitor function: invocations, errors, throttles",
                    "region": "${AWS::Region}",
                    "view": "timeSeries",
                    "stat": "Sum",
                    "period": 300,
                    "metrics": [
                        ["AWS/Lambda", "Invocations", "FunctionName", "${MonitorFunction}"],
                        [".", "Errors", ".", "."],
                        [".", "Throttles", ".", "."],
                    ],
                },
            },
            {
                "type": "metric",
                "x": 12,
                "y": 11,
                "width": 12,
                "height": 6,
                "properties": {
                    "title": "Monitor function: duration (ms)",
                    "region": "${AWS::Region}",
                    "view": "timeSeries",
                    "period": 300,
                    "metrics": [
                        [
                            "AWS/Lambda",
                            "Duration",
                            "FunctionName",
                            "${MonitorFunction}",
                            {"stat": "Maximum"},
                        ],
                        ["...", {"stat": "Average"}],
                    ],
                },
            },
        ]
    }


def render_dashboard(registry: Sequence[Check]) -> str:
    body = json.dumps(dashboard_body(registry), indent=2)
    indented = "\n".join(f"        {line}" for line in body.splitlines())
    return f"""  HealthDashboard:
    Type: AWS::CloudWatch::Dashboard
    Properties:
      DashboardName: !Sub ${{AWS::StackName}}-health
      DashboardBody: !Sub |
{indented}
"""


def render_section(registry: Sequence[Check] = REGISTRY) -> str:
    parts = [render_alarm(check) for check in registry]
    parts.append(render_dashboard(registry))
    return BEGIN + "\n".join(parts) + END


def update(template_text: str, registry: Sequence[Check] = REGISTRY) -> str:
    start = template_text.index(BEGIN)
    end = template_text.index(END, start) + len(END)
    return template_text[:start] + render_section(registry) + template_text[end:]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if template.yaml is stale")
    parser.add_argument("--template", type=Path, default=TEMPLATE)
    args = parser.parse_args(argv)
    text = args.template.read_text(encoding="utf-8")
    fresh = update(text)
    if args.check:
        if fresh != text:
            print(f"{args.template}: per-check alarms are out of date; run `make alarms`")
            return 1
        return 0
    if fresh != text:
        args.template.write_text(fresh, encoding="utf-8")
        print(f"{args.template}: per-check alarms updated ({len(REGISTRY)} checks)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
