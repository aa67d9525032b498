"""`batch-health invoke`: the real handler, in-process, as a user runs it (a subprocess)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from batch_health.cli import main
from batch_health.demo import FAKE_ENV, WorldBuilder, build_healthy, emulator

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
HEALTHY_ENV = {
    "TARGET_NAME": "academy-video",
    "JOB_QUEUE": "academy-video-batch-queue",
    "JOB_DEFINITION": "academy-video-batch-jobdef",
}


def cli_path() -> str:
    beside = Path(sys.executable).parent / "batch-health"
    found = str(beside) if beside.exists() else shutil.which("batch-health")
    assert found, "the batch-health console script is not installed (pip install -e .)"
    return found


def invoke(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "JOB_"))}
    environ.update(
        {**FAKE_ENV, "AWS_CONFIG_FILE": "/nonexistent", "AWS_SHARED_CREDENTIALS_FILE": "/x"}
    )
    environ.update(env)
    return subprocess.run(
        [cli_path(), "invoke", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=environ,
        timeout=120,
    )


def emf(stderr: str) -> list[dict[str, Any]]:
    return [json.loads(x) for x in stderr.splitlines() if x.startswith('{"_aws"')]


def logs(stderr: str) -> list[dict[str, Any]]:
    return [json.loads(x) for x in stderr.splitlines() if x.startswith('{"level"')]


@pytest.fixture(scope="module")
def healthy_endpoint(tmp_path_factory) -> Iterator[str]:
    with emulator() as url:
        reset(url)  # moto's state outlives a server within one process
        build_healthy(WorldBuilder(url), tmp_path_factory.mktemp("healthy"))
        yield url


def reset(url: str) -> None:
    urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST")).close()


def write_env_vars(tmp_path: Path, document: dict[str, Any]) -> str:
    path = tmp_path / "env.json"
    path.write_text(json.dumps(document))
    return str(path)


def test_demo_world_scheduled_run(tmp_path):
    proc = invoke("--event", "events/scheduled.json", "--demo-world", "seed")
    assert proc.returncode == 1, proc.stderr  # the ops report's log group is missing
    report = json.loads(proc.stdout)  # stdout is the response, and only that
    statuses = {c["name"]: c["status"] for c in report["checks"]}
    assert statuses["LOG_GROUP_CHECK"] == "FAIL" and statuses["QUEUE_CHECK"] == "OK"
    lines = emf(proc.stderr)
    # The demo stack's table holds each target's failing checks: a first run sends its FAILs.
    assert {x["Check"] for x in lines if "CheckFailed" in x} == {
        n for n, s in statuses.items() if s == "FAIL"
    }
    # The demo stack's topic and table are there: the critical FAIL is published, and
    # NotificationFailed (sent only when a notification failed) is not.
    assert [x["NotificationFailed"] for x in lines if "NotificationFailed" in x] == []
    sent = next(x for x in logs(proc.stderr) if x["message"] == "notifications sent")
    assert {"target": "academy-video", "check": "LOG_GROUP_CHECK"}.items() <= sent["published"][
        0
    ].items()


def test_env_vars_file_in_sams_format_against_an_endpoint(healthy_endpoint, tmp_path):
    env_vars = write_env_vars(
        tmp_path,
        {
            "Parameters": {**HEALTHY_ENV, "TARGET_NAME": "overridden-below"},
            "MonitorFunction": {"TARGET_NAME": "academy-video", "CHECK_CONCURRENCY": 4},
        },
    )
    proc = invoke(
        "--event",
        "events/single-check.json",
        "--env-vars",
        env_vars,
        AWS_ENDPOINT_URL=healthy_endpoint,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["target"] == "academy-video"
    assert [(c["name"], c["status"]) for c in report["checks"]] == [("LOG_GROUP_CHECK", "OK")]
    (started,) = [x for x in logs(proc.stderr) if x["message"] == "run starting"]
    assert started["function_name"] == "MonitorFunction" and started["cold_start"] is True
    assert 280 < started["time_budget_s"] <= 290  # 300 s timeout minus the 10 s margin


def test_invalid_event_fails_the_invocation(tmp_path):
    env_vars = write_env_vars(tmp_path, {"MonitorFunction": HEALTHY_ENV})
    proc = invoke("--event", "events/invalid.json", "--env-vars", env_vars)
    assert proc.returncode == 2
    error = json.loads(proc.stdout)
    assert error["errorType"] == "InvalidEventError"
    assert "notfy: unknown field" in error["errorMessage"]
    assert "the invocation failed: invalid event:" in proc.stderr
    assert emf(proc.stderr) == []


def test_missing_settings_name_the_variables():
    proc = invoke("--event", "events/manual-full.json")
    assert proc.returncode == 2
    error = json.loads(proc.stdout)
    assert error["errorType"] == "SettingsError"
    assert (
        "JOB_QUEUE and JOB_DEFINITION: required when TARGETS_PARAMETER is not set"
        in (error["errorMessage"])
    )


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"event": None}, "--event missing.json: cannot read"),
        ({"event": "{"}, "--event event.json: invalid JSON at line 1 column 2"),
        ({"env": "[]"}, '--env-vars: expected {"MonitorFunction": {"NAME": "value"}}'),
        ({"env": '{"MonitorFunction": {"A": [1]}}'}, "MonitorFunction.A: expected a string"),
    ],
)
def test_unusable_input_is_a_usage_error(tmp_path, monkeypatch, capsys, files, expected):
    # In-process: these fail before the handler is imported, so no subprocess is needed.
    monkeypatch.chdir(tmp_path)
    args = ["invoke", "--event", str(ROOT / "events" / "manual-full.json")]
    if "event" in files:
        args[2] = "missing.json" if files["event"] is None else "event.json"
        if files["event"] is not None:
            (tmp_path / "event.json").write_text(files["event"])
    if "env" in files:
        (tmp_path / "env.json").write_text(files["env"])
        args += ["--env-vars", "env.json"]
    assert main(args) == 2
    out, err = capsys.readouterr()
    assert expected in err
    assert out == ""
