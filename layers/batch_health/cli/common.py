"""What every `batch-health` command shares: exit codes, usage errors, common flags."""

from __future__ import annotations

import argparse
import math
from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0  # no check FAILed (a command that sends: everything was sent)
    CHECK_FAILED = 1  # some check FAILed (or a channel refused the message)
    ERROR = 2  # usage, configuration or invocation error; the message names it


class UsageError(Exception):
    """Bad flags or config: printed as `batch-health: error: ...` with ExitCode.ERROR."""


MAX_SECONDS = 86_400.0  # a day: longer than any run, short enough for time arithmetic


def positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not math.isfinite(value) or not 0 < value <= MAX_SECONDS:
        raise argparse.ArgumentTypeError(f"must be > 0 and <= {MAX_SECONDS:g}, got {text!r}")
    return value


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text!r}")
    return value


def add_target_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags that say what to check and how; shared by `check` and `demo`."""
    parser.add_argument(
        "--checks", metavar="A,B", help="run only these checks (see `batch-health checks`)"
    )
    parser.add_argument(
        "--allow-test-submit",
        action="store_true",
        help="let SMOKE_SUBMIT_CHECK submit a real test job (also ALLOW_TEST_SUBMIT=true)",
    )
    parser.add_argument(
        "--cancel-unplaceable",
        action="store_true",
        help="cancel RUNNABLE jobs no compute environment of their queue can ever place, "
        "with a reason naming the constraint (RUNNABLE_BACKLOG_CHECK)",
    )
    parser.add_argument(
        "--smoke-param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a job parameter for the smoke job (repeatable), e.g. job_id=health-smoke",
    )
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument(
        "--time-budget",
        type=positive_seconds,
        metavar="SECONDS",
        help="stop starting checks after this",
    )
    parser.add_argument(
        "--concurrency", type=positive_int, default=16, help="parallel AWS work (default 16)"
    )
