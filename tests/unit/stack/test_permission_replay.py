"""Permission replay: every AWS request the monitor makes, in every documented deployment
mode, is allowed by the role that mode deploys.

The emulator enforces no IAM, so a green run on it says nothing about AccessDenied on a
real account. Here each mode's stack is created offline (SAM transform, the mode's
parameters, intrinsics resolved: tests/support/cfn.py), the function runs in-process
against moto with that stack's environment, every request it makes is recorded
(tests/support/recorder.py), mapped to what AWS authorizes it against
(tests/support/authorization.py), and evaluated against the deployed role's policies with
the project's own policy evaluator: every request must be allowed. Requests made with a
target account's role are evaluated against templates/target-account-role.yaml as that
account would deploy it. The machinery is tests/support/replay.py.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from support.authorization import Knowledge, Request, authorizations
from support.cfn import ROOT, Stack, TemplateError, deploy
from support.recorder import Recorder
from support.replay import (
    TARGET_ACCOUNT,
    TARGET_ROLE,
    Deployment,
    assert_no_access_denied,
    authorize,
    details,
    statuses,
)

from batch_health.aws.inventory import TargetView
from batch_health.checks import get_check, smoke_pending
from batch_health.demo import (
    JOBDEF,
    QUEUE,
    REGION,
    WorldBuilder,
    api_config_source,
    build_healthy,
    build_seed,
)
from batch_health.domain.iam_policy import PolicyDocument
from batch_health.notify.webhook_secret import clear_cache, get_webhook_url

ACCOUNT = "123456789012"  # the monitor's (moto's default)
OTHER_REGION = "us-west-2"
SCHEDULED = json.loads((ROOT / "events" / "scheduled.json").read_text())
SMOKE = {"allow_test_submit": True, "checks": ["SMOKE_SUBMIT_CHECK"]}
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")


# --- single target ---------------------------------------------------------------------

SINGLE = {
    "JobQueue": QUEUE,
    "JobDefinition": JOBDEF,
    "TargetName": "academy-video",
    "ConfigParameterPath": "/academy/api/",
}


def seed_config_sources(tmp_path: Path, world: WorldBuilder) -> str:
    """The ops report's world, with the config source a deployed monitor reads (SSM: the
    function cannot read the team's files)."""
    build_seed(world, tmp_path)
    return json.dumps({"api": api_config_source()})


def test_single_target_scheduled_run_with_notifications(world, tmp_path):
    """The ops report's world (log group missing): every check, the run lease, the FAIL
    notification to the KMS-encrypted topic and its incident state."""
    deployment = Deployment({**SINGLE, "ConfigSources": seed_config_sources(tmp_path, world)})
    deployment.create_resources(world)
    replay, [report] = deployment.run(SCHEDULED)
    assert statuses(report)["LOG_GROUP_CHECK"] == "FAIL"
    assert statuses(report)["CONFIG_MATCH_QUEUE"] == "OK", details(report)
    assert replay.denied == []
    ops = replay.operations
    assert ops["sns:Publish"] == 1 and ops["dynamodb:PutItem"] >= 2  # lease + incident
    assert ops["ssm:GetParameters"] == 1 and ops["iam:GetRole"] == 2
    assert_no_access_denied([report])


def test_single_target_smoke_run_submits_and_terminates_within_the_grant(
    world, tmp_path, monkeypatch
):
    """The hourly smoke run: SubmitJob with its tags, polling, and TerminateJob of a job
    left RUNNABLE (the emulator's jobs finish at once, so the poll is made to see one, and
    the check's clock runs fast)."""
    build_healthy(world, tmp_path)
    deployment = Deployment(
        {
            **SINGLE,
            "ConfigSources": json.dumps({"api": api_config_source()}),
            "SmokeResult": "wait",
        }
    )
    deployment.create_resources(world)
    real_poll = TargetView.poll_job

    def stuck(view: TargetView, job_id: str) -> dict[str, Any] | None:
        job = real_poll(view, job_id)
        return {**(job or {}), "status": "RUNNABLE", "statusReason": "waiting for capacity"}

    now = [0.0]
    smoke = get_check("SMOKE_SUBMIT_CHECK")
    monkeypatch.setattr(TargetView, "poll_job", stuck)
    monkeypatch.setattr(smoke, "clock", lambda: now[0])
    monkeypatch.setattr(smoke, "sleep", lambda s: now.__setitem__(0, now[0] + max(s, 1.0)))
    replay, [report] = deployment.run(SMOKE | {"notify": False})
    result = report["checks"][0]
    assert result["name"] == "SMOKE_SUBMIT_CHECK" and result["status"] == "FAIL", result
    assert result["data"]["terminated"] is True, result
    assert replay.operations["batch:SubmitJob"] == 1
    assert replay.operations["batch:TerminateJob"] == 1
    assert replay.denied == []


def test_a_smoke_run_terminates_an_earlier_smoke_job_that_never_started(
    world, tmp_path, monkeypatch
):
    """SmokeResult=event (the default): the run ends after the submit; the next one finds
    the earlier job still waiting (the emulator's jobs finish at once, so its listing is
    made to show it RUNNABLE for an hour) and terminates it, within the grant."""
    build_healthy(world, tmp_path)
    deployment = Deployment({**SINGLE, "ConfigSources": json.dumps({"api": api_config_source()})})
    deployment.create_resources(world)
    first, [submitted] = deployment.run(SMOKE | {"notify": False})
    assert submitted["checks"][0]["status"] == "SKIP"
    assert first.operations["batch:SubmitJob"] == 1 and first.denied == []
    real = smoke_pending.stuck_smoke_jobs

    def an_hour_in_runnable(ctx: Any, batch: Any, now_ms: int) -> list[dict[str, Any]]:
        class Listing:
            def list_jobs(self, **request: Any) -> dict[str, Any]:
                jobs = batch.list_jobs(**request)["jobSummaryList"]
                old = {"status": "RUNNABLE", "createdAt": now_ms - 3_600_000}
                return {"jobSummaryList": [{**j, **old} for j in jobs]}

        return real(ctx, Listing(), now_ms)

    monkeypatch.setattr(smoke_pending, "stuck_smoke_jobs", an_hour_in_runnable)
    # TerminateJob's tag condition is met by the tags the first run's SubmitJob set.
    second, [judged] = deployment.run(SMOKE | {"notify": False})
    result = judged["checks"][0]
    assert result["status"] == "FAIL" and "never started" in result["detail"], result
    assert second.operations["batch:ListJobs"] == 1
    assert second.operations["batch:TerminateJob"] == 1
    assert second.denied == []


# --- many targets -------------------------------------------------------------------------


def two_region_and_cross_account_targets(world: WorldBuilder, tmp_path: Path, monkeypatch):
    """Three workloads: this account's in the stack's region (the smoke target) and in
    another region, and one in another account read through its role."""
    (tmp_path / "home").mkdir()
    home = build_healthy(world, tmp_path / "home").target
    home["config_sources"] = {"api": api_config_source()}
    other = WorldBuilder(None, region=OTHER_REGION)
    other.queue_with_ce(suffix="-west")
    other.job_definition(command=["echo", "Ref::job_id"], attempts=3, suffix="-west")
    other.api_settings(suffix="-west")
    other.log_group(messages=["worker started"])
    west = {
        "name": "video-west",
        "region": OTHER_REGION,
        "job_queue": f"{QUEUE}-west",
        "job_definition": f"{JOBDEF}-west",
        "config_sources": {"api": api_config_source("-west")},
    }
    monkeypatch.setenv("MOTO_ACCOUNT_ID", TARGET_ACCOUNT)
    (tmp_path / "remote").mkdir()
    remote = build_healthy(WorldBuilder(None), tmp_path / "remote").target
    monkeypatch.delenv("MOTO_ACCOUNT_ID")
    remote = {
        "name": "video-partner",
        "region": REGION,
        "job_queue": remote["job_queue"],
        "job_definition": remote["job_definition"],
        "role_arn": TARGET_ROLE,
        "config_sources": {"api": api_config_source()},
        "smoke": {"enabled": True, "parameters": {"job_id": "health-smoke"}},
    }
    return [home, west, remote]


def targets_deployment(world, targets: list[dict[str, Any]], parameter: str) -> Deployment:
    deployment = Deployment(
        {
            "TargetsParameter": parameter,
            "JobQueue": QUEUE,  # this account's smoke target
            "JobDefinition": JOBDEF,
            "MonitoredRegions": f"{REGION},{OTHER_REGION}",
            "ConfigParameterPath": "/academy/api/",
            "TargetRoleArns": TARGET_ROLE,
        },
        target_account={
            "SmokeJobQueue": QUEUE,
            "SmokeJobDefinition": JOBDEF,
            "ConfigParameterPath": "/academy/api/",
        },
    )
    deployment.create_resources(world)
    return deployment


def test_targets_parameter_in_two_regions_and_another_account(world, tmp_path, monkeypatch):
    targets = two_region_and_cross_account_targets(world, tmp_path, monkeypatch)
    world.client("ssm").put_parameter(
        Name="/batch-health/targets", Value=json.dumps({"targets": targets}), Type="String"
    )
    deployment = targets_deployment(world, targets, "/batch-health/targets")
    replay, [suite, smoke] = deployment.run(SCHEDULED, SMOKE)
    assert replay.denied == []
    reports = {r["target"]: r for r in suite["reports"]}
    for name, report in reports.items():
        assert report["overall"] in ("OK", "WARN"), (name, details(report))
    # Smoke: submitted where the deployment may (its JobQueue, and the partner whose role
    # allows it), skipped with the reason elsewhere: never an AccessDenied.
    smoked = {r["target"]: r["checks"][0] for r in smoke["reports"]}
    for name in ("academy-video", "video-partner"):  # the job's own event gives the verdict
        assert smoked[name]["status"] == "SKIP", smoked[name]
        assert smoked[name]["detail"].startswith("submitted health-smoke-"), smoked[name]
    assert smoked["video-west"]["status"] == "SKIP"
    assert "JobQueue/JobDefinition" in smoked["video-west"]["detail"]
    assert replay.operations["batch:SubmitJob"] == 2
    assert {r.region for r in replay.requests if r.service == "logs"} == {REGION, OTHER_REGION}
    assert any(r.principal == TARGET_ROLE for r in replay.requests)
    assert_no_access_denied([*suite["reports"], *smoke["reports"]])


def test_one_parameter_per_target_under_a_path(world, tmp_path, monkeypatch):
    targets = two_region_and_cross_account_targets(world, tmp_path, monkeypatch)
    for target in targets:
        world.client("ssm").put_parameter(
            Name=f"/batch-health/targets/{target['name']}", Value=json.dumps(target), Type="String"
        )
    deployment = targets_deployment(world, targets, "/batch-health/targets/")
    replay, [suite] = deployment.run(SCHEDULED)
    assert replay.operations["ssm:GetParametersByPath"] >= 1
    assert {r["target"] for r in suite["reports"]} == {t["name"] for t in targets}
    assert replay.denied == []


def test_a_target_outside_the_deployment_is_reported_not_denied(world, tmp_path, monkeypatch):
    """A region the deployment may not read, a log group outside LogGroupPrefix, an SSM
    source outside ConfigParameterPath: each is named as the deployment's limit, and no
    request outside the grant is made."""
    home = build_healthy(world, tmp_path).target
    elsewhere = WorldBuilder(None, region="eu-west-1")
    elsewhere.queue_with_ce(suffix="-eu")
    targets = [
        {**home, "config_sources": {"api": {"job_queue": "ssm:/other/app/QUEUE"}}},
        {
            "name": "video-eu",
            "region": "eu-west-1",
            "job_queue": f"{QUEUE}-eu",
            "job_definition": JOBDEF,
        },
        {**home, "name": "custom-logs", "log_group": "/custom/video"},
    ]
    world.client("logs").create_log_group(logGroupName="/custom/video")
    world.client("ssm").put_parameter(
        Name="/batch-health/targets", Value=json.dumps({"targets": targets}), Type="String"
    )
    deployment = Deployment(
        {
            "TargetsParameter": "/batch-health/targets",
            "ConfigParameterPath": "/academy/api/",
        }
    )
    deployment.create_resources(world)
    replay, [suite] = deployment.run(SCHEDULED | {"detail": {"notify": False}})
    assert replay.denied == []
    reports = {r["target"]: statuses(r) for r in suite["reports"]}
    details_of = {
        r["target"]: {c["name"]: c["detail"] for c in r["checks"]} for r in suite["reports"]
    }
    assert reports["video-eu"]["AWS_ACCESS"] == "FAIL"
    assert set(reports["video-eu"].values()) == {"FAIL", "SKIP"}
    assert [r.name for r in replay.requests if r.region == "eu-west-1"] == []
    assert "MonitoredRegions" in details_of["video-eu"]["AWS_ACCESS"]
    assert reports["academy-video"]["CONFIG_MATCH_QUEUE"] == "FAIL"
    assert "ConfigParameterPath" in details_of["academy-video"]["CONFIG_MATCH_QUEUE"]
    assert reports["custom-logs"]["LOG_CONTENT_CHECK"] == "SKIP"
    assert "LogGroupPrefix" in details_of["custom-logs"]["LOG_CONTENT_CHECK"]


# --- the Slack notifier ----------------------------------------------------------------------


def test_the_notifier_reads_only_its_secret(world):
    secret = world.client("secretsmanager").create_secret(
        Name="batch-health/slack-webhook", SecretString="https://hooks.slack.com/services/T/B/x"
    )["ARN"]
    deployment = Deployment({**SINGLE, "SlackWebhookSecretArn": secret})
    clear_cache()
    recorder = Recorder("notifier")
    with recorder.active():
        assert get_webhook_url(secret).startswith("https://hooks.slack.com/")
    clear_cache()
    assert [r.name for r in recorder.requests] == ["secretsmanager:GetSecretValue"]
    assert authorize(recorder.requests, deployment.roles, deployment.known) == []


# --- the replay catches what it should --------------------------------------------------------


def test_a_grant_taken_away_is_a_denial(world, tmp_path):
    deployment = Deployment({**SINGLE, "ConfigSources": seed_config_sources(tmp_path, world)})
    deployment.create_resources(world)
    replay, _ = deployment.run(SCHEDULED | {"detail": {"notify": False}})
    without_logs = [
        PolicyDocument(
            p.source,
            {
                **p.document,
                "Statement": [
                    s for s in p.document["Statement"] if s.get("Sid") != "LogGroupsDescribe"
                ],
            },
        )
        for p in deployment.roles["monitor"]
    ]
    denied = authorize(replay.requests, {"monitor": without_logs}, deployment.known)
    assert denied and all("logs:DescribeLogGroups" in line for line in denied)


def test_an_operation_without_a_row_fails_the_replay():
    from support.authorization import UnknownOperation

    request = Request("logs", "PutRetentionPolicy", {}, REGION, ACCOUNT, "monitor")
    with pytest.raises(UnknownOperation, match="logs:PutRetentionPolicy: no row"):
        authorizations(request, Knowledge())


def test_the_old_role_names_join_cannot_be_created():
    """The stack before: role ARNs built with an intrinsic function as the Fn::Join
    delimiter, which CloudFormation refuses (cfn-lint 1.58 does not report it)."""
    template = deploy(parameters=SINGLE).template
    broken = json.loads(json.dumps(template))
    broken["Resources"]["MonitorFunctionRole"]["Properties"]["Policies"][0]["PolicyDocument"][
        "Statement"
    ][0]["Resource"] = {
        "Fn::Join": [{"Fn::Sub": ",arn:${AWS::Partition}:iam::${AWS::AccountId}:role/"}, ["a"]]
    }
    with pytest.raises(TemplateError, match="Fn::Join delimiter"):
        Stack(broken, deploy(parameters=SINGLE).parameters).properties("MonitorFunctionRole")


def test_runs_overlap_never_twice(world, tmp_path):
    deployment = Deployment({**SINGLE, "ConfigSources": seed_config_sources(tmp_path, world)})
    deployment.create_resources(world)
    table = deployment.env["INCIDENT_TABLE_NAME"]
    until = int(time.time()) + 600
    world.client("dynamodb").put_item(
        TableName=table,
        Item={
            "pk": {"S": "lease#suite"},
            "holder": {"S": "other-request"},
            "lease_until": {"S": "later"},
            "expires_at": {"N": str(until)},
        },
    )
    replay, [result] = deployment.run(SCHEDULED)
    assert result["skipped"] is True and "other-request" in result["reason"]
    assert replay.denied == []
    assert {r.service for r in replay.requests} == {"dynamodb"}
