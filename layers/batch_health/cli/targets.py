"""`batch-health targets push`: a config file's targets as one SSM parameter each."""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Mapping
from typing import Any

from batch_health.aws.errors import AWS_ERRORS, classify
from batch_health.aws.sessions import AwsSessions
from batch_health.aws.targets_store import TIER_LIMITS, push
from batch_health.cli.common import ExitCode, UsageError
from batch_health.config import load_config_file

PATH_RE = r"(/[A-Za-z0-9_.-]+)+/?"


def add_parser(sub: Any) -> None:
    targets = sub.add_parser(
        "targets", help="write a config file's targets to SSM, one parameter per target"
    )
    actions = targets.add_subparsers(dest="targets_command", required=True, metavar="ACTION")
    parser = actions.add_parser(
        "push",
        help="write each target to PATH/<name> (the monitor's TARGETS_PARAMETER=PATH)",
        description=(
            "Writes one SSM parameter per target of --config under --path, for a monitor "
            "deployed with TargetsParameter=PATH (ending in /). Every target's size is checked "
            "first: if one does not fit its tier, nothing is written."
        ),
    )
    parser.add_argument("--config", metavar="FILE", required=True, help="TOML or JSON targets")
    parser.add_argument("--path", required=True, help="parameter path, e.g. /batch-health/targets/")
    parser.add_argument("--region", help="AWS region (default: AWS_REGION / profile)")
    parser.add_argument(
        "--tier",
        choices=sorted(TIER_LIMITS),
        default="Standard",
        help="parameter tier: Standard holds 4 KB (free), Advanced 8 KB ($0.05 a month each)",
    )
    parser.add_argument(
        "--prune", action="store_true", help="delete parameters under --path of no target"
    )
    parser.set_defaults(handler=cmd_push)


def cmd_push(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    if not re.fullmatch(PATH_RE, args.path):
        raise UsageError(
            f"--path {args.path!r}: expected an SSM path such as /batch-health/targets/"
        )
    config = load_config_file(args.config)
    sessions = AwsSessions(default_region=args.region or environ.get("AWS_REGION") or None)
    try:
        written, deleted = push(
            sessions.client("ssm"), config, args.path, tier=args.tier, prune=args.prune
        )
    except AWS_ERRORS as exc:
        failure = classify(exc)
        print(f"batch-health: SSM refused: {failure.summary}", file=sys.stderr)
        print(f"  hint: {failure.hint(action='ssm:PutParameter', resource=args.path)}")
        return ExitCode.CHECK_FAILED
    for name in written:
        print(f"wrote   {name}")
    for name in deleted:
        print(f"deleted {name}")
    path = args.path if args.path.endswith("/") else f"{args.path}/"
    print(f"{len(written)} target(s) under {path}: deploy the monitor with TargetsParameter={path}")
    return ExitCode.OK
