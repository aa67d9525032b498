"""`batch-health demo`: the real suite against an embedded AWS emulator (moto) on loopback.

No AWS account and no network: a moto server starts on 127.0.0.1 with a free port, a
prepared world is created over HTTP, and the suite checks it exactly as `check` would.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from batch_health.aws.sessions import AwsSessions
from batch_health.checks import parse_check_names
from batch_health.cli.check import options_from_args, prepared, run_and_print
from batch_health.cli.common import UsageError, add_target_arguments
from batch_health.config import parse_suite_config
from batch_health.demo.emulator import FAKE_ENV, emulator, patched_environ
from batch_health.demo.worlds import REGION, SCENARIOS, WorldBuilder


def add_parser(sub: Any) -> None:
    demo = sub.add_parser(
        "demo", help="run the real suite against an embedded AWS emulator (no account, no network)"
    )
    demo.add_argument(
        "--scenario", choices=sorted(SCENARIOS), default="seed", help="prepared world"
    )
    add_target_arguments(demo)
    demo.set_defaults(handler=cmd_demo)


def cmd_demo(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    try:
        import moto.server  # noqa: F401 - the emulator is an optional extra
    except ImportError:
        raise UsageError(
            "the demo needs the AWS emulator: pip install 'batch-health-monitor[demo]' "
            "(or run `make demo`, which installs it)"
        ) from None
    if args.checks:
        try:  # before the emulator starts: a typo should not cost a world build
            parse_check_names(args.checks)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    with tempfile.TemporaryDirectory(prefix="batch-health-demo-") as tmp, emulator() as url:
        world = SCENARIOS[args.scenario](WorldBuilder(url), Path(tmp))
        config = prepared(parse_suite_config({"targets": [world.target]}, source="demo"), args)
        if args.format == "text":
            print(f"# batch-health demo: scenario '{world.name}': {world.description}")
            print(f"# AWS emulator (moto) at {url}, region {REGION}; no AWS account is used\n")
        env = {**FAKE_ENV, "AWS_ENDPOINT_URL": url}
        with patched_environ(env):
            options = options_from_args(args, {**environ, **env})
            code, _ = run_and_print(config, options, args.format, AwsSessions(REGION))
            return code
