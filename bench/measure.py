"""One measured suite run against the emulator, warm (sessions kept) or cold (a fresh
process), each started with every quota's bucket full: the proxy's (AWS's) and the
monitor's own (its pacer), as after the minutes between two scheduled runs."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import calltrace
from world import Emulator

from batch_health.aws.sessions import AwsSessions
from batch_health.checks import RunOptions
from batch_health.config import SuiteConfig
from batch_health.engine import run_suite
from batch_health.models import Status

# A check's detail naming a throttle: one that surfaced instead of being absorbed.
# The placement analysis's reads (RUNNABLE_BACKLOG_CHECK, JOBDEF_CHECK, the smoke check):
# what `depth_without_placement` leaves out.
PLACEMENT_OPS = frozenset(
    {
        "GetJobQueueSnapshot",
        "DescribeInstanceTypes",
        "DescribeSubnets",
        "DescribeInstanceTypeOfferings",
        "GetServiceQuota",
        "ListContainerInstances",
        "DescribeContainerInstances",
    }
)
THROTTLE_WORDS = ("throttl", "rate exceeded", "too many requests")


@dataclass
class Run:
    wall_s: float
    calls: int
    attempts: int
    forwarded: int
    depth: int
    chain: list[calltrace.Call]
    by_operation: Counter[str]  # the run's calls per "service:Operation" (retries not counted)
    statuses: Counter[str]
    throttled: int = 0  # requests the proxy answered with a throttling error
    paced: int = 0  # requests the monitor's pacer held back for their quota
    surfaced: list[str] = field(default_factory=list)  # FAIL/SKIP details naming a throttle
    cpu_s: dict[str, float] = field(default_factory=dict)  # CPU time by process: suite, moto, proxy
    depth_without_placement: int = 0  # the longest chain of the other calls


def settle(emu: Emulator, sessions: AwsSessions | None = None) -> None:
    """Wait until every bucket is full: AWS's (the proxy's) and, kept across runs, ours."""
    while True:
        wait = float(emu.stats().get("full_in", 0.0))
        if sessions is not None:
            wait = max(wait, sessions.pacer.full_in())
        if wait <= 0:
            return
        time.sleep(wait + 0.01)


def _throttled(emu: Emulator | None) -> int:
    return sum(emu.stats().get("throttled", {}).values()) if emu else 0


def run_once(
    config: SuiteConfig,
    emu: Emulator | None,
    concurrency: int,
    sessions: calltrace.TracingSessions | None = None,
    *,
    allow_fail: bool = False,
) -> Run:
    """One suite run; `sessions` None: fresh ones, made inside the timed part. `emu` None: in
    a child process, which does not ask the proxy for its counts."""
    forwarded_before = emu.forwarded() if emu else 0
    throttled_before = _throttled(emu)
    calls_before = Counter(sessions.stats.calls) if sessions else Counter()
    attempts_before = sessions.stats.attempts if sessions else 0
    paced_before = sum(sessions.pacer.waits.values()) if sessions else 0
    cpu_before = _cpu(emu)
    with calltrace.depth_carrying_inventory():
        started = time.perf_counter()
        if sessions is None:
            sessions = calltrace.TracingSessions()
        log = sessions.log = calltrace.CallLog()
        suite = run_suite(config, RunOptions(concurrency=concurrency), sessions)
        wall = time.perf_counter() - started
    cpu = {k: v - cpu_before[k] for k, v in _cpu(emu).items()}
    checks = [(r.target, c) for r in suite.reports for c in r.checks]
    failed = [f"{t}:{c.name}: {c.detail}" for t, c in checks if c.status is Status.FAIL]
    if failed and not allow_fail:
        raise SystemExit("bench world is not healthy:\n  " + "\n  ".join(failed[:10]))
    calls = Counter(sessions.stats.calls)
    calls.subtract(calls_before)
    return Run(
        wall,
        calls.total(),
        sessions.stats.attempts - attempts_before,
        (emu.forwarded() - forwarded_before) if emu else 0,
        log.depth,
        log.longest_chain(),
        +calls,
        Counter(c.status.value for _, c in checks),
        _throttled(emu) - throttled_before,
        sum(sessions.pacer.waits.values()) - paced_before,
        [
            f"{t}:{c.name}: {c.detail}"
            for t, c in checks
            if c.status in (Status.FAIL, Status.SKIP)
            and any(w in c.detail.lower() for w in THROTTLE_WORDS)
        ],
        cpu,
        log.depth_without(PLACEMENT_OPS),
    )


def _cpu(emu: Emulator | None) -> dict[str, float]:
    """CPU time used so far: this process's (the suite's) and the emulator's children's."""
    return {"suite": time.process_time(), **(emu.cpu_s() if emu else {})}


def measure_warm(config: SuiteConfig, emu: Emulator, concurrency: int, repeat: int) -> list[Run]:
    """`repeat` runs with the sessions kept, as the monitor function keeps them across
    invocations (after a first run that made the clients)."""
    sessions = calltrace.TracingSessions()
    settle(emu, sessions)
    run_once(config, emu, concurrency, sessions)
    runs = []
    for _ in range(repeat):
        settle(emu, sessions)
        runs.append(run_once(config, emu, concurrency, sessions))
    return runs


def measure_cold(
    config: SuiteConfig, emu: Emulator, concurrency: int, repeat: int, workdir: Path, script: Path
) -> list[Run]:
    """`repeat` runs, each the first of a fresh process (a new Lambda container's first
    invocation, a CLI run): modules imported, nothing else made yet."""
    path = workdir / "cold-config.json"
    path.write_text(config.model_dump_json())
    runs = []
    for _ in range(repeat):
        settle(emu)
        before = emu.forwarded()
        argv = [sys.executable, str(script), "--cold-run", str(path)]
        out = subprocess.run(
            [*argv, "--concurrency", str(concurrency)], capture_output=True, text=True, check=False
        )
        if out.returncode != 0:
            raise SystemExit(f"cold run failed:\n{out.stderr.strip()[-3000:]}")
        child = json.loads(out.stdout.strip().splitlines()[-1])
        runs.append(
            Run(
                child["wall_s"],
                child["calls"],
                child["attempts"],
                emu.forwarded() - before,
                child["depth"],
                [],
                Counter(child["by_operation"]),
                Counter(child["statuses"]),
            )
        )
    return runs


def median(runs: list[Run]) -> Run:
    return sorted(runs, key=lambda r: r.wall_s)[len(runs) // 2]


def cold_run_child(path: str, concurrency: int) -> int:
    """--cold-run: one timed run in this fresh process; prints it as JSON."""
    config = SuiteConfig.model_validate_json(Path(path).read_text())
    run = run_once(config, None, concurrency)
    fields = ("wall_s", "calls", "attempts", "depth", "by_operation", "statuses")
    print(json.dumps({f: getattr(run, f) for f in fields}))
    return 0
