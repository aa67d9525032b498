"""Cross-account targets: the monitor assumes the target's role (moto STS) and checks the
workload with those credentials, under a session name that says who it is."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest
from support.suite import run_targets

from batch_health.aws.sessions import SESSION_NAME, AwsSessions
from batch_health.demo import WorldBuilder, build_healthy
from batch_health.models import Report, Status

MONITOR_ACCOUNT = "123456789012"  # moto's default account: the monitor's own
TARGET_ACCOUNT = "111122223333"
ROLE_ARN = f"arn:aws:iam::{TARGET_ACCOUNT}:role/batch-health-target"


@pytest.fixture
def remote_world(aws: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The healthy workload, built in another account; the monitor's own account is empty."""
    monkeypatch.setenv("MOTO_ACCOUNT_ID", TARGET_ACCOUNT)
    target = build_healthy(WorldBuilder(None), tmp_path).target
    monkeypatch.delenv("MOTO_ACCOUNT_ID")
    return target


class AssumeRoleLog:
    """The parameters of every sts:AssumeRole the monitor sends."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def __call__(self, params: dict[str, Any], **_: Any) -> None:
        self.calls.append(dict(params))

    def sessions(self) -> AwsSessions:
        base = boto3.Session()
        base.events.register("provide-client-params.sts.AssumeRole", self)
        return AwsSessions(base_session=base)


def run(targets: list[dict[str, Any]], sessions: AwsSessions, **options: Any) -> list[Report]:
    return run_targets(targets, sessions, **options).reports


def test_a_target_with_a_role_is_checked_with_the_assumed_role(remote_world):
    log = AssumeRoleLog()
    sessions = log.sessions()
    (report,) = run([{**remote_world, "role_arn": ROLE_ARN}], sessions)
    # The credentials' AssumeRole is counted with the run's calls (AWS_CALLS).
    assert sessions.stats.calls["sts:AssumeRole"] == 1
    access = report.result("AWS_ACCESS")
    assert access.status is Status.OK, access.detail
    assert access.data["account"] == TARGET_ACCOUNT
    assert access.data["arn"] == (
        f"arn:aws:sts::{TARGET_ACCOUNT}:assumed-role/batch-health-target/{SESSION_NAME}"
    )
    assert access.data["role_arn"] == ROLE_ARN
    # The workload exists only in the target account: found, so read with the role.
    for name in ("QUEUE_CHECK", "CE_CHECK", "JOBDEF_CHECK", "LOG_GROUP_CHECK", "IAM_CHECK"):
        assert report.result(name).status is Status.OK, (name, report.result(name).detail)
    # One AssumeRole for the whole run, named so CloudTrail shows who it was.
    assert [(c["RoleArn"], c["RoleSessionName"]) for c in log.calls] == [(ROLE_ARN, SESSION_NAME)]
    assert SESSION_NAME == "batch-health-monitor"


def test_without_the_role_the_monitor_sees_only_its_own_account(remote_world):
    (report,) = run([remote_world], AwsSessions(), checks=["AWS_ACCESS", "QUEUE_CHECK"])
    assert report.result("AWS_ACCESS").data["account"] == MONITOR_ACCOUNT
    queue = report.result("QUEUE_CHECK")
    assert queue.status is Status.FAIL
    assert "does not exist" in queue.detail


def test_targets_in_two_accounts_each_use_their_own_credentials(remote_world):
    targets = [{**remote_world, "name": "remote", "role_arn": ROLE_ARN}, remote_world]
    remote, local = run(targets, AwsSessions(), checks=["AWS_ACCESS", "QUEUE_CHECK"])
    assert remote.result("QUEUE_CHECK").status is Status.OK
    assert local.result("QUEUE_CHECK").status is Status.FAIL
    assert remote.result("AWS_ACCESS").data["account"] == TARGET_ACCOUNT
    assert local.result("AWS_ACCESS").data["account"] == MONITOR_ACCOUNT


def test_the_external_id_goes_with_the_assume_role(remote_world):
    log = AssumeRoleLog()
    target = {**remote_world, "role_arn": ROLE_ARN, "external_id": "academy-7f3a"}
    (report,) = run([target], log.sessions(), checks=["AWS_ACCESS"])
    assert report.result("AWS_ACCESS").status is Status.OK
    assert [c.get("ExternalId") for c in log.calls] == ["academy-7f3a"]


def test_assumed_credentials_are_kept_across_runs_until_near_expiry(remote_world):
    log = AssumeRoleLog()
    sessions = log.sessions()  # a warm Lambda keeps its sessions between invocations
    for _ in range(2):
        (report,) = run([{**remote_world, "role_arn": ROLE_ARN}], sessions, checks=["AWS_ACCESS"])
        assert report.result("AWS_ACCESS").status is Status.OK
    assert len(log.calls) == 1
