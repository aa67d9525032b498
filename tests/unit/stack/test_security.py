"""Least privilege and secrets, checked on what would be deployed.

The IAM checks run on the template after the SAM transform (done offline by
samtranslator), so the roles SAM writes for schedules, destinations and policy templates
are held to the same rule as the statements written by hand: no `Resource: "*"` for an
action that can name a resource, each exception listed with its reason.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from samcli.yamlhelper import yaml_parse
from samtranslator.translator.transform import transform

ROOT = Path(__file__).resolve().parents[3]
TEMPLATE = yaml_parse((ROOT / "template.yaml").read_text())
TARGET_ROLE_TEMPLATE = yaml_parse((ROOT / "templates" / "target-account-role.yaml").read_text())
REGION, ACCOUNT = "ap-northeast-2", "123456789012"
SECRET_ARN = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:batch-health/slack-AbCdEf"
PARAMETERS = {
    "Stage": "prod",
    "JobQueue": "academy-video-batch-queue",
    "JobDefinition": "academy-video-batch-jobdef",
    "LogGroup": "/aws/batch/academy-video-worker",
    "SlackWebhookSecretArn": SECRET_ARN,
    "AlertEmail": "ops@example.com",
    "JobRoleArns": f"arn:aws:iam::{ACCOUNT}:role/academy-batch-exec,"
    f"arn:aws:iam::{ACCOUNT}:role/academy-video-job",
    "ConfigParameterPath": "/academy/api/",
    "TargetsParameter": "/batch-health/targets",
    "TargetRoleArns": f"arn:aws:iam::{ACCOUNT}:role/batch-health-target",
}

# Actions the templates grant on Resource "*", and why nothing narrower exists. The
# template's Metadata.IamWildcardJustifications says the same to its readers.
BATCH_DESCRIBE = "Batch Describe* calls support no resource-level permissions"
WILDCARD_ALLOWED = {
    "batch:DescribeJobQueues": BATCH_DESCRIBE,
    "batch:DescribeComputeEnvironments": BATCH_DESCRIBE,
    "batch:DescribeJobDefinitions": BATCH_DESCRIBE,
    "batch:DescribeJobs": BATCH_DESCRIBE,
    "batch:ListJobs": "batch:ListJobs supports no resource-level permissions",
    "sts:GetCallerIdentity": "the call has no resource",
    "batch:DescribeSchedulingPolicies": BATCH_DESCRIBE,
    "ssm:DescribeParameters": "ssm:DescribeParameters has no resource type",
    "batch:GetJobQueueSnapshot": "read-only like Batch's Describe*: the queue's front",
    "ec2:DescribeInstanceTypes": "EC2 Describe* actions support no resource-level permissions",
    "ec2:DescribeSubnets": "EC2 Describe* actions support no resource-level permissions",
    "ec2:DescribeInstanceTypeOfferings": "EC2 Describe* actions support no resource-level "
    "permissions",
    "servicequotas:GetServiceQuota": "read-only quota values, limited to the monitored regions",
}
# AWS managed policies SAM attaches to every function role it creates, and why they stay.
MANAGED_ALLOWED = {
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole": (
        "SAM adds it to every function role; logs:CreateLogStream/PutLogEvents are how Lambda "
        "writes the function's own log group (created by the stack, with retention)"
    ),
    "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess": (
        "Tracing: Active; xray:PutTraceSegments and PutTelemetryRecords support no "
        "resource-level permissions"
    ),
}


def sam_transformed(template: dict[str, Any]) -> dict[str, Any]:
    """The CloudFormation template SAM would deploy (code locations stubbed as S3 URIs)."""
    doc = copy.deepcopy(template)
    for resource in doc["Resources"].values():
        for key in ("CodeUri", "ContentUri"):
            if key in resource.get("Properties", {}):
                resource["Properties"][key] = "s3://bucket/key.zip"

    class NoManagedPolicies:
        def load(self) -> dict[str, str]:
            return {}

    return transform(doc, dict(PARAMETERS), NoManagedPolicies())


@pytest.fixture(scope="module")
def deployed(request: pytest.FixtureRequest) -> dict[str, Any]:
    mp = pytest.MonkeyPatch()
    mp.setenv("AWS_DEFAULT_REGION", REGION)  # samtranslator asks boto3 for the region
    request.addfinalizer(mp.undo)
    return sam_transformed(TEMPLATE)


def branches(value: Any) -> Iterator[Any]:
    """Both sides of every Fn::If (what either setting of a condition deploys)."""
    if isinstance(value, dict) and "Fn::If" in value:
        for side in value["Fn::If"][1:]:
            yield from branches(side)
    elif isinstance(value, list):
        for item in value:
            yield from branches(item)
    elif isinstance(value, dict) and value != {"Ref": "AWS::NoValue"}:
        yield value


def identity_policies(template: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(role or policy, Allow/Deny statement) of every IAM identity policy in the template."""
    for name, resource in template["Resources"].items():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::IAM::Role":
            documents = [p.get("PolicyDocument", {}) for p in branches(props.get("Policies", []))]
        elif resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            documents = [props.get("PolicyDocument", {})]
        else:
            continue
        for document in documents:
            for statement in branches(document.get("Statement", [])):
                yield name, statement


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def resources(value: Any) -> Iterator[Any]:
    """Every resource a statement may name, on either side of an Fn::If."""
    if isinstance(value, dict) and "Fn::If" in value:
        for side in value["Fn::If"][1:]:
            yield from resources(side)
    elif isinstance(value, list):
        for item in value:
            yield from resources(item)
    else:
        yield value


# Action patterns allowed, and why: the monitor's role uses the alert topic's key (named by
# its ARN) for whichever GenerateDataKey variant SNS asks for when it publishes.
ACTION_PATTERNS_ALLOWED = {"kms:GenerateDataKey*": "SNS picks the GenerateDataKey variant"}


def wildcard_grants(template: dict[str, Any]) -> list[tuple[str, str]]:
    """(role, action) for every Allow on Resource "*" (or an action wildcard) not allowed."""
    found = []
    for owner, st in identity_policies(template):
        if st.get("Effect") != "Allow":
            continue
        named = list(resources(st.get("Resource")))
        for action in as_list(st.get("Action")):
            if "*" in str(action) and action not in ACTION_PATTERNS_ALLOWED:
                found.append((owner, action))  # "*", "s3:*", "logs:Get*": no single action
            elif "*" in named and action not in WILDCARD_ALLOWED:
                found.append((owner, action))
    return found


def test_no_resource_star_for_an_action_that_can_name_a_resource(deployed):
    assert wildcard_grants(deployed) == []
    assert wildcard_grants(TARGET_ROLE_TEMPLATE) == []


def test_every_role_sam_writes_is_walked(deployed):
    roles = {n for n, r in deployed["Resources"].items() if r["Type"] == "AWS::IAM::Role"}
    assert roles == {
        "MonitorFunctionRole",
        "MonitorFunctionSuiteRole",
        "MonitorFunctionSmokeRole",
        "SlackNotifierFunctionRole",
        "BatchEventsFunctionRole",
    }
    owners = {owner for owner, _ in identity_policies(deployed)}
    assert owners == roles | {"CancelUnplaceablePolicy", "TargetRolesReadPolicy"}  # managed


def test_the_wildcard_check_catches_a_widened_policy(deployed):
    widened = copy.deepcopy(deployed)
    policies = widened["Resources"]["SlackNotifierFunctionRole"]["Properties"]["Policies"]
    policies = [p for p in policies if "PolicyDocument" in p]  # not the Fn::If'd key grant
    policies[-1]["PolicyDocument"]["Statement"].append(
        {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}
    )
    policies[-1]["PolicyDocument"]["Statement"].append(
        {"Effect": "Allow", "Action": "logs:*", "Resource": "arn:aws:logs:*:*:*"}
    )
    policies[-1]["PolicyDocument"]["Statement"].append(
        {
            "Effect": "Allow",
            "Action": "sns:Publish",
            "Resource": {"Fn::If": ["HasSlack", ["arn:aws:sns:x:1:t"], ["*"]]},
        }
    )
    assert wildcard_grants(widened) == [
        ("SlackNotifierFunctionRole", "secretsmanager:GetSecretValue"),
        ("SlackNotifierFunctionRole", "logs:*"),
        ("SlackNotifierFunctionRole", "sns:Publish"),
    ]


def test_every_wildcard_exception_has_a_reason():
    justified = TEMPLATE["Metadata"]["IamWildcardJustifications"]
    assert set(justified) == set(WILDCARD_ALLOWED)
    assert all(len(reason) > 20 for reason in [*justified.values(), *WILDCARD_ALLOWED.values()])


def test_only_the_managed_policies_sam_requires_are_attached(deployed):
    for name, resource in deployed["Resources"].items():
        if resource["Type"] == "AWS::IAM::Role":
            attached = set(resource["Properties"].get("ManagedPolicyArns", []))
            assert attached <= set(MANAGED_ALLOWED), (name, attached - set(MANAGED_ALLOWED))


def statements_granting(template: dict[str, Any], action: str) -> list[tuple[str, dict[str, Any]]]:
    service = action.split(":", 1)[0]
    return [
        (owner, st)
        for owner, st in identity_policies(template)
        if st.get("Effect") == "Allow"
        and {action, f"{service}:*", "*"} & {str(a) for a in as_list(st.get("Action"))}
    ]


def sub_arns(value: Any) -> list[str]:
    return [r["Fn::Sub"] if isinstance(r, dict) else r for r in as_list(value)]


def test_smoke_submit_targets_only_the_configured_queue_and_job_definition(deployed):
    [(owner, st)] = statements_granting(deployed, "batch:SubmitJob")
    assert owner == "MonitorFunctionRole"
    prefix = "arn:${AWS::Partition}:batch:${AWS::Region}:${AWS::AccountId}:"
    assert sub_arns(st["Resource"]) == [
        f"{prefix}job/*",
        f"{prefix}job-queue/${{JobQueue}}",
        f"{prefix}job-definition/${{JobDefinition}}",
        f"{prefix}job-definition/${{JobDefinition}}:*",
    ]
    # Terminating is limited to the jobs the smoke submit tagged as its own.
    [(_, terminate)] = statements_granting(deployed, "batch:TerminateJob")
    assert terminate["Condition"] == {
        "StringEquals": {"aws:ResourceTag/batch-health:smoke": "true"}
    }


def test_the_webhook_secret_is_readable_by_the_notifier_only_and_only_that_secret(deployed):
    [(owner, st)] = statements_granting(deployed, "secretsmanager:GetSecretValue")
    assert owner == "SlackNotifierFunctionRole"
    assert st["Resource"] == {
        "Fn::Sub": ["${secretArn}", {"secretArn": {"Ref": "SlackWebhookSecretArn"}}]
    }


def test_publish_and_state_only_on_the_stacks_own_topic_and_table(deployed):
    publishers = statements_granting(deployed, "sns:Publish")
    assert {owner for owner, _ in publishers} == {"MonitorFunctionRole", "BatchEventsFunctionRole"}
    for _, publish in publishers:
        assert "${topicName}" in json.dumps(publish["Resource"])
    writers = statements_granting(deployed, "dynamodb:PutItem")
    assert {owner for owner, _ in writers} == {"MonitorFunctionRole", "BatchEventsFunctionRole"}
    for _, state in writers:
        assert state["Resource"] == {"Fn::GetAtt": ["IncidentTable", "Arn"]}


# --- checkov and cfn-lint exceptions are written down where they apply ----------------------


def test_every_skipped_checkov_check_is_justified_in_the_resource_metadata():
    skipped = [
        (name, skip)
        for name, resource in TEMPLATE["Resources"].items()
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
    ]
    assert skipped, "the template skips no checkov check: drop this test's premise"
    for name, skip in skipped:
        assert re.fullmatch(r"CKV2?_AWS_\d+", skip["id"]), (name, skip)
        assert len(skip.get("comment", "")) > 40, (name, skip["id"])


# --- secrets never in what is deployed or shipped -------------------------------------------

SECRET_VALUES = re.compile(
    r"hooks\.slack\.com/services/T\w+/B\w+/\w+|xox[abprs]-[\w-]{10,}|(?:AKIA|ASIA)[0-9A-Z]{16}"
)
SHIPPED = [
    "template.yaml",
    "samconfig.toml",
    "templates/*.yaml",
    "events/*.json",
    "functions/**/*.py",
    "functions/**/*.txt",
    "layers/**/*.py",
    "layers/*.txt",
    "scripts/*",
    "README.md",
]


def test_no_secret_in_the_template_samconfig_events_or_code():
    files = sorted({p for pattern in SHIPPED for p in ROOT.glob(pattern) if p.is_file()})
    assert len(files) > 30
    leaks = {
        str(p.relative_to(ROOT)): m.group(0)
        for p in files
        for m in [SECRET_VALUES.search(p.read_text(errors="replace"))]
        if m
    }
    assert leaks == {}


def test_the_pattern_would_catch_a_webhook():
    assert SECRET_VALUES.search("url: https://hooks.slack.com/services/T0001/B0002/Xyz123")
    assert not SECRET_VALUES.search("'https://hooks.slack.com/...'")  # the README's example


def test_no_function_setting_can_hold_the_webhook():
    from batch_health.runtime.notifier_settings import NotifierSettings
    from batch_health.runtime.settings import MonitorSettings

    for model in (MonitorSettings, NotifierSettings):
        for field in model.model_fields.values():
            alias = field.validation_alias or ""
            if re.search(r"WEBHOOK|SECRET|TOKEN|URL", str(alias)):
                assert str(alias).endswith("_ARN"), alias  # where the secret is, not what
