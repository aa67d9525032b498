"""template.yaml and samconfig.toml: what the stack promises, checked without deploying it:
alarms and dashboard from the registry, functions, layer, schedules, parameters, samconfig
(its IAM and secrets: test_template_iam.py)."""

from __future__ import annotations

import importlib.util
import json
import re
from types import ModuleType
from typing import Any

import pytest
from samcli.cli.types import CfnParameterOverridesType
from samcli.lib.config.samconfig import SamConfig
from support.cfn import ROOT, deploy
from support.template import PARAMETERS, RESOURCES, TEMPLATE, of_type, sub_text

from batch_health.checks import REGISTRY
from batch_health.runtime.notifier_settings import NotifierSettings
from batch_health.runtime.observability import SERVICE
from batch_health.runtime.settings import MonitorSettings


def load_generator() -> ModuleType:
    path = ROOT / "scripts" / "generate_check_alarms.py"
    spec = importlib.util.spec_from_file_location("generate_check_alarms", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def alarms() -> dict[str, dict[str, Any]]:
    return {name: r["Properties"] for name, r in of_type("AWS::CloudWatch::Alarm").items()}


def alarm_query(props: dict[str, Any]) -> str:
    return " ".join(
        sub_text(m["Expression"]) for m in props.get("Metrics", []) if "Expression" in m
    )


def resolve_if(value: Any, conditions: dict[str, bool]) -> Any:
    while isinstance(value, dict) and "Fn::If" in value:
        cond, yes, no = value["Fn::If"]
        value = yes if conditions[cond] else no
    return value


def schedule_seconds(schedule: str) -> int:
    amount, unit = re.fullmatch(r"rate\((\d+) (minutes?|hours?)\)", schedule).groups()
    return int(amount) * (3600 if unit.startswith("hour") else 60)


def schedule_conditions(schedule: str) -> dict[str, bool]:
    """The template's Every* conditions, as CheckSchedule=`schedule` makes them."""
    return {
        name: spec["Fn::Equals"][1] == schedule
        for name, spec in TEMPLATE["Conditions"].items()
        if name.startswith("Every")
    }


# --- per-check alarms --------------------------------------------------------------


def test_every_registered_check_has_exactly_one_alarm():
    by_check: dict[str, list[str]] = {}
    for name, props in alarms().items():
        for check in re.findall(r"\"Check\" = '([A-Z_]+)'", alarm_query(props)):
            by_check.setdefault(check, []).append(name)
    registered = [c.name for c in REGISTRY]
    assert {c: len(by_check.get(c, [])) for c in registered} == dict.fromkeys(registered, 1)
    assert set(by_check) == set(registered), "an alarm watches a check that is not registered"


@pytest.mark.parametrize("check", REGISTRY, ids=lambda c: c.name)
def test_check_alarm_says_what_failed_and_what_to_do(check):
    gen = load_generator()
    props = alarms()[gen.logical_id(check.name)]
    assert check.name in sub_text(props["AlarmName"])
    assert check.verifies.rstrip(".") in props["AlarmDescription"]
    assert "First:" in props["AlarmDescription"]
    assert len(props["AlarmDescription"]) <= 1024
    assert (props["ComparisonOperator"], props["Threshold"]) == ("GreaterThanOrEqualToThreshold", 1)
    query = alarm_query(props)
    assert "MAX(CheckFailed)" in query and 'GROUP BY "Target"' in query
    assert props["AlarmActions"] == props["OKActions"] == [{"Ref": "AlertTopic"}]
    # A healthy check sends nothing: no data is OK. One failing period of the last two
    # keeps the alarm in ALARM, so a run landing late in the next period does not clear it.
    assert props["TreatMissingData"] == "notBreaching"
    assert (props["EvaluationPeriods"], props["DatapointsToAlarm"]) == (2, 1)


@pytest.mark.parametrize("schedule", PARAMETERS["CheckSchedule"]["AllowedValues"])
def test_check_alarm_period_is_at_least_the_period_of_the_runs_that_send_it(schedule):
    """A failing check sends 1 every run: a period shorter than the schedule's would have
    empty periods (OK, as missing data is) between runs, and the alarm would blink."""
    gen = load_generator()
    conditions = schedule_conditions(schedule)
    smoke = "rate(1 hour)"  # the longest schedule SmokeSchedule accepts (smoke is opt-in)
    for check in REGISTRY:
        (metric,) = alarms()[gen.logical_id(check.name)]["Metrics"]
        period = resolve_if(metric["Period"], conditions)
        if check.name in gen.SMOKE_CHECKS:
            assert period >= schedule_seconds(smoke), check.name
        else:
            assert period == schedule_seconds(schedule), check.name


def test_only_the_smoke_schedule_runs_the_smoke_checks():
    gen = load_generator()
    events = RESOURCES["MonitorFunction"]["Properties"]["Events"]
    assert json.loads(events["Smoke"]["Properties"]["Input"])["checks"] == list(gen.SMOKE_CHECKS)
    assert PARAMETERS["SmokeSchedule"]["Default"] == "disabled"  # real jobs: opted into
    assert schedule_seconds("rate(1 hour)") == gen.SMOKE_PERIOD


def test_generated_alarms_and_dashboard_are_up_to_date():
    gen = load_generator()
    text = (ROOT / "template.yaml").read_text()
    assert gen.update(text) == text, "run `make alarms` (scripts/generate_check_alarms.py)"


def test_dashboard_shows_every_check_alarm_and_the_monitor():
    body = sub_text(RESOURCES["HealthDashboard"]["Properties"]["DashboardBody"])
    widgets = json.loads(body)["widgets"]
    gen = load_generator()
    (checks_row,) = [w for w in widgets if w["properties"].get("title") == "Checks (any target)"]
    assert checks_row["type"] == "alarm"
    assert checks_row["properties"]["alarms"] == [
        f"${{{gen.logical_id(c.name)}.Arn}}" for c in REGISTRY
    ]
    titles = " | ".join(w["properties"].get("title", "") for w in widgets)
    for wanted in ("Suite runs", "errors", "duration"):
        assert wanted in titles


def test_dashboard_draws_each_query_with_gaps_as_0():
    """A healthy check sends nothing: FILL(q1, 0) draws the periods without data as 0
    (metric math takes a Metrics Insights query's time series as its input)."""
    body = sub_text(RESOURCES["HealthDashboard"]["Properties"]["DashboardBody"])
    queried = [
        w["properties"]["metrics"]
        for w in json.loads(body)["widgets"]
        if w["type"] == "metric" and "SELECT" in json.dumps(w)
    ]
    assert len(queried) == 6
    for query, filled in queried:
        assert query[0]["expression"].startswith("SELECT") and query[0]["visible"] is False
        assert filled[0]["expression"] == f"FILL({query[0]['id']}, 0)"


def test_dashboard_shows_the_queue_depth_now_and_the_oldest_waiting_jobs_age():
    """The gauges runtime/metrics.py sends from RUNNABLE_BACKLOG_CHECK: QueueDepth stacked by
    status per target, and the oldest RUNNABLE and STARTING job's age per target."""
    body = sub_text(RESOURCES["HealthDashboard"]["Properties"]["DashboardBody"])
    widgets = {w["properties"].get("title"): w for w in json.loads(body)["widgets"]}
    queries = {
        title: w["properties"]["metrics"][0][0]["expression"]
        for title, w in widgets.items()
        if "SELECT" in json.dumps(w)
    }
    depth = widgets["Queue depth now (jobs by status)"]
    assert depth["properties"]["stacked"] is True and depth["width"] == 24
    namespace = '"${MetricNamespace}"'
    assert queries["Queue depth now (jobs by status)"] == (
        f'SELECT MAX(QueueDepth) FROM {namespace} GROUP BY "Target", "Status"'
    )
    assert queries["Oldest RUNNABLE job's age (s)"] == (
        f'SELECT MAX(OldestRunnableAgeSeconds) FROM {namespace} GROUP BY "Target"'
    )
    assert queries["Oldest STARTING job's age (s)"] == (
        f'SELECT MAX(OldestStartingAgeSeconds) FROM {namespace} GROUP BY "Target"'
    )
    # Ages are not parts of one whole: not stacked. No widget covers another.
    assert not any(widgets[t]["properties"].get("stacked") for t in queries if "Oldest" in t)
    cells = [
        (w["x"] + dx, w["y"] + dy)
        for w in widgets.values()
        for dx in range(w["width"])
        for dy in range(w["height"])
    ]
    assert len(set(cells)) == len(cells) and all(x < 24 for x, _ in cells)


def test_the_dashboard_is_optional_and_off_by_default():
    spec = PARAMETERS["Dashboard"]
    assert (spec["Default"], sorted(spec["AllowedValues"])) == ("disabled", ["disabled", "enabled"])
    # Its price is said where it is chosen.
    assert "$3.00 per month" in spec["Description"] and "first three" in spec["Description"]
    groups = TEMPLATE["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
    assert any("Dashboard" in g["Parameters"] for g in groups)
    assert TEMPLATE["Conditions"]["DashboardEnabled"] == {
        "Fn::Equals": [{"Ref": "Dashboard"}, "enabled"]
    }
    assert RESOURCES["HealthDashboard"]["Condition"] == "DashboardEnabled"
    assert TEMPLATE["Outputs"]["DashboardUrl"]["Condition"] == "DashboardEnabled"
    target = {"JobQueue": "q", "JobDefinition": "jd"}
    assert not deploy(parameters=target).exists("HealthDashboard")
    assert deploy(parameters={**target, "Dashboard": "enabled"}).exists("HealthDashboard")


# --- heartbeat, errors --------------------------------------------------------------


def test_heartbeat_is_one_standard_metric_treating_missing_data_as_breaching():
    hb = alarms()["HeartbeatAlarm"]
    assert hb["TreatMissingData"] == "breaching"
    assert (hb["EvaluationPeriods"], hb["DatapointsToAlarm"]) == (2, 2)
    assert (hb["ComparisonOperator"], hb["Threshold"]) == ("LessThanThreshold", 1)
    # What emit_suite_run sends: one value per run, dimension service.
    assert "Metrics" not in hb
    assert (hb["Namespace"], hb["MetricName"], hb["Statistic"]) == (
        {"Ref": "MetricNamespace"},
        "SuiteRun",
        "Sum",
    )
    assert hb["Dimensions"] == [{"Name": "service", "Value": SERVICE}]
    assert hb["AlarmActions"] == hb["OKActions"] == [{"Ref": "AlertTopic"}]


@pytest.mark.parametrize("schedule", PARAMETERS["CheckSchedule"]["AllowedValues"])
def test_heartbeat_period_is_the_check_schedule(schedule):
    """Two missing periods = two missed runs, for every schedule the stack accepts."""
    period = resolve_if(alarms()["HeartbeatAlarm"]["Period"], schedule_conditions(schedule))
    assert period == schedule_seconds(schedule)


def test_heartbeat_and_check_alarms_share_the_schedule_chain():
    gen = load_generator()
    (check_metric,) = alarms()["QueueCheckAlarm"]["Metrics"]
    assert alarms()["HeartbeatAlarm"]["Period"] == check_metric["Period"]
    named = {condition for condition, _ in gen.SCHEDULE_PERIODS}
    assert named == {n for n in TEMPLATE["Conditions"] if n.startswith("Every")}


def test_function_errors_alarm():
    errors = alarms()["MonitorErrorsAlarm"]
    assert (errors["Namespace"], errors["MetricName"]) == ("AWS/Lambda", "Errors")
    assert errors["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": "MonitorFunction"}}]


def test_notification_failed_alarm_watches_what_the_function_emits():
    alarm = alarms()["NotificationFailedAlarm"]
    assert alarm["MetricName"] == "NotificationFailed"
    assert alarm["Dimensions"] == [{"Name": "service", "Value": SERVICE}]


def test_every_alarm_notifies_the_topic_and_is_named_after_the_stack():
    for name, props in alarms().items():
        assert props["AlarmActions"] == [{"Ref": "AlertTopic"}], name
        # The KMS key policy lets CloudWatch publish only for alarms named ${StackName}-*.
        assert sub_text(props["AlarmName"]).startswith("${AWS::StackName}-"), name


# --- functions, layer, schedules ----------------------------------------------------


def test_layer_is_built_by_its_makefile_for_python313():
    layer = RESOURCES["BatchHealthLayer"]
    assert layer["Type"] == "AWS::Serverless::LayerVersion"
    assert layer["Properties"]["ContentUri"] == "layers/"
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.13"]
    # Built by layers/Makefile, which also compiles the layer's bytecode (see the built
    # handler's integration test).
    assert layer["Metadata"]["BuildMethod"] == "makefile"
    assert (ROOT / "layers" / "requirements.txt").is_file()
    makefile = (ROOT / "layers" / "Makefile").read_text()
    assert "build-BatchHealthLayer:" in makefile
    assert "--invalidation-mode unchecked-hash" in makefile


def test_monitor_function():
    globals_ = TEMPLATE["Globals"]["Function"]
    assert globals_["Runtime"] == "python3.13" and globals_["Tracing"] == "Active"
    assert globals_["Layers"] == [{"Ref": "BatchHealthLayer"}]
    fn = RESOURCES["MonitorFunction"]["Properties"]
    assert (fn["CodeUri"], fn["Handler"]) == ("functions/monitor/", "app.lambda_handler")
    assert (ROOT / "functions" / "monitor" / "app.py").is_file()
    # Optional: a reservation needs 100 unreserved concurrency left in the account; runs
    # are kept from overlapping by a lease instead (tests/unit/runtime/test_lease.py).
    assert fn["ReservedConcurrentExecutions"] == {
        "Fn::If": ["ReservesConcurrency", 1, {"Ref": "AWS::NoValue"}]
    }
    assert PARAMETERS["ReserveConcurrency"]["Default"] == "false"
    on_failure = fn["EventInvokeConfig"]["DestinationConfig"]["OnFailure"]
    assert on_failure == {"Type": "SQS", "Destination": {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}}
    assert fn["EventInvokeConfig"]["MaximumRetryAttempts"] <= 2


def test_two_schedules_with_retries_and_dead_letters():
    events = RESOURCES["MonitorFunction"]["Properties"]["Events"]
    assert {e["Type"] for e in events.values()} == {"ScheduleV2"}
    suite, smoke = events["Suite"]["Properties"], events["Smoke"]["Properties"]
    assert suite["ScheduleExpression"] == {"Ref": "CheckSchedule"}
    assert PARAMETERS["CheckSchedule"]["Default"] == "rate(5 minutes)"
    assert PARAMETERS["SmokeSchedule"]["Default"] == "disabled"
    assert json.loads(smoke["Input"]) == {
        "allow_test_submit": True,
        "checks": ["SMOKE_SUBMIT_CHECK"],
    }
    assert smoke["State"] == {"Fn::If": ["SmokeEnabled", "ENABLED", "DISABLED"]}
    for schedule in (suite, smoke):
        assert schedule["RetryPolicy"]["MaximumRetryAttempts"] >= 1
        assert schedule["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}}
        assert schedule["OmitName"] is True  # two stacks in one account must not collide


def test_schedule_inputs_are_events_the_function_accepts():
    from batch_health.runtime.event import parse_event

    events = RESOURCES["MonitorFunction"]["Properties"]["Events"]
    suite = parse_event(json.loads(events["Suite"]["Properties"]["Input"]))
    assert suite.trigger == "schedule" and suite.request.notify is True
    smoke = parse_event(json.loads(events["Smoke"]["Properties"]["Input"]))
    assert smoke.request.checks == ["SMOKE_SUBMIT_CHECK"]


def test_explicit_log_groups_with_retention_per_stage():
    for fn in ("MonitorFunction", "SlackNotifierFunction"):
        props = RESOURCES[f"{fn}LogGroup"]["Properties"]
        assert props["LogGroupName"] == {"Fn::Sub": f"/aws/lambda/${{{fn}}}"}
        assert props["RetentionInDays"] == {
            "Fn::FindInMap": ["StageSettings", {"Ref": "Stage"}, "LogRetentionInDays"]
        }
    stages = PARAMETERS["Stage"]["AllowedValues"]
    assert set(TEMPLATE["Mappings"]["StageSettings"]) == set(stages)


def test_function_environment_is_exactly_what_the_settings_read():
    env = RESOURCES["MonitorFunction"]["Properties"]["Environment"]["Variables"]
    env = {**TEMPLATE["Globals"]["Function"]["Environment"]["Variables"], **env}
    read = {f.validation_alias for f in MonitorSettings.model_fields.values()} - {None}
    powertools_own = {"POWERTOOLS_LOG_LEVEL"}
    assert set(env) - powertools_own <= read
    # Not set on purpose: Powertools would add a `service` dimension to every single_metric,
    # and the alarms query exactly Target and Check.
    assert "POWERTOOLS_SERVICE_NAME" not in env


def test_notifications_resources_match_the_contract():
    table = RESOURCES["IncidentTable"]["Properties"]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert table["AttributeDefinitions"] == [{"AttributeName": "pk", "AttributeType": "S"}]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    topic = RESOURCES["AlertTopic"]["Properties"]
    assert topic["KmsMasterKeyId"] == {"Ref": "AlertTopicKey"}
    slack = RESOURCES["SlackNotifierFunction"]
    assert slack["Condition"] == "HasSlack"
    props = slack["Properties"]
    assert (props["CodeUri"], props["Handler"]) == (
        "functions/slack_notifier/",
        "app.lambda_handler",
    )
    assert props["Events"]["Alerts"] == {
        "Type": "SNS",
        "Properties": {"Topic": {"Ref": "AlertTopic"}},
    }
    # Read its secret; decrypt with its customer managed key only when there is one
    # (tests/unit/stack/test_template_parameters.py).
    assert props["Policies"][0] == {
        "AWSSecretsManagerGetSecretValuePolicy": {"SecretArn": {"Ref": "SlackWebhookSecretArn"}}
    }
    assert [p["Fn::If"][0] for p in props["Policies"][1:]] == ["HasSlackKey"]
    read = {f.validation_alias for f in NotifierSettings.model_fields.values()}
    assert set(props["Environment"]["Variables"]) <= read
    email = RESOURCES["AlertEmailSubscription"]
    assert (email["Condition"], email["Properties"]["Protocol"]) == ("HasAlertEmail", "email")


def test_parameters_the_issue_names_exist():
    for name in (
        "Stage",
        "JobQueue",
        "JobDefinition",
        "LogGroup",
        "ConfigSources",
        "CheckSchedule",
        "SmokeSchedule",
        "SmokeParameters",
        "MetricNamespace",
        "AlertEmail",
        "SlackWebhookSecretArn",
        "CriticalChecks",
        "FailureThreshold",
        "RemindAfterMinutes",
        "TargetsParameter",
        "PublishDurationMetrics",
    ):
        assert name in PARAMETERS, name
    assert PARAMETERS["MetricNamespace"]["Default"] == "BatchHealth"
    assert PARAMETERS["CriticalChecks"]["Default"] == "LOG_GROUP_CHECK,SMOKE_SUBMIT_CHECK"
    assert set(PARAMETERS["CriticalChecks"]["Default"].split(",")) <= {c.name for c in REGISTRY}


# --- samconfig ----------------------------------------------------------------------


@pytest.mark.parametrize("env", ["default", "prod"])
def test_samconfig_environments(env):
    config = SamConfig(str(ROOT))
    assert config.get_all(["validate"], "parameters", env=env)["lint"] is True
    build = config.get_all(["build"], "parameters", env=env)
    assert build["cached"] is True and build["parallel"] is True
    deploy = config.get_all(["deploy"], "parameters", env=env)
    assert config.get_all(["deploy"], "parameters", env=env)["stack_name"].startswith(
        "batch-health"
    )
    overrides = CfnParameterOverridesType().convert(
        tuple(deploy["parameter_overrides"]), None, None
    )
    for key, value in overrides.items():
        spec = PARAMETERS[key]  # every override names a template parameter
        if "AllowedValues" in spec:
            assert value in spec["AllowedValues"], (key, value)
        if "AllowedPattern" in spec:
            assert re.fullmatch(spec["AllowedPattern"], value), (key, value)
    assert overrides["Stage"] == ("dev" if env == "default" else "prod")
