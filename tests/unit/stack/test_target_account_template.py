"""templates/target-account-role.yaml: the role a target account creates for the monitor.

It must lint, trust only the monitor (with the ExternalId when one is set), and allow every
call a run makes, read-only except the opt-in smoke submit.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import boto3
import pytest
from samcli.yamlhelper import yaml_parse

from batch_health.aws.sessions import AwsSessions
from batch_health.checks import RunOptions
from batch_health.config import SuiteConfig
from batch_health.demo import EXEC_ROLE
from batch_health.engine import run_suite
from batch_health.models import Status

ROOT = Path(__file__).resolve().parents[3]
TEMPLATE_PATH = ROOT / "templates" / "target-account-role.yaml"
TEMPLATE = yaml_parse(TEMPLATE_PATH.read_text())
ROLE = TEMPLATE["Resources"]["TargetRole"]["Properties"]
WRITE_ACTIONS = {"batch:SubmitJob", "batch:TagResource", "batch:TerminateJob"}


def when_enabled(value: Any) -> Any:
    """The template as deployed with every option set: each Fn::If takes its first branch."""
    if isinstance(value, dict):
        if set(value) == {"Fn::If"}:
            return when_enabled(value["Fn::If"][1])
        return {k: when_enabled(v) for k, v in value.items()}
    if isinstance(value, list):
        return [when_enabled(v) for v in value]
    return value


def policies() -> dict[str, list[dict[str, Any]]]:
    """Policy name -> its statements, every option enabled."""
    return {
        p["PolicyName"]: p["PolicyDocument"]["Statement"] for p in when_enabled(ROLE["Policies"])
    }


def actions(statements: list[dict[str, Any]]) -> set[str]:
    found: set[str] = set()
    for statement in statements:
        assert statement["Effect"] == "Allow"
        action = statement["Action"]
        found.update([action] if isinstance(action, str) else action)
    return found


def test_cfn_lint_passes():
    cfn_lint = shutil.which("cfn-lint", path=str(Path(sys.executable).parent)) or "cfn-lint"
    done = subprocess.run(
        [cfn_lint, str(TEMPLATE_PATH)], capture_output=True, text=True, check=False, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_only_the_monitor_may_assume_it_and_with_the_external_id_when_set():
    (trust,) = ROLE["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Action"] == "sts:AssumeRole"
    assert trust["Principal"] == {"AWS": {"Ref": "MonitorRoleArn"}}
    condition = trust["Condition"]["Fn::If"]
    assert condition[0] == "HasExternalId"
    assert condition[1] == {"StringEquals": {"sts:ExternalId": {"Ref": "ExternalId"}}}
    assert condition[2] == {"Ref": "AWS::NoValue"}


def test_the_read_policy_reads_and_only_the_opt_in_smoke_policy_writes():
    read = actions(policies()["batch-health-read"])
    assert not read & WRITE_ACTIONS
    assert all(
        a.split(":", 1)[1].startswith(("Describe", "List", "Get", "Simulate")) for a in read
    ), read
    assert actions(policies()["batch-health-smoke"]) == WRITE_ACTIONS
    assert actions(policies()["batch-health-cancel"]) == {"batch:CancelJob"}
    options = [p["Fn::If"] for p in ROLE["Policies"] if "Fn::If" in p]
    assert [(o[0], o[1]["PolicyName"], o[2]) for o in options] == [
        ("HasSmoke", "batch-health-smoke", {"Ref": "AWS::NoValue"}),
        ("CancelsUnplaceable", "batch-health-cancel", {"Ref": "AWS::NoValue"}),
    ]


class OperationLog:
    """Every API operation the monitor calls, as the IAM action that authorizes it."""

    def __init__(self) -> None:
        self.actions: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, model: Any, **_: Any) -> None:
        with self._lock:
            # the signing name is the IAM prefix (service-quotas signs as servicequotas)
            self.actions.add(f"{model.service_model.signing_name}:{model.name}")

    def sessions(self) -> AwsSessions:
        base = boto3.Session()
        base.events.register("before-call", self)
        return AwsSessions(base_session=base)


@pytest.fixture
def attached_policy(world) -> None:
    """A managed policy on the execution role, so the run reads managed policies too."""
    iam = world.client("iam")
    document = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"}],
    }
    arn = iam.create_policy(PolicyName="ecr-auth", PolicyDocument=json.dumps(document))
    iam.attach_role_policy(RoleName=EXEC_ROLE, PolicyArn=arn["Policy"]["Arn"])


def test_every_call_of_a_run_with_the_smoke_submit_is_allowed(healthy_world, attached_policy):
    log = OperationLog()
    config = SuiteConfig.model_validate({"targets": [healthy_world]})
    (report,) = run_suite(config, RunOptions(allow_test_submit=True), log.sessions()).reports
    smoke = report.result("SMOKE_SUBMIT_CHECK")
    assert smoke.status is Status.OK, smoke.detail
    assert {"batch:SubmitJob", "iam:GetPolicyVersion", "logs:GetLogEvents"} <= log.actions
    allowed = set().union(*(actions(statements) for statements in policies().values()))
    assert log.actions - allowed == set()
