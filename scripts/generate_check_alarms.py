"""Write template.yaml's per-check alarms and dashboard from the check registry.

    python scripts/generate_check_alarms.py          # rewrite the generated section
    python scripts/generate_check_alarms.py --check  # exit 1 when it is out of date

One alarm per registered check on `CheckFailed >= 1` for any target (a Metrics Insights
query grouped by Target, so targets added to TARGETS_PARAMETER are covered without a
redeploy); its description is the check's `verifies` plus a first step. A check sends
CheckFailed only while it fails (and 0 once when it recovers), so missing data is OK and,
with nothing sent, the query analyzes no metric (what such an alarm is billed for). Its
period is the schedule's that runs the check (the suite's CheckSchedule, through the
template's Every* conditions; the smoke run's hour), and it looks back two periods, so a
run that lands a little late in the next period does not let the alarm blink OK.

The dashboard (parameter Dashboard, off by default: CloudWatch bills a dashboard beyond
the account's first three) shows those alarms' states first, then the checks' metrics, each
queue's depth now (QueueDepth by status, stacked) and its oldest RUNNABLE and STARTING
job's age, and the monitor function's own.
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
# The template's conditions on CheckSchedule, and the period in seconds each one means;
# the heartbeat alarm uses the same chain (CloudFormation cannot compute it from the
# expression, so each allowed value is named).
SCHEDULE_PERIODS = (
    ("Every1Minute", 60),
    ("Every2Minutes", 120),
    ("Every5Minutes", 300),
    ("Every10Minutes", 600),
    ("Every15Minutes", 900),
    ("Every30Minutes", 1800),
)
OTHERWISE_PERIOD = 3600  # rate(1 hour), the last allowed value
# Checks the suite never runs (it SKIPs them): the Smoke schedule (rate(1 hour) by
# default) runs them, so their alarms' period is an hour.
SMOKE_CHECKS = ("SMOKE_SUBMIT_CHECK",)
SMOKE_PERIOD = 3600
EVALUATION_PERIODS = 2
DASHBOARD_CONDITION = "DashboardEnabled"
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


def schedule_period(indent: int) -> str:
    """The !If chain of the check schedule's period, as block YAML (a mapping value)."""
    lines = ["!If"]
    pad = indent
    for i, (condition, seconds) in enumerate(SCHEDULE_PERIODS):
        last = i == len(SCHEDULE_PERIODS) - 1
        lines += [f"{' ' * pad}- {condition}", f"{' ' * pad}- {seconds}"]
        lines.append(f"{' ' * pad}- {OTHERWISE_PERIOD if last else '!If'}")
        pad += 2
    return "\n".join(lines)


def render_period(check: Check, indent: int) -> str:
    if check.name in SMOKE_CHECKS:
        return f"{SMOKE_PERIOD}  # the Smoke schedule's rate(1 hour)"
    return schedule_period(indent)


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
          Period: {render_period(check, 12)}
          ReturnData: true
      ComparisonOperator: GreaterThanOrEqualToThreshold
      Threshold: 1
      # A failing check sends 1 every run: one breaching period of the last two keeps the
      # alarm in ALARM; the recovery's 0, then no data (OK), end it.
      EvaluationPeriods: {EVALUATION_PERIODS}
      DatapointsToAlarm: 1
      TreatMissingData: notBreaching
      AlarmActions: [!Ref AlertTopic]
      OKActions: [!Ref AlertTopic]
"""


def metrics_insights_widgets(
    namespace: str, queries: Sequence[tuple[str, str, str]], *, y: int, stacked: bool = False
) -> list[dict]:
    """One metric widget per Metrics Insights query, side by side in one row (`stacked`:
    each widget's series drawn stacked, as parts of one whole).

    A widget is one GetMetricData request, and CloudWatch runs at most one Metrics Insights
    query per request, so each query gets a widget of its own. The query is hidden and
    drawn through FILL(q1, 0): a healthy check sends nothing, so the periods between its
    datapoints show 0 instead of a gap (metric math takes a query's time series as input;
    a series with no datapoint in the query's window is not returned at all).
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
                **({"stacked": True} if stacked else {}),
                "period": 300,
                "metrics": [
                    [
                        {
                            "id": "q1",
                            "expression": f"SELECT {aggregate} FROM {namespace}"
                            + (f" GROUP BY {by}" if by else ""),
                            "period": 300,
                            "visible": False,
                        }
                    ],
                    [{"id": "filled", "expression": "FILL(q1, 0)", "period": 300}],
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
                    ("Suite runs (all targets)", "SUM(SuiteRun)", ""),
                    ("Failed checks per target", "MAX(FailedChecks)", '"Target"'),
                ],
                y=5,
            ),
            # QueueDepth and the ages are sent only while above 0: FILL draws an idle
            # queue as 0.
            *metrics_insights_widgets(
                namespace,
                [("Queue depth now (jobs by status)", "MAX(QueueDepth)", '"Target", "Status"')],
                y=11,
                stacked=True,
            ),
            *metrics_insights_widgets(
                namespace,
                [
                    (
                        "Oldest RUNNABLE job's age (s)",
                        "MAX(OldestRunnableAgeSeconds)",
                        '"Target"',
                    ),
                    (
                        "Oldest STARTING job's age (s)",
                        "MAX(OldestStartingAgeSeconds)",
                        '"Target"',
                    ),
                ],
                y=17,
            ),
            {
                "type": "metric",
                "x": 0,
                "y": 23,
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
                "y": 23,
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
    Condition: {DASHBOARD_CONDITION}
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
