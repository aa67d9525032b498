"""A Lambda execution environment on 127.0.0.1: the Runtime API, and AWS's runtime client.

Lambda's python3.13 runtime is AWS's runtime interface client (`awslambdaric`) in a loop
against the Runtime API: it imports the handler once (the Init phase ends at its first
`GET /next`), then takes one event after another from `GET /runtime/invocation/next` and
posts each result to `.../{request id}/response` or `.../{request id}/error`; a handler that
cannot be imported is posted to `/runtime/init/error` and the process exits.

`RuntimeApi` is that API, after AWS's reference, "Using the Lambda runtime API for custom
runtimes" (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html), version
2018-06-01:
- GET  /2018-06-01/runtime/invocation/next: blocks until there is an event; 200, the
  event as the body (Content-Type application/json: awslambdaric hands any other content
  type to the handler as raw bytes) and the headers Lambda-Runtime-Aws-Request-Id,
  Lambda-Runtime-Deadline-Ms (Unix ms), Lambda-Runtime-Invoked-Function-Arn and
  Lambda-Runtime-Trace-Id. Lambda-Runtime-Client-Context and -Cognito-Identity are sent
  only for Mobile SDK invocations, so never here.
- POST /2018-06-01/runtime/invocation/{id}/response and /{id}/error; POST
  /2018-06-01/runtime/init/error: 202 {"status": "OK"}. An unknown request id is 400
  (InvalidRequestID), a second result for one invocation 403 (InvalidStateTransition), a
  response over the 6 MB synchronous payload quota 413 (the invocation fails with
  Function.ResponseSizeTooLarge). An error body is {"errorMessage", "errorType",
  "stackTrace"}, its type also in the Lambda-Runtime-Function-Error-Type header.

`FunctionProcess` runs `python -S -B -m awslambdaric <Handler>` against it with what Lambda
gives a function: the environment it sets (reserved variables after the function's own,
which cannot override them), the working directory LAMBDA_TASK_ROOT, and an import path of
the function's code, its layers' python/ directories, then the runtime's own packages
(`link_runtime_packages`) and nothing else (-S: no site-packages; -B: no bytecode written,
Lambda's file system being read-only).

Tracing: Lambda tells an Active-traced function where its X-Ray daemon listens
(AWS_XRAY_DAEMON_ADDRESS) and sets AWS_XRAY_CONTEXT_MISSING=LOG_ERROR; the runtime puts
each invocation's Lambda-Runtime-Trace-Id into _X_AMZN_TRACE_ID. `XRayDaemon` is a UDP
socket on 127.0.0.1 in the daemon's place that keeps what the SDK sends, so the
template's `Tracing: Active` is run as it is, with Powertools' Tracer on, and not
switched off with POWERTOOLS_TRACE_DISABLED.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import os
import queue
import secrets
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

API_VERSION = "2018-06-01"
# The synchronous invocation payload quota, request and response: 6 MB.
# https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
MAX_RESPONSE_BYTES = 6 * 1024 * 1024
# What the python3.13 runtime provides besides the standard library: the AWS SDK and the
# runtime interface client (with its dependencies), by distribution name.
RUNTIME_DISTRIBUTIONS = (
    "boto3",
    "botocore",
    "s3transfer",
    "jmespath",
    "python-dateutil",
    "six",
    "urllib3",
    "awslambdaric",
    "simplejson",
    "snapshot-restore-py",
)


def link_runtime_packages(
    target: Path, distributions: Iterable[str] = RUNTIME_DISTRIBUTIONS
) -> Path:
    """Fill `target` with symlinks to the top-level modules of `distributions` as installed
    here: the stand-in for the runtime's own site-packages."""
    target.mkdir(parents=True, exist_ok=True)
    for name in distributions:
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            raise RuntimeError(
                f"{name} is not installed: pip install -r requirements/dev.txt "
                "-c requirements/constraints.txt"
            ) from None
        # Top-level packages and modules (an extension module too: awslambdaric's C client
        # is the top-level runtime_client*.so), not metadata or scripts outside the tree.
        tops = {f.parts[0] for f in dist.files or () if f.parts[0] != ".."}
        for top in sorted(tops):
            if top.endswith((".dist-info", ".egg-info", ".pth")) or top == "__pycache__":
                continue
            link = target / top
            if not link.exists():
                link.symlink_to(Path(str(dist.locate_file(top))).resolve())
    return target


# --- the Runtime API ---------------------------------------------------------------------


@dataclass
class Invocation:
    """One event given to the runtime, and what the runtime answered."""

    request_id: str
    event: bytes
    deadline_ms: int
    function_arn: str
    trace_id: str
    kind: str | None = None  # "response" or "error", once answered
    payload: Any = None
    headers: dict[str, str] = field(default_factory=dict)  # of the runtime's POST
    # The function's output while the runtime had this event: offsets in its log files.
    output_from: tuple[int, int] = (0, 0)
    output_to: tuple[int, int] = (0, 0)
    done: threading.Event = field(default_factory=threading.Event, repr=False)


class RuntimeApi:
    """The Lambda Runtime API for one execution environment (one invocation at a time)."""

    def __init__(
        self,
        function_arn: str,
        timeout_s: float,
        *,
        tracing: bool = False,
        output_offsets: Any = lambda: (0, 0),
    ) -> None:
        self.function_arn = function_arn
        self.timeout_s = timeout_s
        self.tracing = tracing
        self.output_offsets = output_offsets  # () -> (stdout bytes, stderr bytes) so far
        self.init_error: dict[str, Any] | None = None
        self.init_error_headers: dict[str, str] = {}
        self.next_requests = 0  # GET /next received (the first one ends the Init phase)
        self.first_next = threading.Event()
        self.changed = threading.Condition()
        self.requests: list[tuple[str, str, int]] = []  # (method, path, status)
        self._events: queue.Queue[Invocation | None] = queue.Queue()
        self._invocations: dict[str, Invocation] = {}
        self._server = _Server(("127.0.0.1", 0), _handler_for(self))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def address(self) -> str:
        """host:port, as AWS_LAMBDA_RUNTIME_API gives it."""
        host, port = self._server.server_address[:2]
        return f"{host}:{port}"

    def start(self) -> RuntimeApi:
        self._thread.start()
        return self

    def close(self) -> None:
        self._events.put(None)  # release a GET /next still waiting
        self._server.shutdown()
        self._server.server_close()

    def submit(self, event: Any) -> Invocation:
        """Queue an event for the runtime's next GET /next."""
        now = time.time()
        sampled = "1" if self.tracing else "0"
        invocation = Invocation(
            request_id=str(uuid.uuid4()),
            event=json.dumps(event).encode(),
            deadline_ms=0,  # set when the runtime takes it
            function_arn=self.function_arn,
            trace_id=f"Root=1-{int(now):08x}-{secrets.token_hex(12)};"
            f"Parent={secrets.token_hex(8)};Sampled={sampled}",
        )
        self._invocations[invocation.request_id] = invocation
        self._events.put(invocation)
        return invocation

    # --- called by the request handler --------------------------------------------------
    def _next(self) -> Invocation | None:
        with self.changed:
            self.next_requests += 1
            self.first_next.set()
            self.changed.notify_all()
        invocation = self._events.get()
        if invocation is not None:
            invocation.deadline_ms = int((time.time() + self.timeout_s) * 1000)
            invocation.output_from = self.output_offsets()
        return invocation

    def _result(
        self, request_id: str, kind: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, dict[str, str]]:
        invocation = self._invocations.get(request_id)
        if invocation is None:
            return 400, _error("InvalidRequestID", f"unknown request id {request_id}")
        if invocation.kind is not None:
            return 403, _error("InvalidStateTransition", f"{request_id} already reported")
        invocation.output_to = self.output_offsets()
        invocation.headers = headers
        too_large = kind == "response" and len(body) > MAX_RESPONSE_BYTES
        if too_large:
            # What the caller gets instead of the response.
            kind, payload = (
                "error",
                _error(
                    "Function.ResponseSizeTooLarge",
                    f"Response payload size ({len(body)} bytes) exceeded maximum allowed "
                    f"payload size ({MAX_RESPONSE_BYTES} bytes).",
                ),
            )
        else:
            payload = _json_or_text(body)
        invocation.kind, invocation.payload = kind, payload
        invocation.done.set()
        with self.changed:
            self.changed.notify_all()
        if too_large:
            return 413, _error("RequestEntityTooLarge", "response payload too large")
        return 202, {"status": "OK"}

    def _init_error(self, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, str]]:
        if self.init_error is not None:
            return 403, _error("InvalidStateTransition", "init error already reported")
        self.init_error = _json_or_text(body)
        self.init_error_headers = headers
        with self.changed:
            self.changed.notify_all()
        return 202, {"status": "OK"}


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # The runtime keeps its connection open between requests; when its process is
        # killed, the thread reading that connection sees it reset. Nothing to report.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _error(kind: str, message: str) -> dict[str, str]:
    return {"errorType": kind, "errorMessage": message}


def _json_or_text(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return body.decode("utf-8", "replace")


def _handler_for(api: RuntimeApi) -> type[BaseHTTPRequestHandler]:
    prefix = f"/{API_VERSION}/runtime"

    class Handler(BaseHTTPRequestHandler):
        # HTTP/1.1: the runtime's client keeps its connection open between requests.
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # no request log on stderr
            pass

        def do_GET(self) -> None:
            if self.path != f"{prefix}/invocation/next":
                return self._reply(404, _error("UnknownResource", self.path))
            invocation = api._next()
            if invocation is None:  # shutting down
                return self._reply(500, _error("ServiceShutdown", "the environment is ending"))
            self._reply(
                200,
                invocation.event,
                {
                    "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
                    "Lambda-Runtime-Deadline-Ms": str(invocation.deadline_ms),
                    "Lambda-Runtime-Invoked-Function-Arn": invocation.function_arn,
                    "Lambda-Runtime-Trace-Id": invocation.trace_id,
                },
            )

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k: v for k, v in self.headers.items()}
            parts = self.path.removeprefix(prefix).strip("/").split("/")
            if parts == ["init", "error"]:
                return self._reply(*api._init_error(body, headers))
            if len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
                return self._reply(*api._result(parts[1], parts[2], body, headers))
            self._reply(404, _error("UnknownResource", self.path))

        def _reply(self, status: int, body: Any, headers: Mapping[str, str] | None = None) -> None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            api.requests.append((self.command, self.path, status))
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            with contextlib.suppress(OSError):  # the runtime may be gone (shutdown)
                self.wfile.write(data)

    return Handler


# --- X-Ray ------------------------------------------------------------------------------


class XRayDaemon:
    """A UDP socket where the X-Ray daemon would listen; keeps the segment documents the
    SDK sends (each datagram: a JSON header line, then one segment or subsegment)."""

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self.documents: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._receive, daemon=True)

    @property
    def address(self) -> tuple[str, int]:
        return self._sock.getsockname()[:2]

    def start(self) -> XRayDaemon:
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._sock.close()

    def _receive(self) -> None:
        while not self._stop.is_set():
            try:
                data = self._sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            _, _, document = data.decode("utf-8", "replace").partition("\n")
            with contextlib.suppress(ValueError):
                self.documents.append(json.loads(document))


# --- the function's process -------------------------------------------------------------


class InitError(RuntimeError):
    """The runtime could not initialise the function (posted to /runtime/init/error, or
    its process ended)."""


class FunctionProcess:
    """A built function under awslambdaric, in its own process, against a RuntimeApi."""

    def __init__(
        self,
        *,
        task_root: Path,
        layers: Sequence[Path],
        runtime_dir: Path,
        handler: str,
        function_name: str,
        environment: Mapping[str, str],
        memory_mb: int = 128,
        timeout_s: float = 3,
        tracing: bool = False,
        runtime: str = "python3.13",
        region: str = "us-east-1",
        account: str = "123456789012",
        log_dir: Path,
    ) -> None:
        self.task_root, self.layers, self.runtime_dir = task_root, list(layers), runtime_dir
        self.handler, self.function_name, self.runtime = handler, function_name, runtime
        self.function_environment = dict(environment)
        self.memory_mb, self.region = memory_mb, region
        self.function_arn = f"arn:aws:lambda:{region}:{account}:function:{function_name}"
        self.log_dir = log_dir
        self.stdout_path, self.stderr_path = log_dir / "stdout.log", log_dir / "stderr.log"
        self.xray = XRayDaemon()
        self.api = RuntimeApi(
            self.function_arn, timeout_s, tracing=tracing, output_offsets=self._output_offsets
        )
        self.invocations: list[Invocation] = []
        self.init_duration_s: float | None = None
        self.process: subprocess.Popen[bytes] | None = None

    @classmethod
    def deployed(
        cls,
        stack: Any,
        logical: str,
        *,
        build_dir: Path,
        runtime_dir: Path,
        endpoint: str,
        log_dir: Path,
    ) -> FunctionProcess:
        """`sam build`'s artifact of the stack's function `logical`, configured as the stack
        deploys it (handler, environment, memory, timeout, tracing), AWS at `endpoint`."""
        props = stack.properties(logical)
        return cls(
            task_root=build_dir / logical,
            layers=[build_dir / "BatchHealthLayer"],
            runtime_dir=runtime_dir,
            handler=props["Handler"],
            function_name=stack.physical_name(logical),
            environment={**props["Environment"]["Variables"], "AWS_ENDPOINT_URL": endpoint},
            memory_mb=props["MemorySize"],
            timeout_s=props["Timeout"],
            tracing=props.get("TracingConfig", {}).get("Mode") == "Active",
            runtime=props["Runtime"],
            region=stack.region,
            account=stack.account,
            log_dir=log_dir,
        )

    # --- the environment Lambda gives the function -------------------------------------
    def import_path(self) -> list[str]:
        """LAMBDA_TASK_ROOT, then each layer as /opt/python (and its lib/python3.X/
        site-packages), then the runtime's packages."""
        path = [str(self.task_root)]
        version = self.runtime.removeprefix("python")
        for layer in self.layers:
            site = layer / "python" / "lib" / f"python{version}" / "site-packages"
            path += [str(site)] if site.is_dir() else []
            path.append(str(layer / "python"))
        return [*path, str(self.runtime_dir)]

    def environment(self) -> dict[str, str]:
        """The function's variables with Lambda's reserved ones over them.
        https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime
        """
        for name, value in self.function_environment.items():
            if not isinstance(value, str):
                raise TypeError(f"environment variable {name}: {value!r} is not a string")
        stream = f"{time.strftime('%Y/%m/%d', time.gmtime())}/[$LATEST]{secrets.token_hex(16)}"
        host, port = self.xray.address
        return {
            **self.function_environment,
            "_HANDLER": self.handler,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{self.runtime}",
            "AWS_LAMBDA_FUNCTION_NAME": self.function_name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.memory_mb),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{self.function_name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": stream,
            "AWS_LAMBDA_RUNTIME_API": self.api.address,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            # The execution role's credentials (fake: the endpoints here are moto's).
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
            "AWS_XRAY_DAEMON_ADDRESS": f"{host}:{port}",
            "_AWS_XRAY_DAEMON_ADDRESS": host,
            "_AWS_XRAY_DAEMON_PORT": str(port),
            "LAMBDA_TASK_ROOT": str(self.task_root),
            "LAMBDA_RUNTIME_DIR": str(self.runtime_dir),
            "TZ": ":UTC",
            "LANG": "en_US.UTF-8",
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}/usr/local/bin:/usr/bin:/bin",
            "PYTHONPATH": os.pathsep.join(self.import_path()),
            # Not Lambda's: keep the developer's ~/.aws out of it.
            "AWS_CONFIG_FILE": "/nonexistent",
            "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
        }

    # --- life cycle ----------------------------------------------------------------------
    def start(self, init_timeout_s: float = 30) -> FunctionProcess:
        """Start the runtime and wait for the end of its Init phase (its first GET /next);
        InitError if it reports an init error or exits instead."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.xray.start()
        self.api.start()
        started = time.monotonic()
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-S", "-B", "-m", "awslambdaric", self.handler],
                cwd=self.task_root,
                env=self.environment(),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
            )
        try:
            self._wait(self.api.first_next.is_set, init_timeout_s, "Init")
        except BaseException:
            self.close()  # `with` does not call __exit__ when __enter__ raises
            raise
        self.init_duration_s = time.monotonic() - started
        return self

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            # What Lambda does to an environment it shuts down (no extensions): SIGKILL.
            self.process.kill()
            self.process.wait(timeout=10)
        self.api.close()
        self.xray.close()

    def __enter__(self) -> FunctionProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def init_error(self) -> dict[str, Any] | None:
        return self.api.init_error

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def invoke(self, event: Any, timeout_s: float = 60) -> tuple[str, Any]:
        """(kind, payload) of one synchronous invocation: ("response", the handler's
        return value) or ("error", {"errorType", "errorMessage", ...})."""
        invocation = self.api.submit(event)
        self.invocations.append(invocation)
        self._wait(invocation.done.is_set, timeout_s, f"invocation {invocation.request_id}")
        assert invocation.kind is not None
        return invocation.kind, invocation.payload

    def wait_idle(self, timeout_s: float = 10) -> None:
        """Until the runtime, done with every event given, is waiting in GET /next."""
        expected = len(self.invocations) + 1
        self._wait(lambda: self.api.next_requests >= expected, timeout_s, "GET /next")

    def _wait(self, ready: Any, timeout_s: float, what: str) -> None:
        deadline = time.monotonic() + timeout_s
        with self.api.changed:
            while not ready():
                if self.api.init_error is not None:
                    raise InitError(f"{what}: init error {self.api.init_error}\n{self._tail()}")
                assert self.process is not None
                if self.process.poll() is not None:
                    raise InitError(
                        f"{what}: the runtime exited with {self.process.returncode}\n{self._tail()}"
                    )
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{what}: no answer in {timeout_s:.0f} s\n{self._tail()}")
                self.api.changed.wait(min(left, 0.1))

    # --- output ----------------------------------------------------------------------
    def _output_offsets(self) -> tuple[int, int]:
        # The runtime writes stdout and stderr unbuffered, straight into these files, so
        # what it wrote before it posted a result is there when the POST arrives.
        return (
            self.stdout_path.stat().st_size if self.stdout_path.exists() else 0,
            self.stderr_path.stat().st_size if self.stderr_path.exists() else 0,
        )

    def stdout(self) -> str:
        return self.stdout_path.read_text("utf-8", "replace")

    def stderr(self) -> str:
        return self.stderr_path.read_text("utf-8", "replace")

    def output(self, invocation: Invocation) -> tuple[str, str]:
        """(stdout, stderr) written while the runtime had `invocation`."""
        texts = []
        for path, start, end in zip(
            (self.stdout_path, self.stderr_path),
            invocation.output_from,
            invocation.output_to,
            strict=True,
        ):
            with open(path, "rb") as f:
                f.seek(start)
                texts.append(f.read(end - start).decode("utf-8", "replace"))
        return texts[0], texts[1]

    def _tail(self, lines: int = 40) -> str:
        out = self.stdout().splitlines()[-lines:]
        err = self.stderr().splitlines()[-lines:]
        return "stdout:\n" + "\n".join(out) + "\nstderr:\n" + "\n".join(err)
