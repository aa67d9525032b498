"""Running the suite on target dicts, and the lightest world a submit or a listing needs."""

from __future__ import annotations

from typing import Any

from batch_health.aws.sessions import AwsSessions
from batch_health.checks import RunOptions
from batch_health.config import SuiteConfig
from batch_health.demo import CE, QUEUE, WorldBuilder
from batch_health.engine import run_suite
from batch_health.models import Report, SuiteReport


def run_targets(
    targets: list[dict[str, Any]], sessions: AwsSessions | None = None, **options: Any
) -> SuiteReport:
    """Run the suite on target dicts (fresh sessions unless given), RunOptions(**options)."""
    config = SuiteConfig.model_validate({"targets": targets})
    return run_suite(config, RunOptions(**options), sessions or AwsSessions())


def run_target(target: dict[str, Any], **options: Any) -> Report:
    """Run the suite on one target dict and return its report."""
    return run_targets([target], **options).reports[0]


def light_queue(world: WorldBuilder, scheduling_policy_arn: str = "") -> None:
    """The queue on an UNMANAGED CE: all a submit or a job listing needs, without the
    emulator's EC2 setup; fair-share under `scheduling_policy_arn` when one is given."""
    role = world.client("iam").create_role(RoleName="batch-service", AssumeRolePolicyDocument="{}")
    batch = world.client("batch")
    ce = batch.create_compute_environment(
        computeEnvironmentName=CE,
        type="UNMANAGED",
        state="ENABLED",
        serviceRole=role["Role"]["Arn"],
    )
    fair_share = {"schedulingPolicyArn": scheduling_policy_arn} if scheduling_policy_arn else {}
    batch.create_job_queue(
        jobQueueName=QUEUE,
        state="ENABLED",
        priority=1,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": ce["computeEnvironmentArn"]}],
        **fair_share,
    )
