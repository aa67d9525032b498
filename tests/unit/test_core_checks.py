"""The foundation checks, one distinction per test.

moto in-process where it can build the situation; botocore's Stubber for error codes on
the real client path; a patched TargetView for AWS answers moto never gives (INVALID
statuses, UPDATING queues, missing fields).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.stub import Stubber
from moto.core.authorization import enable_iam_authentication
from support.suite import run_targets

from batch_health.aws.inventory import TargetView
from batch_health.aws.sessions import AwsSessions
from batch_health.demo import CE, JOBDEF, QUEUE, REGION, WorldBuilder, build_seed
from batch_health.domain.job_definition import JobDefinitionView
from batch_health.models import CheckResult, Report, Status

ACCOUNT = "123456789012"
QUEUE_ARN = f"arn:aws:batch:{REGION}:{ACCOUNT}:job-queue/{QUEUE}"
CE_ARN = f"arn:aws:batch:{REGION}:{ACCOUNT}:compute-environment/{CE}"
JOBDEF_ARN = f"arn:aws:batch:{REGION}:{ACCOUNT}:job-definition/{JOBDEF}"
PLAIN_TARGET = {"name": "video", "region": REGION, "job_queue": QUEUE, "job_definition": JOBDEF}


def run(
    target: dict[str, Any], checks: list[str], sessions: AwsSessions | None = None, **options: Any
) -> Report:
    return run_targets([target], sessions, checks=checks, **options).reports[0]


def result(report: Report, name: str) -> CheckResult:
    found = report.result(name)
    assert found is not None, f"{name} missing from {[c.name for c in report.checks]}"
    return found


def check(target: dict[str, Any], name: str, **options: Any) -> CheckResult:
    return result(run(target, [name], **options), name)


def patch_view(monkeypatch: pytest.MonkeyPatch, **answers: Any) -> None:
    """Replace TargetView reads: a value is returned, an exception raised, a callable called.
    A job definition answer is parsed, as the view parses DescribeJobDefinitions' answer."""
    for method, answer in answers.items():
        if method == "job_definition" and isinstance(answer, dict):
            answer = JobDefinitionView.parse(answer)

        def fake(self: TargetView, *args: Any, _answer: Any = answer) -> Any:
            if isinstance(_answer, BaseException):
                raise _answer
            return _answer(*args) if callable(_answer) else _answer

        monkeypatch.setattr(TargetView, method, fake)


def client_error(code: str, op: str, message: str = "denied") -> Exception:
    from botocore.exceptions import ClientError

    return ClientError({"Error": {"Code": code, "Message": message}}, op)


def stubbed(service: str) -> tuple[AwsSessions, Stubber]:
    sessions = AwsSessions()
    stub = Stubber(sessions.client(service, REGION))
    stub.activate()
    return sessions, stub


def assert_explained(res: CheckResult) -> None:
    """Every FAIL/WARN has a one-line detail and at least one concrete hint."""
    assert res.detail and "\n" not in res.detail
    assert res.hints and all(h.strip() for h in res.hints)


# --- CONFIG_MATCH_* ----------------------------------------------------------------------


def test_config_match_skips_with_reason_when_no_sources(aws):
    report = run(PLAIN_TARGET, ["CONFIG_MATCH_QUEUE", "CONFIG_MATCH_JOBDEF"])
    queue, jobdef = result(report, "CONFIG_MATCH_QUEUE"), result(report, "CONFIG_MATCH_JOBDEF")
    assert queue.status is Status.SKIP and jobdef.status is Status.SKIP
    assert queue.detail.startswith("no config sources for job_queue")
    assert "config_sources" in jobdef.detail


def test_config_match_skips_the_key_no_source_names(aws):
    target = {**PLAIN_TARGET, "config_sources": {"api": {"job_queue": QUEUE}}}
    report = run(target, ["CONFIG_MATCH_QUEUE", "CONFIG_MATCH_JOBDEF"])
    assert result(report, "CONFIG_MATCH_QUEUE").status is Status.OK
    assert result(report, "CONFIG_MATCH_JOBDEF").status is Status.SKIP


def test_config_match_ok_on_the_seed_world_lists_every_source(seed_world):
    report = run(seed_world, ["CONFIG_MATCH_QUEUE", "CONFIG_MATCH_JOBDEF"])
    queue, jobdef = result(report, "CONFIG_MATCH_QUEUE"), result(report, "CONFIG_MATCH_JOBDEF")
    assert queue.status is Status.OK and jobdef.status is Status.OK
    assert queue.detail == (f"monitor={QUEUE} api={QUEUE} setup_script={QUEUE} -> MATCH")
    assert jobdef.data["values"] == {
        "monitor": JOBDEF,
        "api": JOBDEF,
        "setup_script": JOBDEF,
        "jobdef_json": JOBDEF,
    }
    assert jobdef.data["sources"]["api"] == "ssm:/academy/api/VIDEO_BATCH_JOB_DEFINITION"


def test_config_match_mismatch_names_which_source_holds_which_value(seed_world, tmp_path):
    setup = tmp_path / "old_setup.ps1"
    setup.write_text('$JobQueueName = "academy-video-batch-queue-old"\n')
    target = {
        **seed_world,
        "config_sources": {
            **seed_world["config_sources"],
            "setup_script": {"job_queue": f"file:{setup}#JobQueueName"},
            "dotenv": {"job_queue": "env:VIDEO_BATCH_JOB_QUEUE"},
        },
    }
    res = check(
        target, "CONFIG_MATCH_QUEUE", environ={"VIDEO_BATCH_JOB_QUEUE": "academy-video-queue"}
    )
    assert res.status is Status.FAIL
    assert_explained(res)
    assert res.detail == (
        f"monitor={QUEUE} api={QUEUE} setup_script=academy-video-batch-queue-old "
        "dotenv=academy-video-queue -> MISMATCH"
    )
    assert len(res.hints) == 2
    assert (
        f"setup_script (file:{setup}#JobQueueName) says 'academy-video-batch-queue-old'"
        in (res.hints[0])
    )
    assert "dotenv (env:VIDEO_BATCH_JOB_QUEUE) says 'academy-video-queue'" in res.hints[1]
    assert all(f"the monitor checks {QUEUE!r}" in h for h in res.hints)


def test_config_match_when_the_monitor_is_the_odd_one(aws):
    target = {
        **PLAIN_TARGET,
        "job_queue": "typo-queue",
        "config_sources": {"api": {"job_queue": QUEUE}, "script": {"job_queue": QUEUE}},
    }
    res = check(target, "CONFIG_MATCH_QUEUE")
    assert res.status is Status.FAIL
    assert res.detail == f"monitor=typo-queue api={QUEUE} script={QUEUE} -> MISMATCH"


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ("env:NOT_SET_ANYWHERE", "environment variable NOT_SET_ANYWHERE is not set"),
        ("ssm:/academy/api/MISSING", "SSM parameter /academy/api/MISSING does not exist"),
        ("file:/nonexistent/settings.env#QUEUE", "cannot read /nonexistent/settings.env"),
    ],
)
def test_config_match_unreadable_source_fails_naming_it(seed_world, spec, reason):
    target = {**seed_world, "config_sources": {**seed_world["config_sources"], "broken": {}}}
    target["config_sources"]["broken"] = {"job_queue": spec}
    res = check(target, "CONFIG_MATCH_QUEUE")
    assert res.status is Status.FAIL
    assert_explained(res)
    assert res.detail.startswith(f"source broken unreadable: {reason}")
    assert res.hints[0].startswith(f"Fix config source broken ({spec}): {reason}")
    assert res.data["unreadable"] == {
        "broken": res.detail.removeprefix("source broken unreadable: ")
    }


def test_config_match_ssm_access_denied_is_an_unreadable_source(aws, monkeypatch):
    patch_view(monkeypatch, ssm_parameter=client_error("AccessDeniedException", "GetParameters"))
    target = {**PLAIN_TARGET, "config_sources": {"api": {"job_queue": "ssm:/academy/QUEUE"}}}
    res = check(target, "CONFIG_MATCH_QUEUE")
    assert res.status is Status.FAIL
    assert "source api unreadable: ssm:/academy/QUEUE: access denied" in res.detail


def test_config_match_arn_and_revision_spellings_name_the_same_resource(aws):
    target = {
        **PLAIN_TARGET,
        "config_sources": {
            "api": {"job_queue": QUEUE_ARN, "job_definition": f"{JOBDEF_ARN}:7"},
            "script": {"job_queue": QUEUE, "job_definition": f"{JOBDEF}:3"},
            "json": {"job_definition": JOBDEF},
        },
    }
    report = run(target, ["CONFIG_MATCH_QUEUE", "CONFIG_MATCH_JOBDEF"])
    assert result(report, "CONFIG_MATCH_QUEUE").status is Status.OK
    assert result(report, "CONFIG_MATCH_JOBDEF").status is Status.OK


def test_config_match_a_different_name_behind_an_arn_is_a_mismatch(aws):
    other = f"arn:aws:batch:{REGION}:{ACCOUNT}:job-definition/other-jobdef:1"
    target = {**PLAIN_TARGET, "config_sources": {"api": {"job_definition": other}}}
    res = check(target, "CONFIG_MATCH_JOBDEF")
    assert res.status is Status.FAIL
    assert f"api (literal) says {other!r}" in res.hints[0]


# --- AWS_ACCESS ----------------------------------------------------------------------------


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


# --- QUEUE_CHECK ---------------------------------------------------------------------------


def queue(**overrides: Any) -> dict[str, Any]:
    base = {
        "jobQueueName": QUEUE,
        "jobQueueArn": QUEUE_ARN,
        "state": "ENABLED",
        "status": "VALID",
        "priority": 1,
        "computeEnvironmentOrder": [{"order": 1, "computeEnvironment": CE_ARN}],
    }
    base.update(overrides)
    return base


def test_queue_ok_on_the_seed_world(seed_world):
    res = check(seed_world, "QUEUE_CHECK")
    assert res.status is Status.OK
    assert res.detail == f"state=ENABLED status=VALID jobQueueArn={QUEUE_ARN}"
    assert res.data["computeEnvironmentOrder"] == [{"order": 1, "ce": CE_ARN}]


def test_queue_missing(seed_world):
    res = check({**seed_world, "job_queue": "academy-video-queue-typo"}, "QUEUE_CHECK")
    assert res.status is Status.FAIL
    assert_explained(res)
    assert res.detail == f"job queue academy-video-queue-typo does not exist in {REGION}"
    assert "describe-job-queues" in res.hints[0]


def test_queue_found_by_arn(seed_world):
    assert check({**seed_world, "job_queue": QUEUE_ARN}, "QUEUE_CHECK").status is Status.OK


def test_queue_disabled(seed_world):
    boto3.client("batch").update_job_queue(jobQueue=QUEUE, state="DISABLED")
    res = check(seed_world, "QUEUE_CHECK")
    assert res.status is Status.FAIL
    assert_explained(res)
    assert res.detail.startswith(f"job queue {QUEUE} is DISABLED")
    assert f"update-job-queue --job-queue {QUEUE} --state ENABLED" in res.hints[0]


def test_queue_invalid_reports_the_status_reason(aws, monkeypatch):
    reason = "CLIENT_ERROR - Compute environment academy-video-batch-ce-v3 is INVALID"
    patch_view(monkeypatch, job_queue=queue(status="INVALID", statusReason=reason))
    res = check(PLAIN_TARGET, "QUEUE_CHECK")
    assert res.status is Status.FAIL
    assert_explained(res)
    assert res.detail == f"job queue {QUEUE} status=INVALID: {reason}"
    assert res.data["statusReason"] == reason
    assert "statusReason" in res.hints[0]


@pytest.mark.parametrize("order", [[], None])
def test_queue_without_compute_environment(aws, monkeypatch, order):
    patch_view(monkeypatch, job_queue=queue(computeEnvironmentOrder=order))
    res = check(PLAIN_TARGET, "QUEUE_CHECK")
    assert res.status is Status.FAIL
    assert_explained(res)
    assert res.detail == f"job queue {QUEUE} has no compute environment attached"
    assert "--compute-environment-order" in res.hints[0]


def test_queue_updating_is_a_warning(aws, monkeypatch):
    patch_view(monkeypatch, job_queue=queue(status="UPDATING"))
    res = check(PLAIN_TARGET, "QUEUE_CHECK")
    assert res.status is Status.WARN
    assert_explained(res)
    assert res.detail == f"job queue {QUEUE} status=UPDATING"


def test_queue_with_missing_fields_is_reported_not_crashed(aws, monkeypatch):
    patch_view(monkeypatch, job_queue={"jobQueueName": QUEUE})
    res = check(PLAIN_TARGET, "QUEUE_CHECK")
    assert res.status is Status.FAIL
    assert res.detail.startswith(f"job queue {QUEUE} is UNKNOWN")


def restricted_sessions(world: WorldBuilder, actions: list[str]) -> AwsSessions:
    """Credentials of an IAM user allowed only `actions` (moto enforces it once auth is on)."""
    iam = world.client("iam")
    iam.create_user(UserName="monitor")
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}],
    }
    iam.put_user_policy(UserName="monitor", PolicyName="monitor", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName="monitor")["AccessKey"]
    session = boto3.Session(
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
        region_name=REGION,
    )
    return AwsSessions(base_session=session)


def test_queue_access_denied_names_the_missing_permission(world, tmp_path):
    target = build_seed(world, tmp_path).target
    sessions = restricted_sessions(world, ["sts:GetCallerIdentity"])
    with enable_iam_authentication():
        report = run(target, ["AWS_ACCESS", "QUEUE_CHECK"], sessions=sessions)
    assert result(report, "AWS_ACCESS").status is Status.OK
    res = result(report, "QUEUE_CHECK")
    assert res.status is Status.FAIL
    assert_explained(res)
    assert res.data["error_kind"] == "access denied"
    assert res.detail.startswith(f"job queue {QUEUE}: access denied on DescribeJobQueues")
    assert "is not authorized to perform" in res.detail
    assert res.hints[0].startswith(
        f"Grant the monitor's identity `batch:DescribeJobQueues` on {QUEUE}"
    )


def test_queue_access_denied_via_stubber(aws):
    sessions, stub = stubbed("batch")
    stub.add_client_error(
        "describe_job_queues", service_error_code="AccessDeniedException", http_status_code=403
    )
    res = check(PLAIN_TARGET, "QUEUE_CHECK", sessions=sessions)
    assert res.status is Status.FAIL
    assert res.data["error_code"] == "AccessDeniedException"
    assert "batch:DescribeJobQueues" in res.hints[0]


def test_queue_throttled_after_retries_is_named(aws, monkeypatch):
    patch_view(monkeypatch, job_queue=client_error("ThrottlingException", "DescribeJobQueues"))
    res = check(PLAIN_TARGET, "QUEUE_CHECK")
    assert res.status is Status.FAIL
    assert res.data["error_kind"] == "throttled"
    assert "throttled" in res.hints[0]


# --- CE_CHECK ------------------------------------------------------------------------------


def ce(name: str = CE, **overrides: Any) -> dict[str, Any]:
    resources = overrides.pop("computeResources", {})
    base = {
        "computeEnvironmentName": name,
        "computeEnvironmentArn": f"arn:aws:batch:{REGION}:{ACCOUNT}:compute-environment/{name}",
        "type": "MANAGED",
        "state": "ENABLED",
        "status": "VALID",
        "computeResources": {"type": "EC2", "minvCpus": 0, "maxvCpus": 32, "desiredvCpus": 0}
        | resources,
    }
    base.update(overrides)
    return base


def patch_ces(monkeypatch: pytest.MonkeyPatch, *ces: dict[str, Any] | str) -> None:
    """A queue with these CEs attached in order; a plain string is a CE that does not exist."""
    names = [c if isinstance(c, str) else c["computeEnvironmentName"] for c in ces]
    by_name = {c["computeEnvironmentName"]: c for c in ces if isinstance(c, dict)}
    order = [{"order": i + 1, "computeEnvironment": n} for i, n in enumerate(names)]
    lookup: Callable[[str], dict[str, Any] | None] = by_name.get
    patch_view(
        monkeypatch, job_queue=queue(computeEnvironmentOrder=order), compute_environment=lookup
    )


def test_ce_ok_on_the_seed_world(seed_world):
    res = check(seed_world, "CE_CHECK")
    assert res.status is Status.OK
    assert res.detail == f"CE {CE} state=ENABLED status=VALID type=MANAGED maxvCpus=32"


def test_ce_disabled(seed_world):
    boto3.client("batch").update_compute_environment(computeEnvironment=CE, state="DISABLED")
    res = check(seed_world, "CE_CHECK")
    assert res.status is Status.FAIL
    assert_explained(res)
    assert res.detail == f"CE {CE} is DISABLED"
    assert f"--compute-environment {CE} --state ENABLED" in res.hints[0]


def test_ce_invalid_reports_each_ces_status_reason(aws, monkeypatch):
    reason = "CLIENT_ERROR - The service role academy-batch-service-role does not exist"
    patch_ces(
        monkeypatch,
        ce("ce-spot", status="INVALID", statusReason=reason),
        ce("ce-ondemand"),
        ce("ce-old", status="INVALID", statusReason="INTERNAL_ERROR - subnet deleted"),
    )
    res = check(PLAIN_TARGET, "CE_CHECK")
    assert res.status is Status.FAIL
    assert_explained(res)
    assert res.detail == (
        f"CE ce-spot status=INVALID: {reason}; CE ce-old status=INVALID: "
        "INTERNAL_ERROR - subnet deleted"
    )
    assert len(res.hints) == 2 and "ce-spot" in res.hints[0] and "ce-old" in res.hints[1]
    by_name = {f["ce"]: f for f in res.data["compute_environments"]}
    assert by_name["ce-spot"]["statusReason"] == reason
    assert by_name["ce-ondemand"]["status"] == "VALID"


def test_ce_max_vcpus_zero_is_a_warning(world, tmp_path):
    world.queue_with_ce(max_vcpus=0)
    res = check(PLAIN_TARGET, "CE_CHECK")
    assert res.status is Status.WARN
    assert_explained(res)
    assert res.detail == f"CE {CE} maxvCpus=0: no job can ever be placed"
    assert "maxvCpus=<n>" in res.hints[0]


def test_ce_desired_above_max_is_a_warning(aws, monkeypatch):
    patch_ces(monkeypatch, ce(computeResources={"maxvCpus": 16, "desiredvCpus": 64}))
    res = check(PLAIN_TARGET, "CE_CHECK")
    assert res.status is Status.WARN
    assert_explained(res)
    assert res.detail == f"CE {CE} desiredvCpus=64 > maxvCpus=16"


def test_ce_unmanaged_is_a_warning(world):
    service_role = world.role("academy-batch-service-role")
    batch = world.client("batch")
    arn = batch.create_compute_environment(
        computeEnvironmentName="academy-unmanaged",
        type="UNMANAGED",
        state="ENABLED",
        serviceRole=service_role,
    )["computeEnvironmentArn"]
    batch.create_job_queue(
        jobQueueName=QUEUE,
        state="ENABLED",
        priority=1,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": arn}],
    )
    res = check(PLAIN_TARGET, "CE_CHECK")
    assert res.status is Status.WARN
    assert_explained(res)
    assert res.detail == "CE academy-unmanaged is UNMANAGED (Batch does not scale it)"


def test_ce_being_updated_is_a_warning(aws, monkeypatch):
    patch_ces(monkeypatch, ce(status="UPDATING"))
    res = check(PLAIN_TARGET, "CE_CHECK")
    assert res.status is Status.WARN
    assert res.detail == f"CE {CE} status=UPDATING"


def test_ce_missing(aws, monkeypatch):
    patch_ces(monkeypatch, ce("ce-ok"), "academy-video-batch-ce-deleted")
    res = check(PLAIN_TARGET, "CE_CHECK")
    assert res.status is Status.FAIL
    assert_explained(res)
    assert res.detail == "CE academy-video-batch-ce-deleted not found"
    assert "academy-video-batch-ce-deleted" in res.hints[0]


def test_ce_alone_names_a_missing_queue_not_a_missing_ce(aws):
    res = check({**PLAIN_TARGET, "job_queue": "no-such-queue"}, "CE_CHECK")
    assert res.status is Status.FAIL
    assert_explained(res)
    assert res.detail.startswith(f"job queue no-such-queue does not exist in {REGION}")


def test_ce_alone_names_the_queue_permission_when_the_queue_read_is_denied(aws, monkeypatch):
    patch_view(monkeypatch, job_queue=client_error("AccessDeniedException", "DescribeJobQueues"))
    res = check(PLAIN_TARGET, "CE_CHECK")
    assert res.status is Status.FAIL
    assert "batch:DescribeJobQueues" in res.hints[0]


def test_ce_describe_denied_names_describe_compute_environments(aws, monkeypatch):
    patch_view(
        monkeypatch,
        job_queue=queue(),
        compute_environment=client_error("AccessDeniedException", "DescribeComputeEnvironments"),
    )
    res = check(PLAIN_TARGET, "CE_CHECK")
    assert res.status is Status.FAIL
    assert "batch:DescribeComputeEnvironments" in res.hints[0]


def test_ce_with_missing_fields_is_reported_not_crashed(aws, monkeypatch):
    patch_ces(monkeypatch, {"computeEnvironmentName": CE})
    res = check(PLAIN_TARGET, "CE_CHECK")
    assert res.status is Status.FAIL
    assert f"CE {CE} is UNKNOWN" in res.detail


def test_ce_skipped_when_the_queue_fails(seed_world):
    report = run({**seed_world, "job_queue": "nope"}, ["QUEUE_CHECK", "CE_CHECK"])
    res = result(report, "CE_CHECK")
    assert res.status is Status.SKIP
    assert res.detail.startswith("QUEUE_CHECK is FAIL: job queue nope does not exist")


# --- JOBDEF_CHECK --------------------------------------------------------------------------


def container(**overrides: Any) -> dict[str, Any]:
    base = {
        "image": "worker:latest",
        "executionRoleArn": f"arn:aws:iam::{ACCOUNT}:role/exec",
        "jobRoleArn": f"arn:aws:iam::{ACCOUNT}:role/job",
        "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "/aws/batch/w"}},
    }
    base.update(overrides)
    return base


def jobdef(**overrides: Any) -> dict[str, Any]:
    base = {
        "jobDefinitionName": JOBDEF,
        "jobDefinitionArn": f"{JOBDEF_ARN}:4",
        "revision": 4,
        "status": "ACTIVE",
        "type": "container",
        "retryStrategy": {"attempts": 3},
        "containerProperties": container(),
    }
    base.update(overrides)
    return base


def register(world: WorldBuilder, name: str = JOBDEF, **kwargs: Any) -> int:
    kwargs.setdefault("type", "container")
    props = kwargs.setdefault("containerProperties", {"image": "worker:latest"})
    props.setdefault("resourceRequirements", [])
    props.setdefault("vcpus", 1)
    props.setdefault("memory", 512)
    return world.client("batch").register_job_definition(jobDefinitionName=name, **kwargs)[
        "revision"
    ]


def test_jobdef_healthy_is_ok(healthy_world):
    res = check(healthy_world, "JOBDEF_CHECK")
    assert res.status is Status.OK
    assert res.detail.startswith("revision=1 type=container image=")
    assert "logGroup=/aws/batch/academy-video-worker retryStrategy.attempts=3" in res.detail
    assert res.data["jobRoleArn"].endswith(":role/academy-video-batch-job-role")


def test_jobdef_retry_attempts_one_is_a_warning(seed_world):
    res = check(seed_world, "JOBDEF_CHECK")
    assert res.status is Status.WARN
    assert_explained(res)
    assert "retryStrategy.attempts=1" in res.detail
    assert "attempts=3" in res.hints[0]


def test_jobdef_without_retry_strategy_is_a_warning(aws, monkeypatch):
    patch_view(monkeypatch, job_definition=jobdef(retryStrategy=None))
    res = check(PLAIN_TARGET, "JOBDEF_CHECK")
    assert res.status is Status.WARN
    assert res.data["retryStrategy.attempts"] == 1


def test_jobdef_missing(world):
    res = check(PLAIN_TARGET, "JOBDEF_CHECK")
    assert res.status is Status.FAIL
    assert_explained(res)
    assert res.detail == f"job definition {JOBDEF} has no ACTIVE revision in {REGION}"
    assert "describe-job-definitions" in res.hints[0]


def test_jobdef_only_inactive_revisions_is_no_active_revision(world):
    register(world)
    world.client("batch").deregister_job_definition(jobDefinition=f"{JOBDEF}:1")
    res = check(PLAIN_TARGET, "JOBDEF_CHECK")
    assert res.status is Status.FAIL
    assert res.detail == f"job definition {JOBDEF} has no ACTIVE revision in {REGION}"


def test_jobdef_latest_active_revision_is_chosen(world):
    for image in ("worker:1", "worker:2", "worker:3"):
        register(world, containerProperties={"image": image}, retryStrategy={"attempts": 2})
    res = check(PLAIN_TARGET, "JOBDEF_CHECK")
    assert res.data["revision"] == 3
    assert res.data["image"] == "worker:3"


def test_jobdef_latest_active_skips_a_deregistered_newest(world):
    for image in ("worker:1", "worker:2"):
        register(world, containerProperties={"image": image})
    world.client("batch").deregister_job_definition(jobDefinition=f"{JOBDEF}:2")
    res = check(PLAIN_TARGET, "JOBDEF_CHECK")
    assert (res.data["revision"], res.data["image"]) == (1, "worker:1")


def test_jobdef_exact_revision_by_arn(world):
    for image in ("worker:1", "worker:2", "worker:3"):
        register(world, containerProperties={"image": image})
    res = check({**PLAIN_TARGET, "job_definition": f"{JOBDEF_ARN}:2"}, "JOBDEF_CHECK")
    assert (res.data["revision"], res.data["image"]) == (2, "worker:2")


def test_jobdef_exact_revision_by_name_colon_revision(aws):
    # moto only resolves ARNs in `jobDefinitions`; AWS also takes name:revision.
    sessions, stub = stubbed("batch")
    answer = jobdef(revision=2, containerProperties=container(image="worker:2"))
    stub.add_response(
        "describe_job_definitions",
        {"jobDefinitions": [answer]},
        expected_params={"jobDefinitions": [f"{JOBDEF}:2"]},
    )
    res = check(
        {**PLAIN_TARGET, "job_definition": f"{JOBDEF}:2"}, "JOBDEF_CHECK", sessions=sessions
    )
    assert (res.data["revision"], res.data["image"]) == (2, "worker:2")
    stub.assert_no_pending_responses()


def test_jobdef_not_container(world):
    world.client("batch").register_job_definition(
        jobDefinitionName=JOBDEF,
        type="multinode",
        nodeProperties={
            "numNodes": 1,
            "mainNode": 0,
            "nodeRangeProperties": [
                {"targetNodes": "0", "container": {"image": "x", "vcpus": 1, "memory": 512}}
            ],
        },
    )
    res = check(PLAIN_TARGET, "JOBDEF_CHECK")
    assert res.status is Status.FAIL
    assert_explained(res)
    assert res.detail == f"{JOBDEF}:1 has type=multinode, not container"


def test_jobdef_without_image(aws, monkeypatch):
    patch_view(monkeypatch, job_definition=jobdef(containerProperties=container(image="")))
    res = check(PLAIN_TARGET, "JOBDEF_CHECK")
    assert res.status is Status.FAIL
    assert_explained(res)
    assert res.detail == f"{JOBDEF}:4 has no container image"
    assert "containerProperties.image" in res.hints[0]


def test_jobdef_fargate_without_execution_role(world):
    register(
        world,
        platformCapabilities=["FARGATE"],
        containerProperties={
            "image": "worker:latest",
            "resourceRequirements": [
                {"type": "VCPU", "value": "1"},
                {"type": "MEMORY", "value": "2048"},
            ],
        },
    )
    res = check(PLAIN_TARGET, "JOBDEF_CHECK")
    assert res.status is Status.FAIL
    assert_explained(res)
    assert res.detail.startswith(f"{JOBDEF}:1 runs on Fargate without an executionRoleArn")
    assert "AmazonECSTaskExecutionRolePolicy" in res.hints[0]


def test_jobdef_ec2_without_execution_role_is_fine(aws, monkeypatch):
    patch_view(
        monkeypatch, job_definition=jobdef(containerProperties=container(executionRoleArn=""))
    )
    assert check(PLAIN_TARGET, "JOBDEF_CHECK").status is Status.OK


def test_jobdef_log_driver_not_awslogs(world):
    register(
        world,
        containerProperties={
            "image": "worker:latest",
            "logConfiguration": {"logDriver": "json-file"},
        },
        retryStrategy={"attempts": 3},
    )
    res = check(PLAIN_TARGET, "JOBDEF_CHECK")
    assert res.status is Status.FAIL
    assert_explained(res)
    assert res.detail.startswith(f"{JOBDEF}:1 logs with logDriver=json-file")
    assert "logDriver=awslogs" in res.hints[0]


def test_jobdef_default_log_config_means_awslogs_and_the_default_group(aws, monkeypatch):
    props = container()
    del props["logConfiguration"]
    patch_view(monkeypatch, job_definition=jobdef(containerProperties=props))
    res = check(PLAIN_TARGET, "JOBDEF_CHECK")
    assert res.status is Status.OK
    assert res.data["logGroup"] == "/aws/batch/job"


@pytest.mark.parametrize("props", [None, {}])
def test_jobdef_without_container_properties_is_a_clear_fail(aws, monkeypatch, props):
    answer = jobdef(containerProperties=props)
    if props is None:
        del answer["containerProperties"]
    patch_view(monkeypatch, job_definition=answer)
    res = check(PLAIN_TARGET, "JOBDEF_CHECK")
    assert res.status is Status.FAIL
    assert_explained(res)
    assert (
        res.detail == f"{JOBDEF}:4 has no containerProperties (ECS/EKS properties are not checked)"
    )
    assert "crash" not in res.data.get("error_kind", "")


def test_jobdef_with_sparse_log_configuration_is_not_a_crash(aws, monkeypatch):
    props = container(logConfiguration={"logDriver": "awslogs", "options": None})
    patch_view(monkeypatch, job_definition=jobdef(containerProperties=props, retryStrategy={}))
    res = check(PLAIN_TARGET, "JOBDEF_CHECK")
    assert res.status is Status.WARN
    assert res.data["logGroup"] == "/aws/batch/job"


def test_jobdef_describe_denied_names_the_permission(aws):
    sessions, stub = stubbed("batch")
    stub.add_client_error(
        "describe_job_definitions", service_error_code="AccessDeniedException", http_status_code=400
    )
    res = check(PLAIN_TARGET, "JOBDEF_CHECK", sessions=sessions)
    assert res.status is Status.FAIL
    assert res.detail.startswith(f"job definition {JOBDEF}: access denied")
    assert f"`batch:DescribeJobDefinitions` on {JOBDEF}" in res.hints[0]
