"""`make bench`: how close a suite run gets to its longest chain of AWS round trips.

Starts moto behind a latency-injecting proxy (child processes, so the emulator's CPU is
not charged to the suite; see latency_proxy.py), creates N healthy targets (distinct queues,
compute environments, job definitions, SSM settings and log groups; one execution role and
one job role shared by the workload family unless --distinct-roles), runs the real suite
(`engine.run_suite`, every registered check, AWS_ENDPOINT_URL pointing at the proxy) for
each N and prints, for the first run of a fresh process (cold: a CLI run, a new Lambda
container's first invocation; modules already imported) and for sessions kept across runs
(warm: the monitor function's later invocations):

- wall: the median of --repeat runs (each with a fresh inventory);
- calls: AWS API calls (RequestStats), per target, and HTTP requests the proxy forwarded;
- chain: the longest chain of dependent calls (measured per call, see calltrace.py);
  critical path = chain x latency, a lower bound on wall; ratio = wall / critical path.

Then the handler's cold import time against a bare `import boto3` (fresh interpreters,
best of --import-runs; bench/imports.py) and the machine's core count.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import calltrace
import imports as bench_imports
import latency_proxy

from batch_health.checks import REGISTRY, RunOptions
from batch_health.config import SuiteConfig
from batch_health.demo import (
    EXEC_ROLE,
    FAKE_ENV,
    JOBDEF,
    LOG_GROUP,
    QUEUE,
    WORKER_COMMAND,
    WorldBuilder,
    patched_environ,
    suffixed_target,
)
from batch_health.engine import run_suite
from batch_health.models import Status

ROOT = Path(__file__).resolve().parent.parent
# The emulator's account; it lets any role be assumed.
ROLE_PREFIX = "arn:aws:iam::123456789012:role/batch-health-monitor-"
TARGETS = {"ratio_n1": 1.5, "ratio_nmax": 2.0, "per_target_share": 0.60, "import": 1.5}


def _env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value else default


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Suite wall time vs. its critical path.")
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=_env_float("BENCH_LATENCY_MS", 50.0),
        help="latency the proxy adds to every request (default 50, env BENCH_LATENCY_MS)",
    )
    parser.add_argument(
        "--sizes",
        default=os.environ.get("BENCH_SIZES", "1,5,20"),
        help="numbers of targets (default 1,5,20, env BENCH_SIZES)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per size (median wall)")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=RunOptions().concurrency,
        help=f"RunOptions.concurrency (default {RunOptions().concurrency}, as the CLI)",
    )
    parser.add_argument("--import-runs", type=int, default=5, help="cold imports per module")
    parser.add_argument(
        "--distinct-roles",
        action="store_true",
        help="give every target its own execution and job role (no IAM lookup is shared)",
    )
    parser.add_argument(
        "--assume-roles",
        action="store_true",
        help="check every target through its own role (role_arn: one assumed session each)",
    )
    parser.add_argument("--cold-run", metavar="CONFIG", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


# --- the emulator ---------------------------------------------------------------------
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

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=30)
        self.log.close()


class Emulator:
    """moto and the latency proxy in front of it, each in its own child process."""

    def __init__(self, latency_ms: float) -> None:
        self._moto = _Child("--moto")
        self._proxy = _Child("--upstream", self._moto.url, "--latency-ms", str(latency_ms))
        self.moto_url, self.proxy_url = self._moto.url, self._proxy.url

    def forwarded(self) -> int:
        return latency_proxy.forwarded_count(self.proxy_url)

    def close(self) -> None:
        self._proxy.close()
        self._moto.close()


# --- the world ------------------------------------------------------------------------
def build_targets(w: WorldBuilder, count: int, workdir: Path, distinct_roles: bool) -> list[dict]:
    """`count` healthy targets, as demo's healthy scenario, each under its own suffix."""
    targets = []
    shared_jobdef: dict[str, Any] | None = None
    for i in range(count):
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


def _share_roles(w: WorldBuilder, suffix: str) -> dict[str, Any]:
    """Let the first target's execution role write to every target's log group."""
    w.client("iam").put_role_policy(
        RoleName=f"{EXEC_ROLE}{suffix}",
        PolicyName=f"{EXEC_ROLE}{suffix}-inline",
        PolicyDocument=json.dumps(w.execution_policy(f"{LOG_GROUP}-*")),
    )
    batch = w.client("batch")
    return batch.describe_job_definitions(jobDefinitionName=f"{JOBDEF}{suffix}")["jobDefinitions"][
        0
    ]


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


# --- one measured run -----------------------------------------------------------------
@dataclass
class Run:
    wall_s: float
    calls: int
    attempts: int
    forwarded: int
    depth: int
    chain: list[calltrace.Call]
    by_operation: Counter[str]
    statuses: Counter[str]


def run_once(
    config: SuiteConfig,
    forwarded: Callable[[], int],
    concurrency: int,
    sessions: calltrace.TracingSessions | None = None,
) -> Run:
    """One suite run; `sessions` None: fresh ones, created inside the timed part.
    `forwarded`: how many requests the proxy has forwarded so far."""
    forwarded_before = forwarded()
    calls_before = sessions.stats.snapshot()["aws_calls"] if sessions else 0
    attempts_before = sessions.stats.attempts if sessions else 0
    with calltrace.depth_carrying_inventory():
        started = time.perf_counter()
        if sessions is None:
            sessions = calltrace.TracingSessions()
        log = sessions.log = calltrace.CallLog()
        suite = run_suite(config, RunOptions(concurrency=concurrency), sessions)
        wall = time.perf_counter() - started
    failed = [
        f"{r.target}:{c.name}: {c.detail}"
        for r in suite.reports
        for c in r.checks
        if c.status is Status.FAIL
    ]
    if failed:
        raise SystemExit("bench world is not healthy:\n  " + "\n  ".join(failed[:10]))
    return Run(
        wall,
        sessions.stats.snapshot()["aws_calls"] - calls_before,
        sessions.stats.attempts - attempts_before,
        forwarded() - forwarded_before,
        log.depth,
        log.longest_chain(),
        Counter(c.operation for c in log.calls.values()),
        Counter(c.status.value for r in suite.reports for c in r.checks),
    )


def measure_warm(
    config: SuiteConfig, emu: Emulator, args: argparse.Namespace
) -> tuple[Run, list[float]]:
    """`repeat` runs with the sessions kept, as the monitor function keeps them across
    invocations (after a first run that made the clients); the median run and every wall."""
    sessions = calltrace.TracingSessions()
    run_once(config, emu.forwarded, args.concurrency, sessions)
    runs = [run_once(config, emu.forwarded, args.concurrency, sessions) for _ in range(args.repeat)]
    return median(runs), [r.wall_s for r in runs]


def measure_cold(
    config: SuiteConfig, emu: Emulator, args: argparse.Namespace, workdir: Path
) -> tuple[Run, list[float]]:
    """`repeat` runs, each the first of a fresh process (a new Lambda container's first
    invocation, a CLI run): modules imported, nothing else made yet."""
    path = workdir / "cold-config.json"
    path.write_text(config.model_dump_json())
    runs = []
    for _ in range(args.repeat):
        before = emu.forwarded()
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--cold-run",
                str(path),
                "--concurrency",
                str(args.concurrency),
            ],
            capture_output=True,
            text=True,
            check=False,
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
    return median(runs), [r.wall_s for r in runs]


def median(runs: list[Run]) -> Run:
    return sorted(runs, key=lambda r: r.wall_s)[len(runs) // 2]


def cold_run_child(path: str, concurrency: int) -> int:
    """--cold-run: one timed run in this fresh process; prints it as JSON."""
    config = SuiteConfig.model_validate_json(Path(path).read_text())
    run = run_once(config, lambda: 0, concurrency)
    fields = ("wall_s", "calls", "attempts", "depth", "by_operation", "statuses")
    print(json.dumps({f: getattr(run, f) for f in fields}))
    return 0


# --- report ---------------------------------------------------------------------------
def verdict(ok: bool) -> str:
    return "met" if ok else "NOT MET"


def print_header(args: argparse.Namespace) -> None:
    cores = os.cpu_count() or 1
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores
    print(
        f"# batch-health bench: latency {args.latency_ms:g} ms/request, "
        f"concurrency {args.concurrency}, {len(REGISTRY)} checks: "
        f"{', '.join(c.name for c in REGISTRY)}"
    )
    print(f"# cores: {cores} (usable {usable}); python {sys.version.split()[0]}")
    roles = "distinct per target" if args.distinct_roles else "one execution + one job role shared"
    print(f"# targets: healthy; distinct queue/CE/job definition/SSM/log group; roles: {roles}")
    if args.assume_roles:
        print(f"# every target through its own role: {ROLE_PREFIX}NN (sts:AssumeRole each)")
    print(
        "# cold: the first run of a fresh process, imports done (a CLI run; a new Lambda "
        "container's first invocation); warm: sessions kept across runs (later invocations)"
    )
    print(
        "# SMOKE_SUBMIT_CHECK is SKIP: submits are opt-in, and polling a job would time the "
        "job, not the suite"
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.cold_run:
        return cold_run_child(args.cold_run, args.concurrency)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    latency = args.latency_ms / 1000
    print_header(args)
    emu = Emulator(args.latency_ms)
    results: dict[tuple[str, int], Run] = {}
    walls: dict[tuple[str, int], list[float]] = {}
    try:
        with (
            tempfile.TemporaryDirectory(prefix="batch-health-bench-") as tmp,
            patched_environ(FAKE_ENV),
        ):
            targets = build_targets(
                WorldBuilder(emu.moto_url), max(sizes), Path(tmp), args.distinct_roles
            )
            if args.assume_roles:
                targets = [
                    {**t, "role_arn": f"{ROLE_PREFIX}{i:02d}"} for i, t in enumerate(targets)
                ]
            os.environ["AWS_ENDPOINT_URL"] = emu.proxy_url
            # Warm-up (not reported): lazy imports inside boto3/botocore happen once per
            # process; the cold import is measured separately below.
            run_once(
                SuiteConfig.model_validate({"targets": targets[:1]}),
                emu.forwarded,
                args.concurrency,
            )
            print(
                f"\n{'N':>3} {'mode':>5} {'wall ms':>8} {'calls':>6} {'/target':>8} "
                f"{'proxied':>8} {'chain':>5} {'crit ms':>8} {'ratio':>6}  statuses"
            )
            for n in sizes:
                config = SuiteConfig.model_validate({"targets": targets[:n]})
                for mode in ("cold", "warm"):
                    run, walls[mode, n] = (
                        measure_warm(config, emu, args)
                        if mode == "warm"
                        else measure_cold(config, emu, args, Path(tmp))
                    )
                    results[mode, n] = run
                    crit = run.depth * latency
                    statuses = " ".join(f"{k}={v}" for k, v in sorted(run.statuses.items()))
                    print(
                        f"{n:>3} {mode:>5} {run.wall_s * 1000:>8.0f} {run.calls:>6} "
                        f"{run.calls / n:>8.2f} {run.forwarded:>8} {run.depth:>5} "
                        f"{crit * 1000:>8.0f} {run.wall_s / crit:>6.2f}  {statuses}",
                        flush=True,
                    )
    finally:
        emu.close()

    print(f"\nwall: the median of {args.repeat} runs; every run (ms):")
    for (mode, n), ws in walls.items():
        print(f"  N={n} {mode}: " + " ".join(f"{w * 1000:.0f}" for w in ws))
    print(
        "chain: the longest run of calls each made after the answer to the one before had\n"
        "  been seen (by the same task, or through data the inventory shared); waiting for\n"
        "  another check to finish is not counted (bench/calltrace.py); crit = chain x latency.\n"
        "longest chain (warm):"
    )
    for n in sizes:
        chain = " -> ".join(c.operation for c in results["warm", n].chain)
        print(f"  N={n}: {chain}")
    print("AWS calls by operation (warm):")
    warm = {n: results["warm", n] for n in sizes}
    ops = sorted({op for r in warm.values() for op in r.by_operation})
    print("  " + f"{'operation':<40}" + "".join(f"{'N=' + str(n):>7}" for n in sizes))
    for op in ops:
        print("  " + f"{op:<40}" + "".join(f"{r.by_operation[op]:>7}" for r in warm.values()))

    imports = bench_imports.measure(args.import_runs)
    print(
        f"\ncold import (best of {args.import_runs}, fresh interpreter each; see bench/imports.py):"
    )
    print(f"  {'environment':<20}{'import boto3':>14}{'import app':>12}{'ratio':>7}")
    for t in imports:
        print(
            f"  {t.env:<20}{t.boto3_s * 1000:>11.0f} ms{t.handler_s * 1000:>9.0f} ms{t.ratio:>7.2f}"
        )
    lambda_like = imports[0]
    print(f"  import app step by step ({lambda_like.env}, ms):")
    for name, seconds in lambda_like.steps:
        print(f"    {name:<40}{seconds * 1000:>6.0f}")

    first, last = min(sizes), max(sizes)
    print("\ntargets:")
    for mode in ("warm", "cold"):
        for n, limit in ((first, TARGETS["ratio_n1"]), (last, TARGETS["ratio_nmax"])):
            run = results[mode, n]
            ratio = run.wall_s / (run.depth * latency)
            ok = verdict(ratio <= limit)
            print(f"  {mode} wall/critical at N={n} <= {limit}: {ratio:.2f} {ok}")
    share = (warm[last].calls / last) / (warm[first].calls / first)
    limit = TARGETS["per_target_share"]
    print(
        f"  calls/target at N={last} <= {limit:.0%} of N={first}: {share:.0%} "
        f"{verdict(share <= limit)}"
    )
    print(
        f"  cold import of the handler <= {TARGETS['import']} x boto3 ({lambda_like.env}): "
        f"{lambda_like.ratio:.2f} {verdict(lambda_like.ratio <= TARGETS['import'])}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
