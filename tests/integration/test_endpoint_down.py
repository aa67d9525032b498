"""The AWS endpoint goes down in the middle of a run: a truthful report, and the heartbeat.

A moto server on 127.0.0.1 holds the healthy world; a botocore hook stops the server
when the run's N-th request is about to go out. Whatever already ran keeps its result;
whatever needed AWS afterwards FAILs with "endpoint unreachable" (or SKIPs naming the
dependency that did); the monitor still returns its report and emits SuiteRun.
"""

from __future__ import annotations

import json
import logging
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from moto.server import ThreadedMotoServer

from batch_health.aws.errors import ErrorKind
from batch_health.aws.sessions import AwsSessions
from batch_health.cli.invoke import LocalContext
from batch_health.demo import REGION, WorldBuilder, build_healthy
from batch_health.runtime import monitor
from batch_health.runtime.observability import metrics
from batch_health.runtime.settings import MonitorSettings

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning"),
]

UNREACHABLE = ErrorKind.ENDPOINT_UNREACHABLE.value  # "endpoint unreachable"


class Endpoint:
    """A moto server that a hook stops before the N-th request of the monitor's clients."""

    def __init__(self) -> None:
        logging.getLogger("werkzeug").setLevel(logging.CRITICAL)
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.server.start()
        host, port = self.server.get_host_and_port()
        self.url = f"http://{host}:{port}"
        self.stop_at: int | None = None
        self.sent = 0
        self.stopped = False
        self._lock = threading.Lock()

    def before_send(self, **_: Any) -> None:
        with self._lock:
            self.sent += 1
            if self.stop_at is not None and self.sent >= self.stop_at and not self.stopped:
                self.stopped = True
                self.server.stop()  # this request and every later one finds nobody there

    def close(self) -> None:
        if not self.stopped:
            self.server.stop()


@pytest.fixture
def endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[Endpoint]:
    ep = Endpoint()
    monkeypatch.setenv("AWS_ENDPOINT_URL", ep.url)
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")  # a refused connection fails at once
    original = AwsSessions.client

    def client(self: AwsSessions, *args: Any, **kwargs: Any) -> Any:
        made = original(self, *args, **kwargs)
        made.meta.events.register_first("before-send", ep.before_send, unique_id="endpoint-down")
        return made

    monkeypatch.setattr(AwsSessions, "client", client)
    monitor.reset_runtime()
    try:
        yield ep
    finally:
        monitor.reset_runtime()
        ep.close()


def moto_api(url: str, path: str, body: dict[str, Any] | None = None) -> None:
    request = urllib.request.Request(
        f"{url}/moto-api/{path}",
        data=json.dumps(body or {}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    urllib.request.urlopen(request, timeout=10).close()


@pytest.fixture
def healthy(endpoint: Endpoint, tmp_path: Path) -> dict[str, Any]:
    # moto servers in one process share their state: start from an empty account.
    moto_api(endpoint.url, "reset")
    moto_api(endpoint.url, "config", {"batch": {"use_docker": False}})
    return build_healthy(WorldBuilder(endpoint.url), tmp_path).target


def settings_for(target: dict[str, Any]) -> MonitorSettings:
    return MonitorSettings.from_env(
        {
            "AWS_REGION": "ap-northeast-2",
            "CONFIG_PARAMETER_PATH": "/academy/api/",
            "TARGET_NAME": target["name"],
            "JOB_QUEUE": target["job_queue"],
            "JOB_DEFINITION": target["job_definition"],
            "CONFIG_SOURCES": json.dumps(target["config_sources"]),
            "POWERTOOLS_METRICS_NAMESPACE": "BatchHealth",
        }
    )


def invoke(target: dict[str, Any]) -> dict[str, Any]:
    try:
        return monitor.handle({}, LocalContext(region=REGION), settings_for(target))
    finally:
        metrics.flush_metrics()


def emf(out: str) -> list[dict[str, Any]]:
    lines = [json.loads(x) for x in out.splitlines() if x.startswith("{")]
    return [x for x in lines if "_aws" in x]


def explained(check: dict[str, Any], clean: dict[str, Any], checks: dict[str, Any]) -> bool:
    """The check's result is what the clean run said, or it says the endpoint was gone."""
    if (check["status"], check["detail"]) == (clean["status"], clean["detail"]):
        return True
    if UNREACHABLE in check["detail"]:
        return check["status"] in ("FAIL", "WARN", "SKIP")
    if check["status"] == "SKIP":  # "<DEPENDENCY> is FAIL: ..." naming one that is
        dependency = check["detail"].split(" is ", 1)[0]
        return dependency in checks and checks[dependency]["status"] in ("FAIL", "SKIP")
    return False


@pytest.mark.parametrize("stop_at", [1, 4, 8, 12, 16])
def test_endpoint_down_mid_run(endpoint, healthy, capsys, stop_at):
    clean = {c["name"]: c for c in invoke(healthy)["checks"]}
    assert {c["status"] for c in clean.values()} <= {"OK", "SKIP"}, clean
    capsys.readouterr()
    endpoint.sent = 0
    endpoint.stop_at = stop_at
    monitor.reset_runtime()  # a new invocation: clients connect afresh

    report = invoke(healthy)

    assert endpoint.stopped
    checks = {c["name"]: c for c in report["checks"]}
    assert list(checks) == list(clean)
    for name, check in checks.items():
        assert explained(check, clean[name], checks), (name, check["status"], check["detail"])
        assert not check["detail"].startswith("check crashed"), check["detail"]
    unreachable = [c for c in checks.values() if UNREACHABLE in c["detail"]]
    assert unreachable, {n: c["detail"] for n, c in checks.items()}
    for check in unreachable:
        if check["data"].get("error_kind") == UNREACHABLE:  # the AWS error is the result
            assert check["status"] == "FAIL"
            assert "AWS_ENDPOINT_URL" in " ".join(check["hints"]), check["hints"]
    assert report["overall"] == "FAIL"
    if stop_at == 1:  # down from the start: nothing could look
        assert checks["AWS_ACCESS"]["status"] == "FAIL"
        assert checks["AWS_ACCESS"]["detail"].startswith(f"credentials: {UNREACHABLE}")

    metrics_out = emf(capsys.readouterr().out)
    # The heartbeat still goes out: the HEARTBEAT alarm stays quiet, the per-check
    # alarms show what failed.
    assert [x["SuiteRun"] for x in metrics_out if "SuiteRun" in x] == [[1.0]]
    failed_checks = sum(c["status"] == "FAIL" for c in checks.values())
    assert [x["FailedChecks"] for x in metrics_out if "FailedChecks" in x] == [
        [float(failed_checks)]
    ]
    sent = {x["Check"]: x["CheckFailed"][0] for x in metrics_out if "CheckFailed" in x}
    assert sent == {
        n: float(c["status"] == "FAIL") for n, c in checks.items() if c["status"] != "SKIP"
    }
