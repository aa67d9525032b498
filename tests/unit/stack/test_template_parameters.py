"""Parameters CloudFormation would accept but the deployment could not use are refused at
deploy, with a message naming them (the template's AllowedPatterns and Rules, evaluated as
CreateStack does: tests/support/cfn.py); and a quiet default stays quiet.

- MetricNamespace "AWS/...": "Namespaces starting with AWS/ are reserved for use by
  Amazon Web Services products" (PutMetricData,
  https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricData.html).
- A secret ARN without its suffix: "Secrets Manager adds a hyphen and six random characters
  after the secret name at the end of the ARN" (https://docs.aws.amazon.com/secretsmanager/latest/userguide/reference_iam-permissions.html#iam-resources).
- A rate of one unit takes the singular, more the plural: "If the value is equal to 1, then
  the unit must be singular" (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-scheduled-rule-pattern.html).
"""

from __future__ import annotations

import pytest
from support.cfn import TemplateError, deploy

from batch_health.demo import JOBDEF, QUEUE

SINGLE = {"JobQueue": QUEUE, "JobDefinition": JOBDEF, "TargetName": "academy-video"}
SECRET = "arn:aws:secretsmanager:ap-northeast-2:123456789012:secret:batch-health/slack-a1B2c3"
# AWS's example key ID (https://docs.aws.amazon.com/kms/latest/developerguide/concepts.html#key-id-key-ARN)
KEY = "arn:aws:kms:ap-northeast-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def refused(parameters: dict[str, str], match: str) -> None:
    with pytest.raises(TemplateError, match=match):
        deploy(parameters={**SINGLE, **parameters})


@pytest.mark.parametrize("namespace", ["AWS/Batch", "AWS/"])
def test_a_reserved_metric_namespace_is_refused(namespace):
    refused({"MetricNamespace": namespace}, "does not match")


def test_a_custom_namespace_is_accepted():
    assert deploy(parameters={**SINGLE, "MetricNamespace": "Team/AWSBatch"})


def test_forwarded_accounts_without_their_queues_are_refused_naming_what_to_set():
    refused(
        {"EventSourceAccounts": "111122223333"},
        "rule ForwardedEventsRead: EventSourceAccounts lets other accounts' Batch events in",
    )
    queue = f"arn:aws:batch:ap-northeast-2:111122223333:job-queue/{QUEUE}"
    assert deploy(
        parameters={**SINGLE, "EventSourceAccounts": "111122223333", "EventJobQueueArns": queue}
    )


def test_a_secret_arn_without_its_suffix_is_refused():
    refused({"SlackWebhookSecretArn": SECRET.removesuffix("-a1B2c3")}, "does not match")


def test_a_secret_under_a_customer_key_may_be_decrypted_through_secrets_manager_only():
    stack = deploy(
        parameters={**SINGLE, "SlackWebhookSecretArn": SECRET, "SlackWebhookSecretKeyArn": KEY}
    )
    statements = [
        s
        for _, doc in stack.role_policy_documents("SlackNotifierFunctionRole")
        for s in doc["Statement"]
    ]
    [decrypt] = [s for s in statements if s.get("Sid") == "SlackSecretDecrypt"]
    assert decrypt["Action"] == "kms:Decrypt" and decrypt["Resource"] == KEY
    assert decrypt["Condition"] == {
        "StringEquals": {"kms:ViaService": "secretsmanager.ap-northeast-2.amazonaws.com"}
    }
    plain = deploy(parameters={**SINGLE, "SlackWebhookSecretArn": SECRET})
    docs = plain.role_policy_documents("SlackNotifierFunctionRole")
    assert not any("kms:" in str(s.get("Action")) for _, d in docs for s in d["Statement"])


def test_a_key_without_its_secret_is_refused():
    refused({"SlackWebhookSecretKeyArn": KEY}, "rule SlackKeyNeedsSecret")


@pytest.mark.parametrize(
    "schedule",
    [
        "rate(1 minutes)",  # EventBridge wants the singular
        "rate(2 minute)",
        "rate(61 minutes)",  # longer than the smoke alarm's one-hour period
        "rate(2 hours)",
        "rate(1 day)",
        "cron(0 12 * * ? *)",  # daily
        "cron(0 * ? * MON-FRI *)",  # gaps at the weekend
    ],
)
def test_smoke_schedules_the_alarm_cannot_cover_are_refused(schedule):
    refused({"SmokeSchedule": schedule}, "does not match")


@pytest.mark.parametrize(
    "schedule",
    [
        "disabled",
        "rate(1 minute)",
        "rate(30 minutes)",
        "rate(60 minutes)",
        "rate(1 hour)",
        "cron(0 * ? * ? *)",
        "cron(0/15 * * * ? *)",
    ],
)
def test_schedules_within_the_hour_are_accepted(schedule):
    assert deploy(parameters={**SINGLE, "SmokeSchedule": schedule})


def test_by_default_no_smoke_job_is_submitted():
    stack = deploy(parameters=SINGLE)
    schedules = [
        r["Properties"]
        for r in stack.resources.values()
        if r["Type"] == "AWS::Scheduler::Schedule"
        and "allow_test_submit" in str(r["Properties"].get("Target", {}).get("Input", ""))
    ]
    assert schedules and all(s["State"] == "DISABLED" for s in schedules)


def test_a_stack_that_alerts_no_one_says_so():
    quiet = deploy(parameters=SINGLE)
    assert "AlertDestinations" in quiet.outputs
    env = quiet.properties("MonitorFunction")["Environment"]["Variables"]
    assert env["ALERT_CHANNELS"] == "none"
    mailed = deploy(parameters={**SINGLE, "AlertEmail": "oncall@example.com"})
    assert "AlertDestinations" not in mailed.outputs
    assert mailed.properties("MonitorFunction")["Environment"]["Variables"]["ALERT_CHANNELS"] == (
        "configured"
    )


def test_the_roles_the_monitor_may_assume_reach_both_functions_as_a_parameter():
    role = "arn:aws:iam::111122223333:role/batch-health-target"
    stack = deploy(parameters={**SINGLE, "TargetRoleArns": role})
    listed = stack.properties("TargetRolesList")
    assert (listed["Type"], listed["Value"]) == ("StringList", role)
    name = stack.physical_name("TargetRolesList")
    for function in ("MonitorFunction", "BatchEventsFunction"):
        env = stack.properties(function)["Environment"]["Variables"]
        assert env["TARGET_ROLES_PARAMETER"] == name
    [(_, doc)] = [
        d
        for d in stack.managed_policy_documents("BatchEventsFunctionRole")
        if d[0] == "TargetRolesReadPolicy"
    ]
    [read] = doc["Statement"]
    assert read["Action"] == "ssm:GetParameter" and read["Resource"].endswith(f":parameter/{name}")
    none = deploy(parameters=SINGLE)
    assert not none.exists("TargetRolesList")
    assert (
        none.properties("MonitorFunction")["Environment"]["Variables"]["TARGET_ROLES_PARAMETER"]
        == ""
    )


@pytest.mark.parametrize(("value", "expected"), [("true", True), ("false", False)])
def test_the_queue_depth_gauges_can_be_turned_off(value, expected):
    from batch_health.runtime.settings import MonitorSettings

    stack = deploy(parameters={**SINGLE, "QueueDepthGauges": value})
    env = stack.properties("MonitorFunction")["Environment"]["Variables"]
    assert env["QUEUE_DEPTH_GAUGES"] == value
    settings = MonitorSettings.from_env({**env, "AWS_REGION": "ap-northeast-2"})
    assert settings.queue_depth_gauges is expected
