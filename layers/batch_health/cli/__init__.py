"""`batch-health`: the check suite from a laptop or CI, and its tools.

Exit codes (batch_health.cli.common.ExitCode): 0 no check FAILed, 1 some check FAILed,
2 usage or configuration error. This package is the entry point only: nothing else
imports it, and it is not shipped in the Lambda layer.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence

from batch_health import __version__
from batch_health.cli import check, demo, invoke, notify_test, targets
from batch_health.cli.common import ExitCode, UsageError
from batch_health.config import ConfigError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="batch-health",
        description=(
            "Health checks for an AWS Batch workload: queue, compute environments, job "
            "definition, IAM, logs, smoke job."
        ),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    check.add_parsers(sub)
    targets.add_parser(sub)
    demo.add_parser(sub)
    notify_test.add_parser(sub)
    invoke.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    env = os.environ if environ is None else environ
    try:
        return args.handler(args, env)
    except (UsageError, ConfigError) as exc:
        parser.exit(ExitCode.ERROR, f"batch-health: error: {exc}\n")
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `batch-health checks | head`: the reader went away; no traceback for that.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return ExitCode.CHECK_FAILED
    return ExitCode.OK  # pragma: no cover - parser.exit raises
