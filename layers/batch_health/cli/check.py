"""`batch-health check` and `batch-health checks`: the suite against AWS, and what it checks."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from typing import Any

from batch_health.aws.sessions import AwsSessions
from batch_health.checks import REGISTRY, RunOptions, parse_check_names
from batch_health.cli.common import ExitCode, UsageError, add_target_arguments
from batch_health.config import SuiteConfig, load_config_file, parse_key_values, parse_suite_config
from batch_health.engine import run_suite
from batch_health.environment import parse_flag
from batch_health.models import Status, SuiteReport
from batch_health.render import render_json, render_text


def add_parsers(sub: Any) -> None:
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
    try:
        allow_env = parse_flag(environ.get("ALLOW_TEST_SUBMIT", ""))
    except ValueError as exc:
        raise UsageError(f"ALLOW_TEST_SUBMIT: {exc}") from None
    return RunOptions(
        checks=checks,
        allow_test_submit=args.allow_test_submit or allow_env,
        time_budget_s=args.time_budget,
        concurrency=args.concurrency,
        environ=dict(environ),
        cancel_unplaceable=args.cancel_unplaceable,
    )


def run_and_print(
    config: SuiteConfig, options: RunOptions, fmt: str, sessions: AwsSessions | None = None
) -> tuple[ExitCode, SuiteReport]:
    report = run_suite(config, options, sessions)
    sys.stdout.write(render_json(report) + "\n" if fmt == "json" else render_text(report))
    sys.stdout.flush()
    return (ExitCode.CHECK_FAILED if report.overall is Status.FAIL else ExitCode.OK), report


def prepared(config: SuiteConfig, args: argparse.Namespace) -> SuiteConfig:
    """The config with the --smoke-param values added to every target."""
    return apply_smoke_params(config, parse_key_values(args.smoke_param, "--smoke-param"))


def cmd_check(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    config = prepared(config_from_args(args), args)
    options = options_from_args(args, environ)
    # botocore itself reads only AWS_DEFAULT_REGION; AWS_REGION is what Lambda and most tools set.
    region = args.region or environ.get("AWS_REGION") or None
    code, _ = run_and_print(config, options, args.format, AwsSessions(default_region=region))
    return code


def cmd_checks(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    for check in REGISTRY:
        deps = ", ".join(check.depends_on) or "none"
        print(f"{check.name}  (STEP {check.step} {check.step_title})")
        print(f"    {check.title}: {check.verifies}")
        print(f"    depends on: {deps}")
    return ExitCode.OK
