"""`batch-health`: the check suite from a laptop or CI.

Exit codes: 0 no check FAILed, 1 some check FAILed, 2 usage or configuration error.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import sys
from collections.abc import Mapping, Sequence

from botocore.exceptions import BotoCoreError, ClientError

from batch_health import __version__
from batch_health.aws import AwsSessions
from batch_health.checks import REGISTRY, RunOptions, parse_check_names
from batch_health.config import (
    ConfigError,
    SuiteConfig,
    Target,
    load_config_file,
    parse_key_values,
    parse_suite_config,
)
from batch_health.engine import run_suite
from batch_health.errors import classify
from batch_health.models import Status, SuiteReport
from batch_health.render import render_json, render_text
from batch_health.targets_parameter import TIER_LIMITS, push

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2
TRUE_VALUES = {"1", "true", "yes", "on"}
MAX_SECONDS = 86_400.0  # a day: longer than any run, short enough for time arithmetic


class UsageError(Exception):
    """Bad flags or config: printed as `batch-health: error: ...` with exit 2."""


def positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not math.isfinite(value) or not 0 < value <= MAX_SECONDS:
        raise argparse.ArgumentTypeError(f"must be > 0 and <= {MAX_SECONDS:g}, got {text!r}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text!r}")
    return value


def add_target_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags that say what to check; shared by `check` and `demo`."""
    parser.add_argument(
        "--checks", metavar="A,B", help="run only these checks (see `batch-health checks`)"
    )
    parser.add_argument(
        "--allow-test-submit",
        action="store_true",
        help="let SMOKE_SUBMIT_CHECK submit a real test job (also ALLOW_TEST_SUBMIT=true)",
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
        "--concurrency", type=_positive_int, default=16, help="parallel AWS work (default 16)"
    )


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

    check = sub.add_parser("check", help="run the suite against AWS (standard AWS_* environment)")
    check.add_argument("--queue", help="job queue name or ARN")
    check.add_argument(
        "--job-definition", help="job definition name (latest ACTIVE), name:revision or ARN"
    )
    check.add_argument("--log-group", help="awslogs group (default: the job definition's)")
    check.add_argument("--region", help="AWS region (default: AWS_REGION / profile)")
    check.add_argument("--config", metavar="FILE", help="TOML or JSON file with a `targets` list")
    check.add_argument("--target", metavar="NAME", help="only this target of --config")
    add_target_arguments(check)
    check.set_defaults(handler=cmd_check)

    lister = sub.add_parser("checks", help="list the checks, what each verifies, and dependencies")
    lister.set_defaults(handler=cmd_checks)

    targets = sub.add_parser(
        "targets", help="write a config file's targets to SSM, one parameter per target"
    )
    targets_sub = targets.add_subparsers(dest="targets_command", required=True, metavar="ACTION")
    push = targets_sub.add_parser(
        "push",
        help="write each target to PATH/<name> (the monitor's TARGETS_PARAMETER=PATH)",
        description=(
            "Writes one SSM parameter per target of --config under --path, for a monitor "
            "deployed with TargetsParameter=PATH (ending in /). Every target's size is checked "
            "first: if one does not fit its tier, nothing is written."
        ),
    )
    push.add_argument("--config", metavar="FILE", required=True, help="TOML or JSON targets")
    push.add_argument("--path", required=True, help="parameter path, e.g. /batch-health/targets/")
    push.add_argument("--region", help="AWS region (default: AWS_REGION / profile)")
    push.add_argument(
        "--tier",
        choices=sorted(TIER_LIMITS),
        default="Standard",
        help="parameter tier: Standard holds 4 KB (free), Advanced 8 KB ($0.05 a month each)",
    )
    push.add_argument(
        "--prune", action="store_true", help="delete parameters under --path of no target"
    )
    push.set_defaults(handler=cmd_targets_push)

    from batch_health import demo

    demo.add_parser(sub)
    from batch_health import notify_test

    notify_test.add_parser(sub)
    from batch_health import invoke

    invoke.add_parser(sub)
    return parser


def config_from_args(args: argparse.Namespace) -> SuiteConfig:
    if args.config:
        for flag in ("queue", "job_definition", "log_group"):
            if getattr(args, flag):
                raise UsageError(
                    f"--{flag.replace('_', '-')} cannot be combined with --config "
                    "(set it on the target in the file)"
                )
        return load_config_file(args.config).select(args.target)
    if args.target:
        raise UsageError("--target needs --config")
    missing = [
        f for f, v in (("--queue", args.queue), ("--job-definition", args.job_definition)) if not v
    ]
    if missing:
        raise UsageError(f"{' and '.join(missing)} required (or use --config FILE)")
    target = {"job_queue": args.queue, "job_definition": args.job_definition}
    if args.log_group:
        target["log_group"] = args.log_group
    if args.region:
        target["region"] = args.region
    return parse_suite_config({"targets": [target]}, source="flags")


def apply_smoke_params(config: SuiteConfig, params: dict[str, str]) -> SuiteConfig:
    if not params:
        return config
    targets = [
        t.model_copy(
            update={
                "smoke": t.smoke.model_copy(update={"parameters": {**t.smoke.parameters, **params}})
            }
        )
        for t in config.targets
    ]
    return SuiteConfig(targets=targets)


def options_from_args(args: argparse.Namespace, environ: Mapping[str, str]) -> RunOptions:
    checks = None
    if args.checks is not None:  # `--checks ""` is an error, not "every check"
        try:
            checks = parse_check_names(args.checks)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    allow = (
        args.allow_test_submit
        or environ.get("ALLOW_TEST_SUBMIT", "").strip().lower() in TRUE_VALUES
    )
    return RunOptions(
        checks=checks,
        allow_test_submit=allow,
        time_budget_s=args.time_budget,
        concurrency=args.concurrency,
        environ=dict(environ),
    )


def run_and_print(
    config: SuiteConfig, options: RunOptions, fmt: str, sessions: AwsSessions | None = None
) -> tuple[int, SuiteReport]:
    report = run_suite(config, options, sessions)
    sys.stdout.write(render_json(report) + "\n" if fmt == "json" else render_text(report))
    sys.stdout.flush()
    return (EXIT_FAIL if report.overall is Status.FAIL else EXIT_OK), report


def cmd_check(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    config = config_from_args(args)
    config = apply_smoke_params(config, parse_key_values(args.smoke_param, "--smoke-param"))
    options = options_from_args(args, environ)
    # botocore itself reads only AWS_DEFAULT_REGION; AWS_REGION is what Lambda and most tools set.
    region = args.region or environ.get("AWS_REGION") or None
    code, _ = run_and_print(config, options, args.format, AwsSessions(default_region=region))
    return code


def cmd_targets_push(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    if not re.fullmatch(r"(/[A-Za-z0-9_.-]+)+/?", args.path):
        raise UsageError(
            f"--path {args.path!r}: expected an SSM path such as /batch-health/targets/"
        )
    config = load_config_file(args.config)
    sessions = AwsSessions(default_region=args.region or environ.get("AWS_REGION") or None)
    try:
        written, deleted = push(
            sessions.client("ssm"), config, args.path, tier=args.tier, prune=args.prune
        )
    except (ClientError, BotoCoreError) as exc:
        failure = classify(exc)
        print(f"batch-health: SSM refused: {failure.summary}", file=sys.stderr)
        print(f"  hint: {failure.hint(action='ssm:PutParameter', resource=args.path)}")
        return EXIT_FAIL
    for name in written:
        print(f"wrote   {name}")
    for name in deleted:
        print(f"deleted {name}")
    path = args.path if args.path.endswith("/") else f"{args.path}/"
    print(f"{len(written)} target(s) under {path}: deploy the monitor with TargetsParameter={path}")
    return EXIT_OK


def cmd_checks(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    for check in REGISTRY:
        deps = ", ".join(check.depends_on) or "none"
        print(f"{check.name}  (STEP {check.step} {check.step_title})")
        print(f"    {check.title}: {check.verifies}")
        print(f"    depends on: {deps}")
    return EXIT_OK


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    env = os.environ if environ is None else environ
    try:
        return args.handler(args, env)
    except (UsageError, ConfigError) as exc:
        parser.exit(EXIT_USAGE, f"batch-health: error: {exc}\n")
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `batch-health checks | head`: the reader went away; no traceback for that.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAIL
    return EXIT_OK  # pragma: no cover - parser.exit raises


__all__ = ["Target", "main"]
