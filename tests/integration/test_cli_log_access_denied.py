"""`batch-health check` against a moto server with IAM auth on: a monitor that may not call
logs:DescribeLogGroups is told so, not told the log group is missing.

The world is built while auth is off; then moto's `/moto-api/reset-auth` sets
INITIAL_NO_AUTH_ACTION_COUNT to 0 in the server process, so every later request is
authenticated and authorized against the IAM users created here.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from batch_health.demo import JOBDEF, LOG_GROUP, QUEUE, REGION, WORKER_COMMAND, WorldBuilder

pytestmark = pytest.mark.integration

CLI = str(Path(sys.executable).with_name("batch-health"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _post(url: str, body: bytes, content_type: str) -> None:
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": content_type}, method="POST"
    )
    urllib.request.urlopen(request, timeout=10).close()


@pytest.fixture(scope="module")
def moto_server() -> Iterator[str]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "INITIAL_NO_AUTH_ACTION_COUNT"}
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{url}/moto-api/", timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("moto server did not start") from None
                time.sleep(0.05)
        _post(f"{url}/moto-api/config", b'{"batch": {"use_docker": false}}', "application/json")
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


def _monitor(world: WorldBuilder, name: str, statements: list[dict[str, Any]]) -> dict[str, str]:
    iam = world.client("iam")
    iam.create_user(UserName=name)
    iam.put_user_policy(
        UserName=name,
        PolicyName="monitor",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}),
    )
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {
        "AWS_ACCESS_KEY_ID": key["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"],
    }


@pytest.fixture(scope="module")
def monitors(moto_server: str) -> dict[str, dict[str, str]]:
    """The ops report's world with its log group created, and two monitor identities; then
    auth on."""
    world = WorldBuilder(moto_server)
    world.queue_with_ce()
    world.job_definition(command=WORKER_COMMAND)
    world.log_group()
    allow_all = {"Effect": "Allow", "Action": "*", "Resource": "*"}
    keys = {
        "no-describe": _monitor(
            world,
            "monitor-no-describe",
            [allow_all, {"Effect": "Deny", "Action": "logs:DescribeLogGroups", "Resource": "*"}],
        ),
        "full": _monitor(world, "monitor-full", [allow_all]),
    }
    _post(f"{moto_server}/moto-api/reset-auth", b"0", "text/plain")
    return keys


def run_check(url: str, credentials: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_ENDPOINT_URL": url,
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,  # what botocore reads for the session's region
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/credentials",
        "AWS_CONFIG_FILE": "/nonexistent/config",
        **credentials,
    }
    argv = [CLI, "check", "--queue", QUEUE, "--job-definition", JOBDEF, "--format", "json", *args]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)


def checks_by_name(proc: subprocess.CompletedProcess) -> dict[str, dict[str, Any]]:
    report = json.loads(proc.stdout)
    return {c["name"]: c for c in report["checks"]}


def test_denied_describe_log_groups_is_reported_as_access_denied(moto_server, monitors):
    proc = run_check(moto_server, monitors["no-describe"])
    assert proc.returncode == 1, proc.stderr
    checks = checks_by_name(proc)
    assert checks["AWS_ACCESS"]["status"] == "OK", checks["AWS_ACCESS"]
    assert checks["AWS_ACCESS"]["data"]["arn"].endswith(":user/monitor-no-describe")
    group = checks["LOG_GROUP_CHECK"]
    assert group["status"] == "FAIL"
    assert group["detail"] == (
        "log group unreadable: the monitor is not allowed logs:DescribeLogGroups (403), "
        f"so whether {LOG_GROUP} exists is unknown"
    )
    assert any("Grant the monitor's identity `logs:DescribeLogGroups`" in h for h in group["hints"])
    assert not any("create-log-group" in h for h in group["hints"])
    content = checks["LOG_CONTENT_CHECK"]
    assert content["status"] == "SKIP"
    assert "log group unreadable" in content["detail"]
    assert json.loads(proc.stdout)["root_cause_hints"][0].startswith(
        "LOG_GROUP_CHECK: Grant the monitor's identity"
    )


def test_the_same_world_with_a_missing_group_says_missing(moto_server, monitors):
    proc = run_check(moto_server, monitors["full"], "--log-group", "/aws/batch/never-created")
    assert proc.returncode == 1, proc.stderr
    group = checks_by_name(proc)["LOG_GROUP_CHECK"]
    assert group["status"] == "FAIL"
    assert group["detail"].startswith("log group missing: /aws/batch/never-created (configured)")
    assert any("aws logs create-log-group" in h for h in group["hints"])
