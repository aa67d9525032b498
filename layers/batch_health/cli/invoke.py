"""`batch-health invoke`: run the real Lambda handler in this process, no Docker needed.

    batch-health invoke --event events/manual-full.json [--env-vars env.json]
    batch-health invoke --event events/scheduled.json --demo-world seed

The handler (functions/monitor/app.py) gets the event and a Lambda-like context (request
id, remaining time from --timeout), and the function's environment from --env-vars in
SAM's format: `{"MonitorFunction": {"JOB_QUEUE": ...}}` and/or `{"Parameters": {...}}`
(for every function). AWS calls go wherever the standard AWS_* environment points
(AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL). `--demo-world` points them at an embedded
moto emulator holding one of the demo worlds, plus an alert topic and incident table.

stdout: the function's response (the JSON report, or Lambda's errorType/errorMessage
object); stderr: the function's log and EMF metric lines. Exit 0: no check FAILed;
1: some check FAILed; 2: the invocation failed or the input is unusable.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from batch_health.cli.common import ExitCode, positive_seconds
from batch_health.demo.emulator import FAKE_ENV, emulator, patched_environ
from batch_health.demo.worlds import SCENARIOS, WorldBuilder

DEFAULT_FUNCTION = "MonitorFunction"
DEFAULT_HANDLER = Path("functions/monitor/app.py")
HANDLER_NAME = "lambda_handler"
DEMO_NAMESPACE = "BatchHealth/demo"


class InvokeError(Exception):
    """Unusable input (event file, env-vars file, handler path): exit 2 with the message."""


@dataclass
class LocalContext:
    """The parts of the Lambda context object the handler and Powertools read."""

    function_name: str = DEFAULT_FUNCTION
    memory_limit_in_mb: int = 512
    timeout_s: float = 300.0
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    region: str = "us-east-1"
    account: str = "123456789012"
    started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account}:function:{self.function_name}"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return f"local/{self.aws_request_id}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_s - (time.monotonic() - self.started)) * 1000))


def read_json_file(path: str | Path, what: str) -> Any:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvokeError(f"{what} {p}: cannot read: {exc.strerror or exc}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvokeError(
            f"{what} {p}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None


def _env_value(value: Any, where: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, str | int | float):
        return str(value)
    raise InvokeError(f"{where}: expected a string, number or boolean, got {type(value).__name__}")


def env_vars_for(document: Any, function: str, source: str = "--env-vars") -> dict[str, str]:
    """SAM's env-vars format: "Parameters" for every function, then the function's own."""
    if not isinstance(document, dict):
        raise InvokeError(f'{source}: expected {{"{function}": {{"NAME": "value"}}}}')
    merged: dict[str, str] = {}
    for section in ("Parameters", function):
        values = document.get(section, {})
        if not isinstance(values, dict):
            raise InvokeError(f"{source}: {section}: expected an object of NAME: value")
        for name, value in values.items():
            merged[name] = _env_value(value, f"{source}: {section}.{name}")
    return merged


def load_handler(path: Path) -> Any:
    """Import the handler file the way Lambda does (by location, as a fresh module)."""
    if not path.is_file():
        raise InvokeError(
            f"handler {path} not found: run from the project directory or pass --handler"
        )
    spec = importlib.util.spec_from_file_location(f"_invoked_{path.parent.name}_app", path)
    assert spec is not None and spec.loader is not None
    module: ModuleType = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    handler = getattr(module, HANDLER_NAME, None)
    if handler is None:
        raise InvokeError(f"handler {path}: no function {HANDLER_NAME}")
    return handler


def lambda_environment(function: str, memory_mb: int) -> dict[str, str]:
    """What Lambda sets for every function that the code may look at."""
    return {
        "AWS_LAMBDA_FUNCTION_NAME": function,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        # No X-Ray daemon here: tracing stays off, as under `sam local invoke`.
        "POWERTOOLS_TRACE_DISABLED": "true",
    }


def invoke(
    handler_path: Path,
    event: Any,
    environ: Mapping[str, str],
    context: LocalContext,
) -> tuple[int, Any]:
    """Run the handler with `environ` applied; (exit code, response payload)."""
    with patched_environ(environ, drop=()), contextlib.redirect_stdout(sys.stderr):
        # The function's log and EMF lines go where Lambda sends them (the log), stderr
        # here, so stdout carries only the response.
        handler = load_handler(handler_path)
        try:
            response = handler(event, context)
        except Exception as exc:
            return ExitCode.ERROR, {"errorType": type(exc).__name__, "errorMessage": str(exc)}
    overall = response.get("overall") if isinstance(response, dict) else None
    return (ExitCode.CHECK_FAILED if overall == "FAIL" else ExitCode.OK), response


@contextlib.contextmanager
def demo_world(scenario: str) -> Iterator[dict[str, str]]:
    """An emulator holding a demo world plus the stack's topic and table; yields the env."""
    with tempfile.TemporaryDirectory(prefix="batch-health-invoke-") as tmp, emulator() as url:
        builder = WorldBuilder(url)
        world = SCENARIOS[scenario](builder, Path(tmp))
        topic = builder.client("sns").create_topic(Name="batch-health-alerts")["TopicArn"]
        table = "batch-health-incidents"
        builder.client("dynamodb").create_table(
            TableName=table,
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        target = world.target
        env = {
            **FAKE_ENV,
            "AWS_ENDPOINT_URL": url,
            "TARGET_NAME": target["name"],
            "JOB_QUEUE": target["job_queue"],
            "JOB_DEFINITION": target["job_definition"],
            "LOG_GROUP": target.get("log_group", ""),
            "CONFIG_SOURCES": json.dumps(target.get("config_sources", {})),
            "CONFIG_PARAMETER_PATH": "/academy/api/",
            "ALERT_TOPIC_ARN": topic,
            "INCIDENT_TABLE_NAME": table,
            "POWERTOOLS_METRICS_NAMESPACE": DEMO_NAMESPACE,
        }
        print(
            f"# batch-health invoke: demo world '{world.name}' ({world.description}) in an "
            f"AWS emulator at {url}; no AWS account is used",
            file=sys.stderr,
        )
        yield env


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "invoke",
        help="run the monitor Lambda handler in-process with an event (no Docker)",
        description=(
            "Run functions/monitor/app.py's handler in this process with a Lambda-like "
            "context. stdout: the response; stderr: the function's log and metric lines. "
            "Exit 0: no check FAILed; 1: some check FAILed; 2: the invocation failed."
        ),
    )
    parser.add_argument(
        "--event", required=True, metavar="FILE", help="event JSON, e.g. events/manual-full.json"
    )
    parser.add_argument(
        "--env-vars",
        metavar="FILE",
        help='function environment in SAM\'s format: {"MonitorFunction": {"JOB_QUEUE": "..."}}',
    )
    parser.add_argument(
        "--function",
        default=DEFAULT_FUNCTION,
        help=f"logical ID whose --env-vars section applies (default {DEFAULT_FUNCTION})",
    )
    parser.add_argument(
        "--handler",
        dest="handler_path",
        type=Path,
        default=DEFAULT_HANDLER,
        metavar="PATH",
        help=f"handler file (default {DEFAULT_HANDLER})",
    )
    parser.add_argument(
        "--timeout",
        type=positive_seconds,
        default=300.0,
        metavar="SECONDS",
        help="the function timeout the context reports (default 300, as in template.yaml)",
    )
    parser.add_argument(
        "--demo-world",
        choices=sorted(SCENARIOS),
        metavar="SCENARIO",
        help=f"run against an embedded emulator holding this demo world ({', '.join(SCENARIOS)})",
    )
    parser.set_defaults(handler=cmd_invoke)


def cmd_invoke(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    try:
        event = read_json_file(args.event, "--event")
        overrides = (
            env_vars_for(read_json_file(args.env_vars, "--env-vars"), args.function)
            if args.env_vars
            else {}
        )
        with contextlib.ExitStack() as stack:
            world_env = stack.enter_context(demo_world(args.demo_world)) if args.demo_world else {}
            env = {**lambda_environment(args.function, 512), **world_env, **overrides}
            region = env.get("AWS_REGION") or environ.get("AWS_REGION") or "us-east-1"
            context = LocalContext(
                function_name=args.function, timeout_s=args.timeout, region=region
            )
            code, response = invoke(args.handler_path, event, env, context)
    except InvokeError as exc:
        print(f"batch-health invoke: error: {exc}", file=sys.stderr)
        return ExitCode.ERROR
    sys.stdout.write(json.dumps(response, indent=2, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()
    if code == ExitCode.ERROR:
        print(
            f"batch-health invoke: the invocation failed: {response['errorMessage']}",
            file=sys.stderr,
        )
    return code
