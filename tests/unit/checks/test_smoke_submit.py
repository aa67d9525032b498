"""SMOKE_SUBMIT_CHECK: Ref:: parameters resolved first; RUNNABLE vs. FAILED; nothing left behind."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from support.suite import light_queue, run_target

from batch_health.aws.inventory import TargetView
from batch_health.checks import CHECK_NAMES, get_check
from batch_health.demo import (
    CE,
    EXEC_ROLE,
    IMAGE_REPO,
    JOBDEF,
    QUEUE,
    WORKER_COMMAND,
    build_unresolved,
)
from batch_health.models import CheckResult, Status

STATUSES = ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED")


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock(monkeypatch) -> FakeClock:
    fake = FakeClock()
    check = get_check("SMOKE_SUBMIT_CHECK")
    monkeypatch.setattr(check, "sleep", fake.sleep)
    monkeypatch.setattr(check, "clock", fake.clock)
    return fake


@pytest.fixture
def target(world) -> dict[str, Any]:
    """A queue to submit to and the ops report's job definition, its job_id unresolved (this
    file's own `target`, in place of conftest.py's, which has no queue)."""
    light_queue(world)
    world.job_definition(command=WORKER_COMMAND)
    return {"name": "academy-video", "job_queue": QUEUE, "job_definition": JOBDEF}


def smoke(target: dict[str, Any], allow: bool = True, **options: Any) -> CheckResult:
    report = run_target(target, checks=["SMOKE_SUBMIT_CHECK"], allow_test_submit=allow, **options)
    result = report.result("SMOKE_SUBMIT_CHECK")
    assert result is not None
    return result


def with_smoke(target: dict[str, Any], **smoke_config: Any) -> dict[str, Any]:
    return {**target, "smoke": {**target.get("smoke", {}), **smoke_config}}


def all_jobs(world) -> list[dict[str, Any]]:
    batch = world.client("batch")
    return [
        job
        for status in STATUSES
        for job in batch.list_jobs(jobQueue=QUEUE, jobStatus=status)["jobSummaryList"]
    ]


def describe(world, job_id: str) -> dict[str, Any]:
    return world.client("batch").describe_jobs(jobs=[job_id])["jobs"][0]


def polls(*jobs: dict[str, Any]):
    """A poll_job replacement answering these descriptions in turn (the last one repeats)."""
    answers = list(jobs)

    def poll_job(self, job_id):
        return {"jobId": job_id, **(answers.pop(0) if len(answers) > 1 else answers[0])}

    return poll_job


def test_skipped_unless_allowed(target, world):
    result = smoke(target, allow=False)
    assert result.status is Status.SKIP
    assert result.detail == "ALLOW_TEST_SUBMIT not set"
    assert all_jobs(world) == []


def test_seed_job_id_comes_from_the_built_in_default(seed_world, world):
    result = smoke(seed_world)
    assert result.status is Status.OK
    name = result.data["job_name"]
    assert name.startswith("health-smoke-")
    assert result.data["parameters"] == {"job_id": {"value": name, "source": "built-in default"}}
    assert f"parameters: job_id={name} (built-in default)" in result.detail
    job = describe(world, result.data["job_id"])
    assert job["jobName"] == name
    assert job["parameters"]["job_id"] == name
    assert job["tags"] == {"batch-health:smoke": "true", "batch-health:target": "academy-video"}


def test_unresolved_job_id_fails_before_submit(target, world):
    result = smoke(with_smoke(target, default_job_id=False))
    assert result.status is Status.FAIL
    assert result.detail.startswith(f"{JOBDEF}:1's command uses Ref::job_id but no value")
    assert "nothing was submitted" in result.detail
    assert result.hints == [
        "Give the smoke job a value: `--smoke-param job_id=<value>` (or smoke.parameters.job_id "
        f"in the target config), or add a default parameters.job_id to {JOBDEF}"
    ]
    assert result.data["unresolved"] == ["job_id"]
    assert all_jobs(world) == []


@pytest.fixture
def unresolved_target(world, tmp_path) -> dict[str, Any]:
    """The demo's `unresolved` world: Ref::source_uri without a default."""
    return build_unresolved(world, tmp_path).target


def test_parameter_without_default_is_named(unresolved_target, world):
    result = smoke(unresolved_target)
    assert result.status is Status.FAIL
    assert "Ref::source_uri" in result.detail
    assert "Ref::job_id" not in result.detail  # the built-in default covers it
    assert all_jobs(world) == []


def test_configured_parameter_is_submitted(unresolved_target, world):
    result = smoke(with_smoke(unresolved_target, parameters={"source_uri": "s3://b/k.mp4"}))
    assert result.status is Status.OK
    assert result.data["parameters"]["source_uri"] == {
        "value": "s3://b/k.mp4",
        "source": "configured",
    }
    assert describe(world, result.data["job_id"])["parameters"]["source_uri"] == "s3://b/k.mp4"


def test_job_definition_default_is_used(world):
    light_queue(world)
    world.job_definition(command=WORKER_COMMAND, parameters={"job_id": "none"})
    target = {"job_queue": QUEUE, "job_definition": JOBDEF}
    result = smoke(with_smoke(target, parameters={}))
    assert result.status is Status.OK
    assert result.data["parameters"]["job_id"] == {
        "value": "none",
        "source": "job definition default",
    }


def test_command_override_is_what_gets_resolved_and_sent(target, world):
    override = ["python", "-c", "print('ok')", "Ref::probe"]
    missing = smoke(with_smoke(target, command=override))
    assert missing.status is Status.FAIL
    assert "Ref::probe" in missing.detail
    result = smoke(with_smoke(target, command=override, parameters={"probe": "1"}))
    assert result.status is Status.OK
    assert result.data["command"] == override
    assert result.data["command_override"] is True
    assert "job_id" not in result.data["parameters"]  # not referenced by the override


def test_running_counts_unless_succeeded_is_required(target, monkeypatch, clock):
    monkeypatch.setattr(
        TargetView, "poll_job", polls({"status": "RUNNABLE"}, {"status": "RUNNING"})
    )
    result = smoke(target)
    assert result.status is Status.OK
    assert result.data["status_history"] == ["RUNNABLE", "RUNNING"]
    assert "RUNNING after 5.0s" in result.detail


def test_require_succeeded_times_out_and_terminates(target, world, monkeypatch, clock):
    monkeypatch.setattr(TargetView, "poll_job", polls({"status": "RUNNING"}))
    result = smoke(with_smoke(target, require_succeeded=True, timeout_seconds=20))
    assert result.status is Status.FAIL
    assert "did not reach SUCCEEDED within 20s (smoke.timeout_seconds); last status RUNNING" in (
        result.detail
    )
    assert result.data["terminated"] is True
    assert describe(world, result.data["job_id"])["statusReason"].startswith(
        "batch-health smoke job not SUCCEEDED"
    )
    assert sum(clock.sleeps) == pytest.approx(20)


def test_failed_job_is_classified(target, monkeypatch, clock):
    monkeypatch.setattr(
        TargetView,
        "poll_job",
        polls(
            {
                "status": "FAILED",
                "statusReason": "Task failed to start",
                "container": {
                    "reason": "CannotPullContainerError: failed to resolve ref "
                    f"{IMAGE_REPO}:latest: not found"
                },
            }
        ),
    )
    result = smoke(target)
    assert result.status is Status.FAIL
    assert (
        "FAILED: image or tag not found: Task failed to start; CannotPullContainerError"
        in result.detail
    )
    assert result.data["reason_class"] == "image or tag not found"
    assert any(IMAGE_REPO in h and EXEC_ROLE in h for h in result.hints)


def test_failed_job_from_the_emulator(target, monkeypatch):
    monkeypatch.setenv("MOTO_SIMPLE_BATCH_FAIL_AFTER", "0")
    result = smoke(target)
    assert result.status is Status.FAIL
    assert result.data["status"] == "FAILED"
    assert result.data["reason_class"] == "other"
    assert any(f"aws batch describe-jobs --jobs {result.data['job_id']}" in h for h in result.hints)


def test_stuck_runnable_fails_with_capacity_hints_and_is_terminated(
    target, world, monkeypatch, clock
):
    reason = (
        "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE - CE(s) associated with the job "
        "queue cannot meet the CPU requirement of the job."
    )
    monkeypatch.setattr(
        TargetView,
        "poll_job",
        polls(
            {"status": "SUBMITTED"},
            {
                "status": "RUNNABLE",
                "statusReason": reason,
                "container": {
                    "resourceRequirements": [
                        {"type": "VCPU", "value": "64"},
                        {"type": "MEMORY", "value": "8192"},
                    ]
                },
            },
        ),
    )
    result = smoke(with_smoke(target, runnable_timeout_seconds=30, poll_seconds=5))
    assert result.status is Status.FAIL
    assert "stayed RUNNABLE for 30s (limit 30s): no compute environment placed it" in result.detail
    assert reason in result.detail
    assert result.detail.endswith("; terminated")
    assert any(CE in h and "maxvCpus" in h for h in result.hints)
    assert any("(64 vCPU, 8192 MiB)" in h for h in result.hints)
    assert result.data["terminated"] is True
    job = describe(world, result.data["job_id"])
    assert job["statusReason"].startswith("batch-health smoke job stuck in RUNNABLE")
    # What was left behind is recognisable as the monitor's, by name and by tags.
    assert job["jobName"].startswith("health-smoke-")
    assert job["tags"]["batch-health:smoke"] == "true"


def test_time_budget_bounds_the_wait(target, world, monkeypatch, clock):
    monkeypatch.setattr(TargetView, "poll_job", polls({"status": "RUNNABLE"}))
    result = smoke(target, time_budget_s=10)
    assert result.status is Status.FAIL
    assert "(the run's time budget); last status RUNNABLE; terminated" in result.detail
    assert result.data["terminated"] is True
    assert sum(clock.sleeps) < 10


def test_too_little_budget_submits_nothing(target, world):
    result = smoke(target, time_budget_s=3)
    assert result.status is Status.SKIP
    assert result.detail.startswith("time budget too short to submit and watch a job")
    assert all_jobs(world) == []


def test_poll_errors_fail_and_terminate(target, world, monkeypatch, clock):
    def poll_job(self, job_id):
        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "x")

    monkeypatch.setattr(TargetView, "poll_job", poll_job)
    result = smoke(target)
    assert result.status is Status.FAIL
    assert "was submitted but could not be polled: access denied" in result.detail
    assert any("batch:DescribeJobs" in h for h in result.hints)
    assert result.data["terminated"] is True


def test_rejected_submit_is_reported(world):
    world.job_definition(command=WORKER_COMMAND)
    result = smoke({"job_queue": "no-such-queue", "job_definition": JOBDEF})
    assert result.status is Status.FAIL
    assert result.detail.startswith("submit-job of health-smoke-")
    assert "to no-such-queue failed: invalid request" in result.detail


def test_healthy_world_is_all_ok_with_a_smoke_job(healthy_world):
    report = run_target(healthy_world, allow_test_submit=True)
    assert {c.name: c.status for c in report.checks} == dict.fromkeys(CHECK_NAMES, Status.OK)
    assert report.root_cause_hints == []


def test_a_job_that_cannot_be_terminated_is_named_with_the_command(
    target, world, monkeypatch, clock
):
    monkeypatch.setattr(TargetView, "poll_job", polls({"status": "RUNNABLE"}))
    client = TargetView.client

    def client_without_terminate(self, service):
        real = client(self, service)
        if service != "batch":
            return real

        class NoTerminate:
            def __getattr__(self, name):
                return getattr(real, name)

            def terminate_job(self, **kwargs):
                raise ClientError(
                    {"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "x"
                )

        return NoTerminate()

    monkeypatch.setattr(TargetView, "client", client_without_terminate)
    result = smoke(with_smoke(target, runnable_timeout_seconds=10))
    assert result.status is Status.FAIL
    assert "; could not terminate it: access denied" in result.detail
    assert result.data["terminated"] is False
    assert any(
        f"aws batch terminate-job --job-id {result.data['job_id']}" in h for h in result.hints
    )
