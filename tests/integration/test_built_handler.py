"""The artifact `sam build` produces, run as Lambda would run it, against a moto server.

`sam build` builds the layer and the function into a build directory; the handler then
runs in a subprocess whose import path is what Lambda gives it (the function's code, the
layer's python/ directory, then the runtime's boto3), with no site-packages: a dependency
missing from the layer fails here, not in production.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from batch_health.checks import CHECK_NAMES
from batch_health.demo import REGION

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]

# Runs inside the subprocess: import the built handler like Lambda, invoke it once.
DRIVER = """
import json, sys, time, uuid
import app, batch_health, boto3, pydantic

class Context:
    function_name = "MonitorFunction"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:ap-northeast-2:123456789012:function:MonitorFunction"
    aws_request_id = str(uuid.uuid4())
    _deadline = time.monotonic() + 300
    def get_remaining_time_in_millis(self):
        return int((self._deadline - time.monotonic()) * 1000)

files = {m.__name__: m.__file__ for m in (app, batch_health, boto3, pydantic)}
print("MODULES " + json.dumps(files))
try:
    print("RESULT " + json.dumps(app.lambda_handler(json.loads(sys.argv[1]), Context())))
except Exception as exc:
    print("ERROR " + json.dumps({"errorType": type(exc).__name__, "errorMessage": str(exc)}))
"""


def invoke_built(
    build: Path, runtime: Path, endpoint: str, event: Any
) -> tuple[dict[str, str], list[dict], dict[str, Any]]:
    """(module files, EMF lines, response or error) of one invocation of the built handler."""
    function_env = {
        "STAGE": "dev",
        "TARGET_NAME": "academy-video",
        "JOB_QUEUE": "academy-video-batch-queue",
        "JOB_DEFINITION": "academy-video-batch-jobdef",
        "POWERTOOLS_METRICS_NAMESPACE": "BatchHealth",
        "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon here
    }
    env = {
        **function_env,
        "PYTHONPATH": os.pathsep.join(
            [
                str(build / "MonitorFunction"),
                str(build / "BatchHealthLayer" / "python"),
                str(runtime),
            ]
        ),
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_CONFIG_FILE": "/nonexistent",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
    }
    proc = subprocess.run(
        # -S: no site-packages, so only the build and the runtime stand-in are importable;
        # -B: nothing written beside the build, as on Lambda's read-only file system.
        [sys.executable, "-S", "-B", "-c", DRIVER, json.dumps(event)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    modules, emf, outcome = {}, [], {}
    for line in proc.stdout.splitlines():
        if line.startswith("MODULES "):
            modules = json.loads(line[8:])
        elif line.startswith(("RESULT ", "ERROR ")):
            kind, _, payload = line.partition(" ")
            outcome = {kind: json.loads(payload)}
        elif line.startswith("{") and '"_aws"' in line:
            emf.append(json.loads(line))
    return modules, emf, outcome


def test_built_handler_runs_the_suite_and_emits_metrics(build_dir, runtime_dir, seed_endpoint):
    event = json.loads((ROOT / "events" / "scheduled.json").read_text())
    modules, emf, outcome = invoke_built(build_dir, runtime_dir, seed_endpoint, event)

    # The code under test is the build's. The layer pins boto3 to the tested version, and
    # Lambda puts layers (/opt/python) before the runtime's own boto3 on the path.
    assert modules["app"].startswith(str(build_dir / "MonitorFunction"))
    layer = str(build_dir / "BatchHealthLayer" / "python")
    assert modules["batch_health"].startswith(layer) and modules["pydantic"].startswith(layer)
    assert modules["boto3"].startswith(layer)

    report = outcome["RESULT"]
    assert report["target"] == "academy-video" and report["overall"] == "FAIL"
    statuses = {c["name"]: c["status"] for c in report["checks"]}
    assert list(statuses) == list(CHECK_NAMES)
    assert statuses["LOG_GROUP_CHECK"] == "FAIL"
    assert statuses["LOG_CONTENT_CHECK"] == "SKIP"

    check_failed = [x for x in emf if "CheckFailed" in x]
    for line in check_failed:
        directive = line["_aws"]["CloudWatchMetrics"][0]
        assert directive["Namespace"] == "BatchHealth"
        assert directive["Dimensions"] == [["Target", "Check"]]
        assert line["Target"] == "academy-video"
    emitted = {x["Check"]: x["CheckFailed"] for x in check_failed}
    assert sorted(emitted) == sorted(n for n, s in statuses.items() if s != "SKIP")
    assert len(check_failed) == len(emitted)  # one per check
    assert {n for n, v in emitted.items() if v == [1.0]} == {
        n for n, s in statuses.items() if s == "FAIL"
    }
    # One heartbeat per run, whatever the targets: on the run's metrics (dimension service).
    suite_runs = [x for x in emf if "SuiteRun" in x]
    assert [(x["service"], x["SuiteRun"]) for x in suite_runs] == [("batch-health", [1.0])]


def test_built_handler_rejects_the_invalid_event(build_dir, runtime_dir, seed_endpoint):
    event = json.loads((ROOT / "events" / "invalid.json").read_text())
    _, emf, outcome = invoke_built(build_dir, runtime_dir, seed_endpoint, event)
    error = outcome["ERROR"]
    assert error["errorType"] == "InvalidEventError"
    assert "allow_test_submit: Input should be a valid boolean" in error["errorMessage"]
    assert "notfy: unknown field" in error["errorMessage"]
    assert "checks: unknown check LOGS_CHECK" in error["errorMessage"]
    assert emf == []  # nothing sent


def test_the_layer_ships_bytecode_lambda_uses_without_writing(build_dir):
    """Lambda's file system is read-only: each module of the layer comes with Python 3.13
    bytecode that is hash-based and unchecked, so no cold start compiles it."""
    layer = build_dir / "BatchHealthLayer" / "python"
    sources = [p for p in layer.rglob("*.py") if "__pycache__" not in p.parts]
    assert len(sources) > 300  # batch_health, Powertools, pydantic, boto3, ...
    assert layer / "batch_health" / "engine.py" in sources
    for source in sources:
        header = Path(importlib.util.cache_from_source(str(source))).read_bytes()[:8]
        assert header[:4] == importlib.util.MAGIC_NUMBER, source
        assert int.from_bytes(header[4:], "little") == 0b01, source  # hash-based, unchecked
