"""The placement analysis in the checks: RUNNABLE_BACKLOG_CHECK names the constraint a
waiting job can never meet, JOBDEF_CHECK asks whether the job definition can run on the
queue at all, and the smoke check does not submit a job that could never leave RUNNABLE.

Worlds are the emulator's (its instance types and offerings are AWS's stored answers); the
calls it lacks are answered in AWS's documented shapes (support.placement). Instance type
figures: m4.large 2 vCPUs, 8192 MiB (moto's stored DescribeInstanceTypes answer, and the Batch
memory-management page's example); quota codes and new-account defaults: AWS's EC2 quota
table (tests/data/placement_facts.json).
"""

from __future__ import annotations

from typing import Any

import pytest
from support.checks import ago, assert_explained, check
from support.placement import (
    UNDETERMINED,
    Answers,
    placement_world,
    queue_holds,
    runnable_job,
)

from batch_health.demo import CE, JOBDEF, QUEUE, WorldBuilder
from batch_health.models import Status

BACKLOG = "RUNNABLE_BACKLOG_CHECK"
TARGET = {"name": "video", "region": "us-east-1", "job_queue": QUEUE, "job_definition": JOBDEF}


@pytest.fixture
def east(aws) -> WorldBuilder:
    return WorldBuilder(None, region="us-east-1")


@pytest.fixture
def answers(monkeypatch) -> Answers:
    return Answers().install(monkeypatch)


def register(world: WorldBuilder, vcpus: str = "2", memory: str = "256", **extra: Any) -> None:
    world.client("batch").register_job_definition(
        jobDefinitionName=JOBDEF,
        type="container",
        containerProperties={
            "image": "public.ecr.aws/amazonlinux/amazonlinux:latest",
            "command": ["true"],
            "resourceRequirements": [
                {"type": "VCPU", "value": vcpus},
                {"type": "MEMORY", "value": memory},
            ],
            **extra,
        },
        retryStrategy={"attempts": 3},
    )


def placement(result) -> dict[str, Any]:
    (group,) = result.data["placement"]
    return group


# --- RUNNABLE_BACKLOG_CHECK ------------------------------------------------------------------


def test_undetermined_reason_whose_cause_is_memory_is_named_as_the_memory_boundary(
    east, answers, monkeypatch
):
    # The memory-management page's own case: 8192 MiB asked, only m4.large allowed.
    placement_world(east, ["m4.large"])
    job = runnable_job("j-mem", memory="8192", status_reason=UNDETERMINED, created_at=ago(3))
    queue_holds(monkeypatch, [job])
    result = check(TARGET, BACKLOG)
    assert result.status is Status.FAIL  # at 3 minutes: a job that can never run is not "young"
    assert_explained(result)
    assert "[MEMORY_ABOVE_INSTANCE_TYPES]" in result.detail
    assert f'Batch says "{UNDETERMINED}"' in result.detail
    assert "job asks 8192 MiB; the largest allowed type m4.large gives ~7953 MiB" in result.detail
    assert any("lower MEMORY to <= 7953" in h for h in result.hints)
    assert any("aws batch cancel-job --job-id j-mem" in h for h in result.hints)
    group = placement(result)
    assert group["verdict"] == "NEVER" and group["job_ids"] == ["j-mem"]
    assert group["batch_reason"] == UNDETERMINED


def test_a_job_that_fits_an_idle_environment_is_not_reported(east, answers, monkeypatch):
    placement_world(east, ["m4.large"])
    queue_holds(monkeypatch, [runnable_job("j-ok", created_at=ago(2))])
    result = check(TARGET, BACKLOG)
    assert result.status is Status.OK
    assert placement(result)["verdict"] == "FITS"


def test_optimal_is_expanded_so_a_large_job_fits(east, answers, monkeypatch):
    # 8192 MiB does not fit m4.large, but `optimal` allows larger c4/m4/r4/c5/m5/r5 types.
    placement_world(east, ["optimal"])
    queue_holds(monkeypatch, [runnable_job("j-opt", memory="8192", created_at=ago(2))])
    result = check(TARGET, BACKLOG)
    assert result.status is Status.OK
    assert placement(result)["verdict"] == "FITS"


def test_a_job_that_fits_but_waits_at_max_vcpus_warns_with_what_holds_it(
    east, answers, monkeypatch
):
    # The environment runs at its maxvCpus (desired 16 of 16): the job fits, capacity is taken.
    placement_world(east, ["m4.large"], max_vcpus=16, desired_vcpus=16)
    queue_holds(monkeypatch, [runnable_job("j-wait", created_at=ago(45))])
    result = check(TARGET, BACKLOG)
    assert result.status is Status.WARN  # past the 30 min warn threshold, below the fail one
    assert "fit but wait for capacity" in result.detail
    assert f"{CE} is at maxvCpus (16 of 16)" in result.detail
    assert placement(result)["verdict"] == "WAITING"


def test_above_max_vcpus_names_the_numbers_and_the_command(east, answers, monkeypatch):
    placement_world(east, ["optimal"], max_vcpus=16)
    answers.quotas["L-1216C47A"] = 1000.0  # a raised quota: only maxvCpus stands in the way
    queue_holds(monkeypatch, [runnable_job("j-big", vcpus="32", memory="2048")])
    result = check(TARGET, BACKLOG)
    assert result.status is Status.FAIL
    assert "[ABOVE_MAX_VCPUS]" in result.detail
    assert f"job needs 32 vCPUs; maxvCpus of {CE} is 16" in result.detail
    assert any(
        f"--compute-environment {CE} --compute-resources maxvCpus=32" in h for h in result.hints
    )


def test_above_the_new_accounts_vcpu_quota_names_the_quota_code(east, answers, monkeypatch):
    # A new account's Standard On-Demand quota is 5 vCPUs (L-1216C47A); an 8 vCPU job
    # needs one c4.2xlarge (8 vCPUs) at least.
    placement_world(east, ["c4"], max_vcpus=64)
    queue_holds(monkeypatch, [runnable_job("j-quota", vcpus="8", memory="2048")])
    result = check(TARGET, BACKLOG)
    assert result.status is Status.FAIL
    assert "[ABOVE_VCPU_QUOTA]" in result.detail
    assert "L-1216C47A" in result.detail
    assert any(
        "request-service-quota-increase --service-code ec2 --quota-code L-1216C47A "
        "--desired-value 8" in h
        for h in result.hints
    )
    assert {c["QuotaCode"] for c in answers.calls["GetServiceQuota"]} == {"L-1216C47A"}


def test_types_offered_in_none_of_the_subnets_zones(east, answers, monkeypatch):
    # In moto's stored us-east-1 offerings, c5 types are not offered in us-east-1e.
    placement_world(east, ["c5"], zone="us-east-1e")
    queue_holds(monkeypatch, [runnable_job("j-zone")])
    result = check(TARGET, BACKLOG)
    assert result.status is Status.FAIL
    assert "[TYPES_NOT_OFFERED_IN_SUBNET_AZS]" in result.detail
    assert "us-east-1e" in result.detail


def test_gpu_job_on_an_environment_without_gpu_types(east, answers, monkeypatch):
    placement_world(east, ["m5"])
    queue_holds(monkeypatch, [runnable_job("j-gpu", gpus="1")])
    result = check(TARGET, BACKLOG)
    assert result.status is Status.FAIL
    assert "[GPU_NOT_OFFERED]" in result.detail


def test_every_environment_disabled(east, answers, monkeypatch):
    placement_world(east, ["m4.large"], state="DISABLED")
    queue_holds(monkeypatch, [runnable_job("j-off")])
    result = check(TARGET, BACKLOG)
    assert result.status is Status.FAIL
    assert "[ALL_ENVIRONMENTS_DISABLED_OR_INVALID]" in result.detail
    assert any("--state ENABLED" in h for h in result.hints)


def test_jobs_asking_the_same_are_judged_once_and_the_queue_front_first(east, answers, monkeypatch):
    placement_world(east, ["m4.large"])
    jobs = [runnable_job(f"j{i}", memory="8192", created_at=ago(10 - i)) for i in range(3)]
    queue_holds(monkeypatch, jobs)
    answers.front = ["j2"]
    result = check(TARGET, BACKLOG)
    group = placement(result)
    assert group["job_ids"] == ["j2", "j0", "j1"]  # the front, then the oldest
    assert group["jobs"] == 3
    assert len(answers.calls["GetJobQueueSnapshot"]) == 1


def test_an_unreadable_fact_is_named_and_never_guessed(east, answers, monkeypatch):
    answers.deny["DescribeInstanceTypes"] = "UnauthorizedOperation"
    placement_world(east, ["m4.large"])
    queue_holds(monkeypatch, [runnable_job("j-unk", memory="8192", created_at=ago(2))])
    result = check(TARGET, BACKLOG)
    assert result.status is Status.OK  # young, and nothing proves it can never run
    assert placement(result)["verdict"] == "UNKNOWN"
    assert "ec2:DescribeInstanceTypes failed" in result.detail
    assert "denied" in result.detail.lower()


def test_cancel_unplaceable_cancels_with_the_constraint_as_reason(east, answers, monkeypatch):
    placement_world(east, ["m4.large"])
    queue_holds(
        monkeypatch, [runnable_job("j-c1", memory="8192"), runnable_job("j-c2", memory="8192")]
    )
    result = check(TARGET, BACKLOG, cancel_unplaceable=True)
    assert result.status is Status.FAIL
    cancels = answers.calls["CancelJob"]
    assert [c["jobId"] for c in cancels] == ["j-c1", "j-c2"]
    assert cancels[0]["reason"].startswith(
        "batch-health: can never run (MEMORY_ABOVE_INSTANCE_TYPES)"
    )
    assert result.hints[0].startswith("Cancelled 2 of them")
    assert result.data["cancelled"][0]["cancelled"] == ["j-c1", "j-c2"]


def test_without_the_option_nothing_is_cancelled(east, answers, monkeypatch):
    placement_world(east, ["m4.large"])
    queue_holds(monkeypatch, [runnable_job("j-keep", memory="8192")])
    result = check(TARGET, BACKLOG)
    assert result.status is Status.FAIL
    assert "CancelJob" not in answers.calls


# --- JOBDEF_CHECK: can this job definition run on this queue at all? ----------------------------


def test_jobdef_whose_defaults_exceed_every_type_fails(east, answers):
    placement_world(east, ["m4.large"])
    register(east, memory="8192")
    result = check(TARGET, "JOBDEF_CHECK")
    assert result.status is Status.FAIL
    assert f"can never run on {QUEUE} [MEMORY_ABOVE_INSTANCE_TYPES]" in result.detail
    assert result.data["placement"]["verdict"] == "NEVER"


def test_jobdef_that_fits_is_ok(east, answers):
    placement_world(east, ["m4.large"])
    register(east)
    result = check(TARGET, "JOBDEF_CHECK")
    assert result.status is Status.OK
    assert result.data["placement"]["verdict"] == "FITS"


def test_fargate_jobdef_on_an_ec2_queue_fails_as_a_platform_mismatch(east, answers):
    placement_world(east, ["m4.large"])
    east.client("batch").register_job_definition(
        jobDefinitionName=JOBDEF,
        type="container",
        platformCapabilities=["FARGATE"],
        containerProperties={
            "image": "public.ecr.aws/amazonlinux/amazonlinux:latest",
            "command": ["true"],
            "resourceRequirements": [
                {"type": "VCPU", "value": "0.25"},
                {"type": "MEMORY", "value": "512"},
            ],
            "executionRoleArn": "arn:aws:iam::123456789012:role/exec",
            "networkConfiguration": {"assignPublicIp": "ENABLED"},
        },
    )
    result = check(TARGET, "JOBDEF_CHECK")
    assert result.status is Status.FAIL
    assert "[PLATFORM_MISMATCH]" in result.detail


# --- SMOKE_SUBMIT_CHECK: never submit a job that could never leave RUNNABLE ---------------------


def test_smoke_job_that_could_never_run_is_not_submitted(east, answers, monkeypatch):
    placement_world(east, ["m4.large"])
    register(east, memory="8192")
    result = check(TARGET, "SMOKE_SUBMIT_CHECK", allow_test_submit=True)
    assert result.status is Status.FAIL
    assert result.detail.startswith("not submitted: the smoke job can never run on")
    assert "[MEMORY_ABOVE_INSTANCE_TYPES]" in result.detail
    every = [{"name": "JOB_NAME", "values": ["*"]}]
    listed = east.client("batch").list_jobs(jobQueue=QUEUE, filters=every)["jobSummaryList"]
    assert listed == []


def test_smoke_job_that_fits_is_submitted(east, answers):
    placement_world(east, ["m4.large"])
    register(east)
    check(TARGET, "SMOKE_SUBMIT_CHECK", allow_test_submit=True)
    every = [{"name": "JOB_NAME", "values": ["*"]}]
    listed = east.client("batch").list_jobs(jobQueue=QUEUE, filters=every)["jobSummaryList"]
    assert len(listed) == 1
