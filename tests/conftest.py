"""Shared fixtures: fake credentials everywhere, moto in-process, a suite runner."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

from batch_health.aws import AwsSessions
from batch_health.checks import RunOptions
from batch_health.config import SuiteConfig
from batch_health.demo import CE, QUEUE, REGION, WorldBuilder
from batch_health.engine import run_suite
from batch_health.models import Report, SuiteReport

FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}


@pytest.fixture(autouse=True)
def fake_aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test can reach real AWS: fake keys, no profile, no endpoint override."""
    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "ALLOW_TEST_SUBMIT", "AWS_CONFIG_FILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
    for key, value in FAKE_AWS_ENV.items():
        monkeypatch.setenv(key, value)


@pytest.fixture
def aws() -> Iterator[None]:
    """moto in-process, Batch without Docker."""
    with mock_aws(config={"batch": {"use_docker": False}}):
        yield


@pytest.fixture
def world(aws: None) -> WorldBuilder:
    return WorldBuilder(None)


@pytest.fixture
def seed_world(world: WorldBuilder, tmp_path: Path) -> dict[str, Any]:
    """The ops report's world (log group missing); returns the target dict."""
    from batch_health.demo import build_seed

    return build_seed(world, tmp_path).target


@pytest.fixture
def healthy_world(world: WorldBuilder, tmp_path: Path) -> dict[str, Any]:
    from batch_health.demo import build_healthy

    return build_healthy(world, tmp_path).target


def run_targets(
    targets: list[dict[str, Any]], sessions: AwsSessions | None = None, **options: Any
) -> SuiteReport:
    """Run the suite on target dicts (fresh sessions unless given), RunOptions(**options)."""
    config = SuiteConfig.model_validate({"targets": targets})
    return run_suite(config, RunOptions(**options), sessions or AwsSessions())


def run_target(target: dict[str, Any], **options: Any) -> Report:
    """Run the suite on one target dict and return its report."""
    return run_targets([target], **options).reports[0]


def light_queue(world: WorldBuilder) -> None:
    """The queue on an UNMANAGED CE: all a submit or a job listing needs, without the
    emulator's EC2 setup."""
    role = world.client("iam").create_role(RoleName="batch-service", AssumeRolePolicyDocument="{}")
    batch = world.client("batch")
    ce = batch.create_compute_environment(
        computeEnvironmentName=CE,
        type="UNMANAGED",
        state="ENABLED",
        serviceRole=role["Role"]["Arn"],
    )
    batch.create_job_queue(
        jobQueueName=QUEUE,
        state="ENABLED",
        priority=1,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": ce["computeEnvironmentArn"]}],
    )
