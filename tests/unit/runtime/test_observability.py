"""One log pipeline: every record the function writes is Powertools JSON.

The engine's "check crashed" line, with its traceback, is the line an on-call engineer needs
most: it must be a JSON record that Logs Insights can query, not plain text.
"""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.suite import run_targets

from batch_health.aws.sessions import AwsSessions
from batch_health.checks.base import Check, CheckContext, RunOptions
from batch_health.config import SuiteConfig
from batch_health.engine import run_suite
from batch_health.models import CheckResult
from batch_health.runtime.observability import (
    AWS_SDK_LOGGERS,
    LIBRARY_LOGGER,
    TRACED_MODULES,
    logger,
)


class Exploding(Check):
    name = "AWS_ACCESS"  # any registered name: the crash is what is tested
    step, step_title, title, verifies = 1, "AWS", "explodes", "nothing"

    def run(self, ctx: CheckContext) -> CheckResult:
        raise KeyError("containerProperties")


@pytest.fixture
def log_lines() -> Iterator[Any]:
    """What the Powertools handler writes (the function's log), parsed line by line."""
    stream = io.StringIO()
    handler = logger.registered_handler
    original = handler.setStream(stream)
    try:
        yield lambda: [line for line in stream.getvalue().splitlines() if line.strip()]
    finally:
        handler.setStream(original)


def test_a_crashing_check_is_logged_as_json_with_its_traceback(aws, log_lines):
    config = SuiteConfig.model_validate({"targets": [{"job_queue": "q", "job_definition": "jd"}]})
    run_suite(config, RunOptions(), AwsSessions(), [Exploding()])
    lines = log_lines()
    records = [json.loads(line) for line in lines]  # every line is JSON
    [crash] = [r for r in records if r.get("message") == "check AWS_ACCESS crashed"]
    assert crash["level"] == "ERROR"
    assert crash["exception_name"] == "KeyError"
    assert "Traceback (most recent call last)" in crash["exception"]
    assert "KeyError: 'containerProperties'" in crash["exception"]


def test_library_and_aws_sdk_loggers_write_through_the_powertools_handler():
    library = logging.getLogger(f"{LIBRARY_LOGGER}.engine")
    assert logger.registered_handler in logging.getLogger(LIBRARY_LOGGER).handlers
    assert library.getEffectiveLevel() <= logging.INFO
    for name in AWS_SDK_LOGGERS:
        sdk = logging.getLogger(name)
        assert logger.registered_handler in sdk.handlers
        # Their INFO lines ("Found credentials in environment variables.") and DEBUG
        # response bodies (a webhook URL among them) never reach the log.
        assert sdk.getEffectiveLevel() >= logging.WARNING


def test_botocore_warnings_are_json(log_lines):
    logging.getLogger("botocore.credentials").warning("credential trouble")
    [record] = [json.loads(line) for line in log_lines()]
    assert record["message"] == "credential trouble" and record["level"] == "WARNING"


def test_a_run_that_crashes_nothing_logs_no_text(aws, seed_world, log_lines):
    run_targets([seed_world])
    for line in log_lines():
        json.loads(line)


# Run in a fresh interpreter: X-Ray patches modules at import, once per process, and only
# when it runs in Lambda (LAMBDA_TASK_ROOT set). The trace is collected instead of sent.
TRACE_SCRIPT = r"""
import json, os, sys, threading
from http.server import BaseHTTPRequestHandler, HTTPServer

os.environ["LAMBDA_TASK_ROOT"] = "/var/task"
os.environ.pop("POWERTOOLS_TRACE_DISABLED", None)

from batch_health.runtime.observability import tracer  # noqa: F401 - patches at import
from batch_health.notify.slack import post_message

import boto3
from aws_xray_sdk.core import patcher, xray_recorder
from aws_xray_sdk.core.context import Context
from botocore.stub import Stubber

if sys.argv[2:] == ["httplib"]:  # the control: what Powertools' default would also patch
    patcher.patch(("httplib",))

class Collecting:
    def __init__(self):
        self.entities = []
    def send_entity(self, entity):
        self.entities.append(entity.serialize())
    def set_daemon_address(self, address):
        pass

emitter = Collecting()
xray_recorder.configure(emitter=emitter, context=Context(), sampling=False)

received = []
class Slack(BaseHTTPRequestHandler):
    def do_POST(self):
        received.append(self.path)
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")
    def log_message(self, *args):
        pass

server = HTTPServer(("127.0.0.1", 0), Slack)
threading.Thread(target=server.serve_forever, daemon=True).start()
webhook = f"http://127.0.0.1:{server.server_port}/services/T0/B0/{sys.argv[1]}"

sts = boto3.client("sts", region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b")
xray_recorder.begin_segment("batch-health")
with Stubber(sts) as stub:
    identity = {"Account": "123456789012", "Arn": "arn:aws:iam::123456789012:root", "UserId": "x"}
    stub.add_response("get_caller_identity", identity)
    sts.get_caller_identity()
post_message(webhook, {"text": "LOG_GROUP_CHECK FAIL"})
xray_recorder.end_segment()
server.shutdown()
print(json.dumps({"patched": sorted(patcher._PATCHED_MODULES), "received": received,
                  "trace": emitter.entities}))
"""


def traced(tmp_path: Path, secret: str, *also: str) -> dict[str, Any]:
    """The trace script's result: patched modules, the Slack stub's requests, the trace."""
    script = tmp_path / "trace.py"
    script.write_text(TRACE_SCRIPT)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_XRAY")}
    out = subprocess.run(
        [sys.executable, str(script), secret, *also],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        timeout=120,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def subsegments(trace: list[str]) -> list[dict[str, Any]]:
    """Every subsegment, streamed on its own or nested in its parent."""
    found, todo = [], [json.loads(entity) for entity in trace]
    while todo:
        entity = todo.pop()
        todo.extend(entity.get("subsegments", []))
        if entity.get("type") == "subsegment":
            found.append(entity)
    return found


def test_traces_record_aws_calls_but_never_the_slack_webhook_url(tmp_path):
    secret = "Xy7SECRETwebhookPATH"
    result = traced(tmp_path, secret)
    assert result["patched"] == list(TRACED_MODULES) == ["botocore"]
    assert result["received"] == [f"/services/T0/B0/{secret}"]  # Slack was called
    calls = subsegments(result["trace"])
    assert [(c["namespace"], c["aws"]["operation"]) for c in calls] == [
        ("aws", "GetCallerIdentity")
    ]
    assert secret not in json.dumps(result["trace"])


def test_the_trace_check_sees_a_leak_when_http_is_patched_too(tmp_path):
    """The control: with httplib patched (Powertools' default patches every module it
    supports), the webhook's URL, secret path and all, is in the trace."""
    secret = "Xy7SECRETwebhookPATH"
    result = traced(tmp_path, secret, "httplib")
    assert "httplib" in result["patched"]
    assert any(c.get("namespace") == "remote" for c in subsegments(result["trace"]))
    assert secret in json.dumps(result["trace"])
