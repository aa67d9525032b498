"""template.yaml's IAM and secrets, as written: no `Resource: "*"` where an ARN can be named
(each exception justified in the template's Metadata), the smoke job's grants confined to the
configured queue and the monitor's own jobs, and no secret in the environment, parameters
or samconfig."""

from __future__ import annotations

import json
import re
from typing import Any

from support.cfn import ROOT
from support.template import PARAMETERS, RESOURCES, TEMPLATE, of_type, sub_text

# Actions granted on Resource "*", and why that is the narrowest possible.
WILDCARD_ALLOWED = {
    "batch:DescribeJobQueues": "Batch has no resource-level permissions for Describe*",
    "batch:DescribeComputeEnvironments": "Batch has no resource-level permissions for Describe*",
    "batch:DescribeJobDefinitions": "Batch has no resource-level permissions for Describe*",
    "batch:DescribeJobs": "Batch has no resource-level permissions for Describe*",
    "batch:ListJobs": "Batch has no resource-level permissions for ListJobs",
    "batch:DescribeSchedulingPolicies": "Batch has no resource-level permissions for Describe*",
    "ssm:DescribeParameters": "DescribeParameters has no resource type",
    "sts:GetCallerIdentity": "the call has no resource",
    "batch:GetJobQueueSnapshot": "read-only like Batch's Describe*, the queue's front",
    "ec2:DescribeInstanceTypes": "EC2 Describe* support no resource-level permissions",
    "ec2:DescribeSubnets": "EC2 Describe* support no resource-level permissions",
    "ec2:DescribeInstanceTypeOfferings": "EC2 Describe* support no resource-level permissions",
    "servicequotas:GetServiceQuota": "read-only quota values, in the monitored regions",
}
# Policies where "*" is not a wildcard over resources: in a KMS key policy, "*" is the key.
NOT_IAM_POLICIES = {"AlertTopicKey": "KeyPolicy: Resource '*' means this key"}

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
    # The monitor may describe the job's secrets (which key encrypts them), never read them.
    readers = [
        name
        for name, res in RESOURCES.items()
        if not res["Type"].startswith("AWS::CloudWatch::")
        and re.search(
            r'AWSSecretsManagerGetSecretValuePolicy|"secretsmanager:(GetSecretValue|\*)"',
            json.dumps(res.get("Properties", {})),
        )
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
