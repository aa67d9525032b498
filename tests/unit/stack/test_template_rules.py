"""CloudFormation, CloudWatch, Lambda and IAM rules that linters miss, checked on the
templates as they would be deployed (tests/support/cfn.py), in the worst case.

- No intrinsic function as an Fn::Join delimiter (nor as an Fn::Split delimiter or an
  Fn::Sub template): CreateStack refuses it; cfn-lint 1.58 does not report it.
- One Metrics Insights query per dashboard widget and per alarm: a widget is one
  GetMetricData request, which runs one such query.
- The monitor's environment within Lambda's 4 KB with every parameter at its MaxLength.
- The roles' inline policies within IAM's 10,240 characters with every list at its longest.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from support.cfn import ROOT, Stack, TemplateError, deploy, load

from batch_health.limits import (
    ALARM_DESCRIPTION_MAX_CHARS,
    ALARM_NAME_MAX_CHARS,
    CFN_PARAMETER_VALUE_MAX_BYTES,
    EVENT_PATTERN_MAX_CHARS,
    IAM_MANAGED_POLICY_MAX_CHARS,
    IAM_ROLE_INLINE_POLICIES_MAX_CHARS,
    LAMBDA_ENVIRONMENT_MAX_BYTES,
    METRICS_INSIGHTS_QUERIES_PER_ALARM,
    METRICS_INSIGHTS_QUERIES_PER_WIDGET,
)

TEMPLATES = [ROOT / "template.yaml", ROOT / "templates" / "target-account-role.yaml"]
# A stack name at CloudFormation's maximum (128 characters) makes the longest generated
# resource names, and a long region the longest ARNs.
LONGEST_STACK = "s" * 128
LONG_REGION = "ap-southeast-7"


def intrinsic_violations(node: Any, where: str = "") -> Iterator[str]:
    """Every Fn::Join / Fn::Split delimiter or Fn::Sub template that is not a literal."""
    if isinstance(node, dict):
        for key, value in node.items():
            here = f"{where}.{key}" if where else key
            if (
                key in ("Fn::Join", "Fn::Split")
                and isinstance(value, list)
                and value
                and not isinstance(value[0], str)
            ):
                yield f"{here}: delimiter {json.dumps(value[0])} is a function"
            if key == "Fn::Sub":
                text = value[0] if isinstance(value, list) else value
                if not isinstance(text, str):
                    yield f"{here}: template {json.dumps(text)} is a function"
            yield from intrinsic_violations(value, here)
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from intrinsic_violations(item, f"{where}[{i}]")


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_no_function_as_a_join_delimiter(path):
    """'For the Fn::Join delimiter, you can't use any functions. You must specify a string
    value.' (CloudFormation template reference, Fn::Join)."""
    assert list(intrinsic_violations(load(path))) == []


def test_the_rule_catches_the_delimiter_that_broke_create_stack():
    old = {
        "Resource": {
            "Fn::Split": [
                ",",
                {
                    "Fn::Sub": [
                        "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${Names}",
                        {
                            "Names": {
                                "Fn::Join": [
                                    {"Fn::Sub": ",arn:${AWS::Partition}:iam::${AWS::AccountId}:"},
                                    {"Ref": "JobRoleNames"},
                                ]
                            }
                        },
                    ]
                },
            ]
        }
    }
    assert len(list(intrinsic_violations(old))) == 1
    stack = Stack({"Resources": {}, "Parameters": {}}, {"JobRoleNames": ["a", "b"]})
    with pytest.raises(TemplateError, match="can't use any functions"):
        stack.resolve(old)


# --- Metrics Insights --------------------------------------------------------------------


def metrics_insights_queries(metrics: list[Any]) -> list[str]:
    found = []
    for row in metrics:
        for item in row if isinstance(row, list) else [row]:
            expression = (
                item.get("expression") or item.get("Expression") if isinstance(item, dict) else None
            )
            if isinstance(expression, str) and expression.lstrip().upper().startswith("SELECT"):
                found.append(expression)
    return found


def dashboard_widgets(stack: Stack) -> list[dict[str, Any]]:
    return json.loads(stack.properties("HealthDashboard")["DashboardBody"])["widgets"]


def test_each_dashboard_widget_runs_one_metrics_insights_query_at_most():
    stack = deploy(parameters={"JobQueue": "q", "JobDefinition": "jd", "Dashboard": "enabled"})
    widgets = dashboard_widgets(stack)
    counts = {
        w["properties"].get("title"): len(
            metrics_insights_queries(w["properties"].get("metrics", []))
        )
        for w in widgets
        if w["type"] == "metric"
    }
    assert counts and max(counts.values()) <= METRICS_INSIGHTS_QUERIES_PER_WIDGET, counts
    # Checks failing, suite runs, failed checks, queue depth, oldest RUNNABLE and STARTING age.
    assert sum(counts.values()) >= 6
    assert counts["Queue depth now (jobs by status)"] == 1


def test_the_widget_rule_would_catch_two_queries_in_one_widget():
    two = [
        [{"expression": 'SELECT SUM(SuiteRun) FROM "N"'}],
        [{"expression": "SELECT MAX(x) FROM y"}],
    ]
    assert len(metrics_insights_queries(two)) == 2


def test_each_alarm_has_one_metrics_insights_query_at_most_and_fits_its_limits():
    stack = deploy(parameters={"JobQueue": "q", "JobDefinition": "jd"}, stack_name=LONGEST_STACK)
    alarms = {
        name: res["Properties"]
        for name, res in stack.resources.items()
        if res["Type"] == "AWS::CloudWatch::Alarm"
    }
    assert alarms
    for name, props in alarms.items():
        queries = metrics_insights_queries(props.get("Metrics", []))
        assert len(queries) <= METRICS_INSIGHTS_QUERIES_PER_ALARM, name
        assert len(props["AlarmName"]) <= ALARM_NAME_MAX_CHARS, name
        assert len(props.get("AlarmDescription", "")) <= ALARM_DESCRIPTION_MAX_CHARS, name


# --- the worst case -----------------------------------------------------------------------

ACCOUNT = "123456789012"


def longest_role_arns(limit: int, wildcard: bool) -> str:
    """Role ARNs, comma-separated, as long as `limit` allows."""
    arn = f"arn:aws:iam::{ACCOUNT}:role/" + ("batch/*" if wildcard else "r")
    parts: list[str] = []
    while len(",".join([*parts, arn + "x" * 20])) <= limit:
        parts.append(arn + "x" * 20)
    text = ",".join(parts)
    return text + "y" * (limit - len(text))


def longest_queue_arns(limit: int) -> str:
    """Job queue ARNs, comma-separated, as long as `limit` allows."""
    arn = f"arn:aws:batch:{LONG_REGION}:{ACCOUNT}:job-queue/"
    parts: list[str] = []
    while len(",".join([*parts, arn + "q" * 20])) <= limit:
        parts.append(arn + "q" * 20)
    text = ",".join(parts)
    return text + "q" * (limit - len(text))


def most_queue_arns(limit: int) -> str:
    """As many job queue ARNs as `limit` allows, each as short as the parameter's pattern
    accepts: the most quotes and separators a rendered list can add."""
    arn = f"arn:aws:batch:a:{ACCOUNT}:job-queue/q"
    return ",".join([arn] * ((limit + 1) // (len(arn) + 1)))


def at_max_length(spec: dict[str, Any], name: str) -> str:
    """A value of the parameter's MaxLength that its AllowedPattern accepts."""
    n = int(spec["MaxLength"])
    values = {
        "JobQueue": "q" * n,
        "JobDefinition": "d" * n,
        "LogGroup": "/" + "g" * (n - 1),
        "TargetName": "t" * n,
        "ConfigSources": "c" * n,  # JSON in practice; the template does not look into it
        "SmokeParameters": "p" * n,
        "TargetsParameter": "/" + "p" * (n - 1),
        "MetricNamespace": "N" * n,
        "CriticalChecks": "C" * n,
        "SmokeSchedule": "cron(" + "0" * (n - 16) + " * ? * ? *)",
        "AlertEmail": "a" * (n - 12) + "@example.com",
        "SlackWebhookSecretArn": f"arn:aws:secretsmanager:{LONG_REGION}:{ACCOUNT}:secret:"
        + "s" * (n - 65)
        + "-a1B2c3",
        "SlackWebhookSecretKeyArn": f"arn:aws:kms:{LONG_REGION}:{ACCOUNT}:key/{'a' * 8}-"
        + "-".join(["b" * 4] * 3)
        + f"-{'c' * 12}",
        "MonitoredRegions": ",".join([LONG_REGION] * ((n + 1) // (len(LONG_REGION) + 1))),
        "LogGroupPrefix": "/" + "l" * (n - 1),
        "ConfigParameterPath": "/" + "c" * (n - 1),
        "JobRoleArns": longest_role_arns(n, wildcard=True),
        "TargetRoleArns": longest_role_arns(n, wildcard=False),
        "EventJobQueueArns": longest_queue_arns(n),
        "EventSourceAccounts": ",".join([ACCOUNT] * ((n + 1) // 13)),
    }
    value = values[name]
    assert len(value) <= n, name
    if "AllowedPattern" in spec:
        assert re.fullmatch(spec["AllowedPattern"], value), (name, value[:60])
    return value


def worst_case_parameters() -> dict[str, str]:
    parameters = load(ROOT / "template.yaml")["Parameters"]
    values = {
        name: at_max_length(spec, name)
        for name, spec in parameters.items()
        if spec.get("Type", "String") == "String" and "MaxLength" in spec
    }
    return {
        **values,
        "Stage": "prod",
        "PublishDurationMetrics": "true",
        "ReserveConcurrency": "true",
        "CancelUnplaceable": "true",
    }


@pytest.mark.parametrize("arns", [longest_queue_arns, most_queue_arns])
def test_the_events_rule_fits_eventbridge_with_the_queue_list_at_its_longest(arns):
    """EventBridge refuses a pattern over 2,048 characters, so CreateStack fails: the list
    of queues is written once, and EventJobQueueArns's MaxLength is what fits."""
    spec = load(ROOT / "template.yaml")["Parameters"]["EventJobQueueArns"]
    value = arns(int(spec["MaxLength"]))
    assert re.fullmatch(spec["AllowedPattern"], value)
    parameters = {**worst_case_parameters(), "EventJobQueueArns": value}
    stack = deploy(parameters=parameters, region=LONG_REGION, stack_name=LONGEST_STACK)
    pattern = stack.properties("BatchEventsRule")["EventPattern"]
    assert len(pattern["detail"]["jobQueue"]) == value.count(",") + 1
    # CloudFormation sends the pattern as JSON; counted with JSON's spaces, the longer form.
    size = len(json.dumps(pattern))
    assert size <= EVENT_PATTERN_MAX_CHARS, size


def test_every_free_text_parameter_has_a_max_length():
    """Without one, nothing bounds the environment or the policies below."""
    parameters = load(ROOT / "template.yaml")["Parameters"]
    unbounded = [
        name
        for name, spec in parameters.items()
        if spec.get("Type", "String") in ("String", "CommaDelimitedList")
        and "AllowedValues" not in spec
        and "MaxLength" not in spec
    ]
    assert unbounded == []
    for name, spec in parameters.items():
        assert int(spec.get("MaxLength", 0)) <= CFN_PARAMETER_VALUE_MAX_BYTES, name


def environment_size(variables: dict[str, str]) -> int:
    return sum(len(k.encode()) + len(str(v).encode()) for k, v in variables.items())


@pytest.mark.parametrize("function", ["MonitorFunction", "BatchEventsFunction"])
def test_each_environment_fits_lambda_with_every_parameter_at_its_maximum(function):
    stack = deploy(parameters=worst_case_parameters(), region=LONG_REGION, stack_name=LONGEST_STACK)
    variables = stack.properties(function)["Environment"]["Variables"]
    size = environment_size(variables)
    assert size <= LAMBDA_ENVIRONMENT_MAX_BYTES, (
        size,
        sorted(variables, key=lambda k: -len(variables[k])),
    )


def inline_policy_size(stack: Stack, role: str) -> int:
    """IAM counts the policies' characters without white space."""
    return sum(
        len(re.sub(r"\s+", "", json.dumps(doc, separators=(",", ":"))))
        for _, doc in stack.role_policy_documents(role)
    )


@pytest.mark.parametrize("role", ["MonitorFunctionRole", "BatchEventsFunctionRole"])
def test_each_role_fits_iam_with_every_list_at_its_longest(role):
    stack = deploy(parameters=worst_case_parameters(), region=LONG_REGION, stack_name=LONGEST_STACK)
    size = inline_policy_size(stack, role)
    assert size <= IAM_ROLE_INLINE_POLICIES_MAX_CHARS, size


def test_each_managed_policy_fits_iam_with_every_list_at_its_longest():
    stack = deploy(parameters=worst_case_parameters(), region=LONG_REGION, stack_name=LONGEST_STACK)
    attached = stack.managed_policy_documents("MonitorFunctionRole")
    assert sorted(name for name, _ in attached) == [
        "CancelUnplaceablePolicy",
        "TargetRolesReadPolicy",
    ]
    for name, doc in attached:
        size = len(re.sub(r"\s+", "", json.dumps(doc, separators=(",", ":"))))
        assert size <= IAM_MANAGED_POLICY_MAX_CHARS, (name, size)


def test_the_target_account_role_fits_iam_at_its_longest():
    path = ROOT / "templates" / "target-account-role.yaml"
    parameters = load(path)["Parameters"]
    assert all("MaxLength" in spec for spec in parameters.values())
    stack = deploy(
        path,
        {
            "MonitorRoleArn": f"arn:aws:iam::{ACCOUNT}:role/" + "m" * 64,
            "ExternalId": "e" * 1224,
            "RoleName": "r" * 64,
            "LogGroupPrefix": "/" + "l" * 511,
            "ConfigParameterPath": "/" + "c" * 1010,
            "SmokeJobQueue": "q" * 128,
            "SmokeJobDefinition": "d" * 128,
            "MonitorEventBusArn": f"arn:aws:events:{LONG_REGION}:{ACCOUNT}:event-bus/default",
            "CancelUnplaceable": "true",
        },
        region=LONG_REGION,
    )
    assert inline_policy_size(stack, "TargetRole") <= IAM_ROLE_INLINE_POLICIES_MAX_CHARS
    assert stack.exists("BatchEventsForwardRule")
