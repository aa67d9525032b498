"""AWS_ACCESS: who the monitor is, and no credentials vs. expired vs. denied vs. no region vs.
an unreachable endpoint, each with its own hint."""

from __future__ import annotations

import pytest
from botocore.config import Config
from support.checks import (
    ACCOUNT,
    PLAIN_TARGET,
    assert_explained,
    check,
    client_error,
    patch_view,
    result,
    run,
    stubbed,
)

from batch_health.aws.sessions import AwsSessions
from batch_health.demo import REGION
from batch_health.models import Status


def test_aws_access_ok_reports_account_arn_and_region(aws):
    res = check(PLAIN_TARGET, "AWS_ACCESS")
    assert res.status is Status.OK
    assert res.detail.startswith(f"account={ACCOUNT} arn=arn:aws:sts::{ACCOUNT}:user/moto ")
    assert f"ACTIVE_REGION={REGION}" in res.detail
    assert res.data["account"] == ACCOUNT and res.data["region"] == REGION
    assert res.data["arn"] == f"arn:aws:sts::{ACCOUNT}:user/moto"


def test_aws_access_without_credentials(aws, monkeypatch):
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(var)
    monkeypatch.delenv("AWS_SECURITY_TOKEN")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/config")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance-metadata probe
    report = run(PLAIN_TARGET, ["AWS_ACCESS", "QUEUE_CHECK"])
    access = result(report, "AWS_ACCESS")
    assert access.status is Status.FAIL
    assert access.data["error_kind"] == "no credentials"
    assert access.detail.startswith("credentials: no credentials")
    assert "AWS_PROFILE" in access.hints[0]
    # Nothing else is asked of AWS without credentials: the dependents say why they did not run.
    queue = result(report, "QUEUE_CHECK")
    assert queue.status is Status.SKIP
    assert queue.detail.startswith("AWS_ACCESS is FAIL")


@pytest.mark.parametrize(
    ("code", "kind", "hint_part"),
    [
        ("ExpiredToken", "expired token", "aws sso login"),
        ("ExpiredTokenException", "expired token", "aws sso login"),
        ("AccessDenied", "access denied", "sts:GetCallerIdentity"),
        ("InvalidClientTokenId", "invalid credentials", "sts get-caller-identity"),
    ],
)
def test_aws_access_tells_expired_from_denied(aws, code, kind, hint_part):
    sessions, stub = stubbed("sts")
    stub.add_client_error("get_caller_identity", service_error_code=code, http_status_code=403)
    res = check(PLAIN_TARGET, "AWS_ACCESS", sessions=sessions)
    assert res.status is Status.FAIL
    assert_explained(res)
    assert res.data["error_kind"] == kind and res.data["error_code"] == code
    assert res.detail.startswith(f"credentials: {kind} on GetCallerIdentity: {code}")
    assert hint_part in res.hints[0]
    assert res.data["region"] == REGION
    stub.assert_no_pending_responses()


def test_aws_access_denied_with_a_role_points_at_the_trust_policy(aws, monkeypatch):
    role = f"arn:aws:iam::{ACCOUNT}:role/batch-health-monitor"
    patch_view(monkeypatch, caller_identity=client_error("AccessDenied", "AssumeRole"))
    res = check({**PLAIN_TARGET, "role_arn": role}, "AWS_ACCESS")
    assert res.status is Status.FAIL
    assert any(role in h and "sts:AssumeRole" in h for h in res.hints)


def test_aws_access_without_a_region(aws, monkeypatch):
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/config")
    target = {k: v for k, v in PLAIN_TARGET.items() if k != "region"}
    res = check(target, "AWS_ACCESS")
    assert res.status is Status.FAIL
    assert res.detail == "no region configured"
    assert "--region" in res.hints[0] and "AWS_REGION" in res.hints[0]


def test_aws_access_endpoint_unreachable():
    # Port 9 (discard) on loopback: nothing listens, the connection is refused at once.
    one_try = Config(retries={"mode": "standard", "total_max_attempts": 1}, connect_timeout=2)
    sessions = AwsSessions(endpoint_url="http://127.0.0.1:9", config=one_try)
    res = check(PLAIN_TARGET, "AWS_ACCESS", sessions=sessions)
    assert res.status is Status.FAIL
    assert res.data["error_kind"] == "endpoint unreachable"
    assert res.data["error_code"] == "EndpointConnectionError"
    assert "127.0.0.1:9" in res.detail
    assert "AWS_ENDPOINT_URL" in res.hints[0]
