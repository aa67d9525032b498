"""Fixtures of the tests that run the built artifact: one `sam build` per test run, the
stand-in for the Lambda runtime's own packages, and a moto server holding the ops report's world."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.lambda_runtime import link_runtime_packages

from batch_health.demo import WorldBuilder, build_seed, emulator

ROOT = Path(__file__).resolve().parents[2]
BUILD_TIMEOUT_S = 90


def sam_path() -> str | None:
    beside = Path(sys.executable).parent / "sam"
    return str(beside) if beside.exists() else shutil.which("sam")


@pytest.fixture(scope="session")
def build_dir(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """One `sam build` per test run, shared by the xdist workers (the first builds)."""
    sam = sam_path()
    if sam is None:
        pytest.skip("the SAM CLI is not installed (pip install aws-sam-cli): cannot build")
    shared = tmp_path_factory.getbasetemp()
    if worker_id != "master":
        shared = shared.parent  # one directory per run, common to all workers
    target = shared / "sam-build"
    with open(shared / "sam-build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (target / "template.yaml").exists():
            env = {
                **os.environ,
                # sam's python3.13 builder needs a python3.13 on PATH: the one running us.
                "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
                "SAM_CLI_TELEMETRY": "0",
            }
            started = time.monotonic()
            proc = subprocess.run(
                [sam, "build", "--cached", "--build-dir", str(target)],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=BUILD_TIMEOUT_S,
            )
            assert proc.returncode == 0, f"sam build failed:\n{proc.stdout}\n{proc.stderr}"
            elapsed = time.monotonic() - started
            assert elapsed < BUILD_TIMEOUT_S, f"sam build took {elapsed:.0f}s"
    return target


@pytest.fixture(scope="session")
def runtime_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Stands in for the python3.13 runtime's site-packages: boto3 and its dependencies,
    awslambdaric and its dependencies, nothing else."""
    return link_runtime_packages(tmp_path_factory.mktemp("lambda-runtime"))


@pytest.fixture(scope="module")
def seed_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A moto server holding the ops report's world (the log group missing)."""
    with emulator() as url:
        reset(url)  # moto's state outlives a server within one process
        build_seed(WorldBuilder(url), tmp_path_factory.mktemp("seed"))
        yield url


def reset(url: str) -> None:
    urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST")).close()
