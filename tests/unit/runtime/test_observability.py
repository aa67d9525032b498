"""One log pipeline: every record the function writes is Powertools JSON.

The engine's "check crashed" line, with its traceback, is the line an on-call engineer needs
most: it must be a JSON record that Logs Insights can query, not plain text.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from support.suite import run_targets

from batch_health.aws.sessions import AwsSessions
from batch_health.checks.base import Check, CheckContext, RunOptions
from batch_health.config import SuiteConfig
from batch_health.engine import run_suite
from batch_health.models import CheckResult
from batch_health.runtime.observability import AWS_SDK_LOGGERS, LIBRARY_LOGGER, logger


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
