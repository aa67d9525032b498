"""The bench's emulator (moto behind the latency proxy, each in a child process) and its
world: N healthy targets, distinct workloads in one account and Region."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import latency_proxy

from batch_health.demo import (
    EXEC_ROLE,
    JOBDEF,
    LOG_GROUP,
    QUEUE,
    WORKER_COMMAND,
    WorldBuilder,
    suffixed_target,
)


class _Child:
    """`latency_proxy.py ARGS` in a child process; stops when we close its stdin."""

    def __init__(self, *args: str) -> None:
        # The emulator logs a traceback for every API it does not implement (the IAM
        # simulator); kept out of the report, shown if it fails to start.
        self.log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - closed in close()
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(latency_proxy.__file__)), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            self.log.seek(0)
            raise SystemExit(
                f"latency_proxy.py {' '.join(args)} failed:\n{self.log.read()[-3000:]}"
            )
        self.url: str = json.loads(line)["url"]

    def cpu_s(self) -> float:
        """CPU time the child has used so far (user + system; Linux's /proc, else 0)."""
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=30)
        self.log.close()


class Emulator:
    """moto and the latency proxy in front of it (enforcing AWS's quotas), each in its own
    child process."""

    def __init__(self, latency_ms: float) -> None:
        self._moto = _Child("--moto")
        self._proxy = _Child(
            "--upstream", self._moto.url, "--latency-ms", str(latency_ms), "--quotas"
        )
        self.moto_url, self.proxy_url = self._moto.url, self._proxy.url

    def forwarded(self) -> int:
        return latency_proxy.forwarded_count(self.proxy_url)

    def stats(self) -> dict[str, Any]:
        return latency_proxy.stats(self.proxy_url)

    def set_latency(self, latency_ms: float) -> None:
        latency_proxy.set_latency(self.proxy_url, latency_ms)

    def cpu_s(self) -> dict[str, float]:
        """CPU time each child has used so far: the emulator's and the proxy's."""
        return {"moto": self._moto.cpu_s(), "proxy": self._proxy.cpu_s()}

    def close(self) -> None:
        self._proxy.close()
        self._moto.close()


def build_targets(
    w: WorldBuilder, count: int, workdir: Path, distinct_roles: bool, start: int = 0
) -> list[dict]:
    """Healthy targets `start` .. `count` - 1, as demo's healthy scenario, each under its own
    suffix (`start` > 0: more of a world already built from 0)."""
    targets = []
    shared_jobdef = None if start == 0 or distinct_roles else _described(w, f"{JOBDEF}-00")
    for i in range(start, count):
        suffix = f"-{i:02d}"
        log_group = f"{LOG_GROUP}{suffix}"
        w.queue_with_ce(suffix=suffix)
        if distinct_roles or shared_jobdef is None:
            w.job_definition(
                command=WORKER_COMMAND,
                parameters={"job_id": "none"},
                attempts=3,
                log_group=log_group,
                suffix=suffix,
            )
            if not distinct_roles:
                shared_jobdef = _share_roles(w, suffix)
        else:
            _register_like(w, shared_jobdef, f"{JOBDEF}{suffix}", log_group)
        w.api_settings(suffix=suffix)
        w.log_group(log_group, messages=["worker started", "transcoded video 42", "worker idle"])
        setup = workdir / f"setup{suffix}.ps1"
        setup.write_text(f'$JobQueueName = "{QUEUE}{suffix}"\n$JobDefName = "{JOBDEF}{suffix}"\n')
        targets.append(
            suffixed_target(
                suffix,
                setup_script={
                    "job_queue": f"file:{setup}#JobQueueName",
                    "job_definition": f"file:{setup}#JobDefName",
                },
            )
        )
    return targets


def _described(w: WorldBuilder, name: str) -> dict[str, Any]:
    batch = w.client("batch")
    return batch.describe_job_definitions(jobDefinitionName=name)["jobDefinitions"][0]


def _share_roles(w: WorldBuilder, suffix: str) -> dict[str, Any]:
    """Let the first target's execution role write to every target's log group."""
    w.client("iam").put_role_policy(
        RoleName=f"{EXEC_ROLE}{suffix}",
        PolicyName=f"{EXEC_ROLE}{suffix}-inline",
        PolicyDocument=json.dumps(w.execution_policy(f"{LOG_GROUP}-*")),
    )
    return _described(w, f"{JOBDEF}{suffix}")


def _register_like(w: WorldBuilder, jd: dict[str, Any], name: str, log_group: str) -> None:
    container = json.loads(json.dumps(jd["containerProperties"]))
    container["logConfiguration"]["options"]["awslogs-group"] = log_group
    w.client("batch").register_job_definition(
        jobDefinitionName=name,
        type=jd["type"],
        parameters=jd.get("parameters", {}),
        retryStrategy=jd["retryStrategy"],
        containerProperties=container,
    )
