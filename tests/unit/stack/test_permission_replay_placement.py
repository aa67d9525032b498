"""Permission replay of the placement analysis's reads (batch:GetJobQueueSnapshot,
ec2:DescribeInstanceTypes, ec2:DescribeSubnets, ec2:DescribeInstanceTypeOfferings,
servicequotas:GetServiceQuota) and of the opt-in batch:CancelJob, in this account and
through a target account's role: every request must be allowed by the role the mode
deploys, and CancelJob only where CancelUnplaceable is true (machinery:
tests/support/replay.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from support.placement import Answers, queue_holds, runnable_job
from support.replay import TARGET_ACCOUNT, TARGET_ROLE, Deployment, assert_no_access_denied

from batch_health.demo import JOBDEF, QUEUE, WorldBuilder, api_config_source, build_healthy

READS = {
    "batch:GetJobQueueSnapshot",
    "ec2:DescribeInstanceTypes",
    "ec2:DescribeSubnets",
    "ec2:DescribeInstanceTypeOfferings",
    "service-quotas:GetServiceQuota",
}
BACKLOG = {"checks": ["RUNNABLE_BACKLOG_CHECK"], "notify": False}
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")


@pytest.fixture
def never_runs(monkeypatch) -> None:
    """The queue holds a job asking more memory than any instance type Batch may launch
    for `optimal` (AWS's documented RUNNABLE job, its MEMORY raised); the calls moto lacks
    are answered in AWS's documented shapes, after the recorder has seen them."""
    Answers().install(monkeypatch)
    queue_holds(monkeypatch, [runnable_job("j-huge", memory="4000000")])


def single_account(cancel: str) -> Deployment:
    return Deployment(
        {
            "JobQueue": QUEUE,
            "JobDefinition": JOBDEF,
            "TargetName": "academy-video",
            "ConfigParameterPath": "/academy/api/",
            "ConfigSources": json.dumps({"api": api_config_source()}),
            "CancelUnplaceable": cancel,
        }
    )


def made(replay: Any, principal: str | None = None) -> set[str]:
    return {r.name for r in replay.requests if principal is None or r.principal == principal}


@pytest.mark.parametrize("cancel", ["true", "false"])
def test_single_account_places_and_cancels_only_as_granted(world, tmp_path, never_runs, cancel):
    build_healthy(world, tmp_path)
    deployment = single_account(cancel)
    deployment.create_resources(world)
    replay, [report] = deployment.run(BACKLOG)
    assert made(replay) >= READS
    assert ("batch:CancelJob" in made(replay)) is (cancel == "true")
    assert replay.denied == []
    assert_no_access_denied([report])


def test_a_grant_taken_away_is_denied(world, tmp_path, never_runs):
    # The control: the same run on a stack without CancelJob, the option forced on.
    build_healthy(world, tmp_path)
    deployment = single_account("false")
    deployment.env["CANCEL_UNPLACEABLE"] = "true"
    deployment.create_resources(world)
    replay, _ = deployment.run(BACKLOG)
    assert [d.split(" ")[1] for d in replay.denied] == ["batch:CancelJob"], replay.denied


def test_a_target_accounts_role_places_within_its_grant(world, tmp_path, monkeypatch, never_runs):
    monkeypatch.setenv("MOTO_ACCOUNT_ID", TARGET_ACCOUNT)
    remote = build_healthy(WorldBuilder(None), Path(tmp_path)).target
    monkeypatch.delenv("MOTO_ACCOUNT_ID")
    target = {
        "name": "video-partner",
        "region": remote["region"],
        "job_queue": remote["job_queue"],
        "job_definition": remote["job_definition"],
        "role_arn": TARGET_ROLE,
    }
    world.client("ssm").put_parameter(
        Name="/batch-health/targets", Value=json.dumps({"targets": [target]}), Type="String"
    )
    deployment = Deployment(
        {
            "TargetsParameter": "/batch-health/targets",
            "JobQueue": QUEUE,
            "JobDefinition": JOBDEF,
            "TargetRoleArns": TARGET_ROLE,
            "CancelUnplaceable": "true",
        },
        target_account={"CancelUnplaceable": "true"},
    )
    deployment.create_resources(world)
    replay, [report] = deployment.run(BACKLOG)
    assert made(replay, TARGET_ROLE) >= READS | {"batch:CancelJob"}
    assert replay.denied == []
    assert_no_access_denied([report])
