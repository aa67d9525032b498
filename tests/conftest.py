"""Shared fixtures: fake credentials everywhere, moto in-process, a suite runner."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws
from support.shapes import shapes_aws  # noqa: F401 - moto with every Batch shape

from batch_health.demo import REGION, WorldBuilder

FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}


@pytest.fixture(autouse=True)
def no_metrics_left_over() -> Iterator[None]:
    """The functions' Metrics is process-wide: what a test recorded and did not flush must
    not show up in the next test's output."""
    from batch_health.runtime.observability import metrics

    metrics.clear_metrics()
    yield
    metrics.clear_metrics()


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
