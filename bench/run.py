"""`make bench`: how close a suite run gets to its longest chain of AWS round trips, and to
the least time AWS's request-rate quotas allow.

Starts moto behind a latency-injecting proxy that also enforces AWS's documented request
quotas per API (child processes, so the emulator's CPU is not charged to the suite; see
latency_proxy.py and quotas.py), creates healthy targets (distinct queues, compute
environments, job definitions, SSM settings and log groups; one execution role and one job
role shared by the workload family unless --distinct-roles) and runs the real suite
(`engine.run_suite`, every registered check, AWS_ENDPOINT_URL pointing at the proxy).

Latency-bound (--sizes, default 1,5,20), for the first run of a fresh process (cold: a CLI
run, a new Lambda container's first invocation; modules already imported) and for sessions
kept across runs (warm: the monitor function's later invocations):

- wall: the median of --repeat runs (each with a fresh inventory, every quota's bucket full);
- calls: AWS API calls (RequestStats), per target, and HTTP requests the proxy forwarded;
- chain: the longest chain of dependent calls (measured per call, see calltrace.py);
  critical path = chain x latency, a lower bound on wall; ratio = wall / critical path.

Quota-bound (--quota-sizes, default 1,20,200): wall against the quota lower bound (for each
API its calls / its quota; the largest), the throttles seen and absorbed, and the largest N
that fits in half the monitor function's timeout (quota_bound.py).

Then the handler's cold import time against a bare `import boto3` (fresh interpreters,
best of --import-runs; bench/imports.py) and the machine's core count.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

import calltrace
import imports as bench_imports
import quota_bound
from measure import (
    PLACEMENT_OPS,
    Run,
    cold_run_child,
    measure_cold,
    measure_warm,
    median,
    run_once,
    settle,
)
from world import Emulator, build_targets

from batch_health.checks import REGISTRY, RunOptions
from batch_health.config import SuiteConfig
from batch_health.demo import FAKE_ENV, WorldBuilder, patched_environ

# The emulator's account; it lets any role be assumed.
ROLE_PREFIX = "arn:aws:iam::123456789012:role/batch-health-monitor-"
TARGETS = {"chain": 4, "ratio_n1": 1.3, "ratio_nmax": 1.6, "per_target_share": 0.60}


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
        help="numbers of targets, latency-bound (default 1,5,20, env BENCH_SIZES)",
    )
    parser.add_argument(
        "--quota-sizes",
        default=os.environ.get("BENCH_QUOTA_SIZES", "1,20,200"),
        help="numbers of targets, quota-bound (default 1,20,200; '' skips them)",
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


def with_roles(args: argparse.Namespace, targets: list[dict]) -> list[dict]:
    """--assume-roles: every target through its own role."""
    if not args.assume_roles:
        return targets
    return [{**t, "role_arn": f"{ROLE_PREFIX}{i:02d}"} for i, t in enumerate(targets)]


def sizes_of(text: str) -> list[int]:
    return [int(s) for s in text.split(",") if s.strip()]


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
    print(
        f"# targets: healthy, one account and Region; distinct queue/CE/job definition/SSM/log "
        f"group; roles: {roles}"
    )
    if args.assume_roles:
        print(f"# every target through its own role: {ROLE_PREFIX}NN (sts:AssumeRole each)")
    print(
        "# cold: the first run of a fresh process, imports done (a CLI run; a new Lambda "
        "container's first invocation); warm: sessions kept across runs (later invocations)"
    )
    print(
        "# every run starts with every quota's bucket full (AWS's, in the proxy, and the "
        "monitor's pacer), as after the minutes between scheduled runs"
    )
    print(
        "# SMOKE_SUBMIT_CHECK is SKIP: submits are opt-in, and polling a job would time the "
        "job, not the suite"
    )


def latency_bound(
    args: argparse.Namespace, emu: Emulator, targets: list[dict], tmp: Path
) -> tuple[dict[tuple[str, int], Run], dict[tuple[str, int], list[float]]]:
    latency = args.latency_ms / 1000
    results: dict[tuple[str, int], Run] = {}
    walls: dict[tuple[str, int], list[float]] = {}
    print(
        f"\n{'N':>3} {'mode':>5} {'wall ms':>8} {'calls':>6} {'/target':>8} "
        f"{'proxied':>8} {'chain':>5} {'crit ms':>8} {'ratio':>6}  statuses"
    )
    for n in sizes_of(args.sizes):
        config = SuiteConfig.model_validate({"targets": targets[:n]})
        for mode in ("cold", "warm"):
            runs = (
                measure_warm(config, emu, args.concurrency, args.repeat)
                if mode == "warm"
                else measure_cold(
                    config, emu, args.concurrency, args.repeat, tmp, Path(__file__).resolve()
                )
            )
            run = results[mode, n] = median(runs)
            walls[mode, n] = [r.wall_s for r in runs]
            crit = run.depth * latency
            statuses = " ".join(f"{k}={v}" for k, v in sorted(run.statuses.items()))
            print(
                f"{n:>3} {mode:>5} {run.wall_s * 1000:>8.0f} {run.calls:>6} "
                f"{run.calls / n:>8.2f} {run.forwarded:>8} {run.depth:>5} "
                f"{crit * 1000:>8.0f} {run.wall_s / crit:>6.2f}  {statuses}",
                flush=True,
            )
    return results, walls


def report_latency(
    args: argparse.Namespace,
    results: dict[tuple[str, int], Run],
    walls: dict[tuple[str, int], list[float]],
) -> None:
    sizes = sizes_of(args.sizes)
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


def cpu_floor(args: argparse.Namespace, emu: Emulator, targets: list[dict]) -> dict[int, float]:
    """The warm runs again with no latency at all: what the suite's and the emulator's CPU
    alone take (both on this machine's cores). No run can be faster than this, nor than its
    critical path."""
    emu.set_latency(0)
    floors, cpu = {}, {}
    try:
        for n in sizes_of(args.sizes):
            config = SuiteConfig.model_validate({"targets": targets[:n]})
            runs = measure_warm(config, emu, args.concurrency, args.repeat)
            floors[n] = median(runs).wall_s
            cpu[n] = {k: statistics.median(r.cpu_s[k] for r in runs) for k in runs[0].cpu_s}
    finally:
        emu.set_latency(args.latency_ms)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    label = f"CPU alone: the suite's, moto's and the proxy's, {cores} cores"
    print(f"\nthe same warm runs at 0 ms latency ({label}):")
    print("  " + "  ".join(f"N={n}: {s * 1000:.0f} ms" for n, s in floors.items()))
    print("  CPU time per run, by process (ms, median; moto and proxy to 10 ms):")
    for n, by_process in cpu.items():
        print(f"    N={n}: " + "  ".join(f"{k} {v * 1000:.0f}" for k, v in by_process.items()))
    return floors


def quota_section(args: argparse.Namespace, emu: Emulator, targets: list[dict]) -> None:
    sizes = sizes_of(args.quota_sizes)
    if not sizes:
        return
    quota_bound.print_quota_table()
    runs = {}
    for n in sizes:
        config = SuiteConfig.model_validate({"targets": targets[:n]})
        runs[n] = quota_bound.quota_run(config, emu, args.concurrency)
        print(f"  N={n}: {runs[n].wall_s:.2f} s", flush=True)
    quota_bound.report(runs)
    if len(sizes) >= 2:
        small, large = sorted(sizes)[-2:]
        quota_bound.report_largest_n((small, runs[small]), (large, runs[large]))


def report_targets(
    args: argparse.Namespace, results: dict[tuple[str, int], Run], floors: dict[int, float]
) -> None:
    sizes = sizes_of(args.sizes)
    latency = args.latency_ms / 1000
    first, last = min(sizes), max(sizes)
    print("\ntargets (warm):")
    for n in (first, last):
        depth = results["warm", n].depth
        print(f"  longest chain at N={n} <= {TARGETS['chain']}: {depth} {verdict(depth <= 4)}")
    for n, limit in ((first, TARGETS["ratio_n1"]), (last, TARGETS["ratio_nmax"])):
        run = results["warm", n]
        crit = run.depth * latency
        ratio = run.wall_s / crit
        print(f"  wall/critical at N={n} <= {limit}: {ratio:.2f} {verdict(ratio <= limit)}")
        if floors.get(n, 0) > crit:
            print(
                f"    (CPU alone takes {floors[n] * 1000:.0f} ms > the {crit * 1000:.0f} ms "
                f"critical path: wall / max of the two = {run.wall_s / floors[n]:.2f})"
            )
    for n in (first, last):
        run = results["warm", n]
        calls = sum(v for op, v in run.by_operation.items() if op.split(":")[-1] in PLACEMENT_OPS)
        added = run.depth - run.depth_without_placement
        print(
            f"  placement analysis at N={n}: {calls / n:.2f} calls/target; links it adds to "
            f"the longest chain ({run.depth} with it, {run.depth_without_placement} without) "
            f"= 0: {added} {verdict(added == 0)}"
        )
    share = (results["warm", last].calls / last) / (results["warm", first].calls / first)
    limit = TARGETS["per_target_share"]
    print(
        f"  calls/target at N={last} <= {limit:.0%} of N={first}: {share:.0%} "
        f"{verdict(share <= limit)}"
    )


def report_imports(args: argparse.Namespace) -> None:
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
    print("  (reported, not a target: pydantic and the X-Ray tracer stay, paid once per container)")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.cold_run:
        return cold_run_child(args.cold_run, args.concurrency)
    print_header(args)
    emu = Emulator(args.latency_ms)
    try:
        with (
            tempfile.TemporaryDirectory(prefix="batch-health-bench-") as tmp,
            patched_environ(FAKE_ENV),
        ):
            # The latency-bound runs see a world of their largest size; it then grows to
            # the quota-bound runs' largest.
            world = WorldBuilder(emu.moto_url)
            count = max(sizes_of(args.sizes))
            targets = with_roles(args, build_targets(world, count, Path(tmp), args.distinct_roles))
            os.environ["AWS_ENDPOINT_URL"] = emu.proxy_url
            # Warm-up (not reported): lazy imports inside boto3/botocore happen once per
            # process; the cold import is measured separately below.
            settle(emu)
            config = SuiteConfig.model_validate({"targets": targets[:1]})
            run_once(config, emu, args.concurrency, calltrace.TracingSessions())
            results, walls = latency_bound(args, emu, targets, Path(tmp))
            report_latency(args, results, walls)
            floors = cpu_floor(args, emu, targets)
            more = max(sizes_of(args.quota_sizes), default=0)
            if more > count:
                built = build_targets(world, more, Path(tmp), args.distinct_roles, start=count)
                targets = with_roles(args, targets + built)
            quota_section(args, emu, targets)
    finally:
        emu.close()
    report_imports(args)
    report_targets(args, results, floors)
    return 0


if __name__ == "__main__":
    sys.exit(main())
