"""template.yaml and samconfig.toml: what the stack promises, checked without deploying it."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from samcli.cli.types import CfnParameterOverridesType
from samcli.lib.config.samconfig import SamConfig
from samcli.yamlhelper import yaml_parse

from batch_health.checks import REGISTRY
from batch_health.runtime.notifier_settings import NotifierSettings
from batch_health.runtime.observability import SERVICE
from batch_health.runtime.settings import MonitorSettings

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = yaml_parse((ROOT / "template.yaml").read_text())
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
PARAMETERS: dict[str, Any] = TEMPLATE["Parameters"]

# Actions granted on Resource "*", and why that is the narrowest possible.
WILDCARD_ALLOWED = {
    "batch:DescribeJobQueues": "Batch has no resource-level permissions for Describe*",
    "batch:DescribeComputeEnvironments": "Batch has no resource-level permissions for Describe*",
    "batch:DescribeJobDefinitions": "Batch has no resource-level permissions for Describe*",
    "batch:DescribeJobs": "Batch has no resource-level permissions for Describe*",
    "batch:ListJobs": "Batch has no resource-level permissions for ListJobs",
    "sts:GetCallerIdentity": "the call has no resource",
}
# Policies where "*" is not a wildcard over resources: in a KMS key policy, "*" is the key.
NOT_IAM_POLICIES = {"AlertTopicKey": "KeyPolicy: Resource '*' means this key"}


def load_generator() -> ModuleType:
    path = ROOT / "scripts" / "generate_check_alarms.py"
    spec = importlib.util.spec_from_file_location("generate_check_alarms", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def of_type(kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in RESOURCES.items() if r["Type"] == kind}


def alarms() -> dict[str, dict[str, Any]]:
    return {name: r["Properties"] for name, r in of_type("AWS::CloudWatch::Alarm").items()}


def sub_text(value: Any) -> str:
    """The text of a plain or !Sub string."""
    if isinstance(value, dict) and "Fn::Sub" in value:
        value = value["Fn::Sub"]
        return value[0] if isinstance(value, list) else value
    assert isinstance(value, str), value
    return value


def alarm_query(props: dict[str, Any]) -> str:
    return " ".join(
        sub_text(m["Expression"]) for m in props.get("Metrics", []) if "Expression" in m
    )


def resolve_if(value: Any, conditions: dict[str, bool]) -> Any:
    while isinstance(value, dict) and "Fn::If" in value:
        cond, yes, no = value["Fn::If"]
        value = yes if conditions[cond] else no
    return value


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


# --- heartbeat, errors --------------------------------------------------------------


def test_heartbeat_treats_missing_data_as_breaching():
    hb = alarms()["HeartbeatAlarm"]
    assert hb["TreatMissingData"] == "breaching"
    assert (hb["EvaluationPeriods"], hb["DatapointsToAlarm"]) == (2, 2)
    assert (hb["ComparisonOperator"], hb["Threshold"]) == ("LessThanThreshold", 1)
    assert "SUM(SuiteRun)" in alarm_query(hb)
    assert hb["AlarmActions"] == hb["OKActions"] == [{"Ref": "AlertTopic"}]


@pytest.mark.parametrize("schedule", PARAMETERS["CheckSchedule"]["AllowedValues"])
def test_heartbeat_period_is_the_check_schedule(schedule):
    """Two missing periods = two missed runs, for every schedule the stack accepts."""
    amount, unit = re.fullmatch(r"rate\((\d+) (minutes?|hours?)\)", schedule).groups()
    seconds = int(amount) * (3600 if unit.startswith("hour") else 60)
    conditions = {
        name: spec["Fn::Equals"][1] == schedule
        for name, spec in TEMPLATE["Conditions"].items()
        if name.startswith("Every")
    }
    period = resolve_if(alarms()["HeartbeatAlarm"]["Metrics"][0]["Period"], conditions)
    assert period == seconds


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
    # are kept from overlapping by a lease instead (tests/unit/test_lease.py).
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
    assert PARAMETERS["SmokeSchedule"]["Default"] == "rate(1 hour)"
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
    assert props["Policies"] == [
        {"AWSSecretsManagerGetSecretValuePolicy": {"SecretArn": {"Ref": "SlackWebhookSecretArn"}}}
    ]
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


# --- IAM ----------------------------------------------------------------------------


def iam_statements(resources: dict[str, Any] = RESOURCES) -> list[tuple[str, dict[str, Any]]]:
    """(resource, statement) for every identity-policy statement in the template; both
    branches of a conditional statement."""
    found = []

    def add(owner: str, statements: Any) -> None:
        for st in statements if isinstance(statements, list) else [statements]:
            if isinstance(st, dict) and "Fn::If" in st:
                add(owner, st["Fn::If"][1:])
            elif isinstance(st, dict) and "Effect" in st:
                found.append((owner, st))

    for name, res in resources.items():
        props = res.get("Properties", {})
        if res["Type"] == "AWS::Serverless::Function":
            for policy in props.get("Policies", []):
                add(name, policy.get("Statement", []))
        elif res["Type"] in ("AWS::IAM::Role", "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            for policy in props.get("Policies", [props.get("PolicyDocument", {})]):
                add(name, policy.get("PolicyDocument", policy).get("Statement", []))
    return found


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def wildcard_grants(resources: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (owner, action)
        for owner, st in iam_statements(resources)
        if st["Effect"] == "Allow" and "*" in as_list(st.get("Resource"))
        for action in as_list(st["Action"])
        if action not in WILDCARD_ALLOWED
    ]


def test_no_resource_star_on_an_action_that_accepts_an_arn():
    assert wildcard_grants(RESOURCES) == []
    assert set(NOT_IAM_POLICIES) <= set(RESOURCES)


def test_the_wildcard_check_would_catch_one():
    widened = json.loads(json.dumps(RESOURCES))
    statements = widened["MonitorFunction"]["Properties"]["Policies"][1]["Statement"]
    statements.append({"Effect": "Allow", "Action": "logs:GetLogEvents", "Resource": "*"})
    statements.append(
        {"Fn::If": ["HasSlack", {"Effect": "Allow", "Action": "sns:Publish", "Resource": "*"}, {}]}
    )
    assert wildcard_grants(widened) == [
        ("MonitorFunction", "logs:GetLogEvents"),
        ("MonitorFunction", "sns:Publish"),
    ]


def test_every_wildcard_is_justified_in_the_template_metadata():
    justified = TEMPLATE["Metadata"]["IamWildcardJustifications"]
    granted = {
        a
        for _, st in iam_statements()
        if "*" in as_list(st.get("Resource"))
        for a in as_list(st["Action"])
    }
    assert granted == set(WILDCARD_ALLOWED) == set(justified)


def statement(sid: str) -> dict[str, Any]:
    (st,) = [st for _, st in iam_statements() if st.get("Sid") == sid]
    return st


def test_smoke_submit_only_on_the_configured_queue_and_job_definition():
    st = statement("SmokeSubmit")
    assert st["Action"] == "batch:SubmitJob"
    arns = [sub_text(r) for r in st["Resource"]]
    assert all(
        a.endswith(("job/*", "job-queue/${JobQueue}", "${JobDefinition}", "${JobDefinition}:*"))
        for a in arns
    )
    # The new job's ARN (job/*) alone allows nothing: SubmitJob also needs the queue and
    # the job definition, which are named.
    assert sum(a.endswith("job/*") for a in arns) == 1
    submitters = [
        st
        for _, st in iam_statements()
        if "batch:SubmitJob" in as_list(st["Action"]) or "batch:*" in as_list(st["Action"])
    ]
    assert len(submitters) == 1


def test_smoke_terminate_and_tag_only_the_monitors_jobs():
    from batch_health.domain.smoke import SMOKE_TAG, TARGET_TAG

    terminate = statement("SmokeTerminate")
    assert terminate["Condition"] == {"StringEquals": {f"aws:ResourceTag/{SMOKE_TAG}": "true"}}
    assert sub_text(terminate["Resource"]).endswith(":job/*")
    tag = statement("SmokeTag")
    assert tag["Condition"] == {
        "ForAllValues:StringEquals": {"aws:TagKeys": [SMOKE_TAG, TARGET_TAG]}
    }
    cond, with_target, without = tag["Resource"]["Fn::If"]
    assert cond == "HasSubmitTarget"
    assert [sub_text(r).rsplit(":", 1)[-1] for r in with_target] == [
        "job/*",
        "job-queue/${JobQueue}",
        "job-definition/${JobDefinition}",
        "*",
    ]
    assert sub_text(without).endswith(":job/*")


def test_secret_is_readable_only_by_the_notifier():
    readers = [
        name
        for name, res in RESOURCES.items()
        if "AWSSecretsManagerGetSecretValuePolicy" in json.dumps(res.get("Properties", {}))
        or "secretsmanager:" in json.dumps(res.get("Properties", {}))
    ]
    assert readers == ["SlackNotifierFunction"]


# --- secrets ------------------------------------------------------------------------

SECRETISH = re.compile(r"SECRET|TOKEN|PASSWORD|WEBHOOK|API_KEY|PRIVATE", re.I)
SECRET_VALUES = re.compile(r"hooks\.slack\.com|xox[abprs]-|AKIA[0-9A-Z]{16}")


def function_env_vars() -> dict[str, Any]:
    env = dict(TEMPLATE["Globals"]["Function"]["Environment"]["Variables"])
    for name, res in of_type("AWS::Serverless::Function").items():
        for key, value in res["Properties"].get("Environment", {}).get("Variables", {}).items():
            env[f"{name}.{key}"] = value
    return env


def test_no_secret_in_environment_variables():
    for name, value in function_env_vars().items():
        assert not SECRET_VALUES.search(json.dumps(value)), name
        if SECRETISH.search(name.split(".")[-1]):
            # Only a reference to where the secret lives, validated to be an ARN.
            assert name.endswith("_ARN"), name
            parameter = PARAMETERS[value["Ref"]]
            assert parameter["AllowedPattern"].startswith("^$|^arn:aws")


def test_no_secret_in_parameters_or_samconfig():
    for name, spec in PARAMETERS.items():
        assert not SECRET_VALUES.search(str(spec.get("Default", ""))), name
    assert not SECRET_VALUES.search((ROOT / "samconfig.toml").read_text())


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
