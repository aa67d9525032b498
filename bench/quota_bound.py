"""Runs bound by AWS's request-rate quotas, not by latency: how long N targets take when the
proxy throttles every API at its documented quota (quotas.py) and the monitor paces itself
(batch_health/aws/pacing.py), against the least time those quotas allow.

The quota lower bound of a run: for each API (each quota's bucket), the run's calls of it
divided by its quota; the largest. A run cannot be faster (bar the one second of burst each
bucket starts with), whatever its concurrency.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from pathlib import Path

import calltrace
import quotas
from measure import Run, run_once, settle
from world import Emulator

from batch_health.aws.pacing import PACE
from batch_health.config import SuiteConfig

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from support.cfn import deploy


def _monitor_function() -> dict:
    stack = deploy(parameters={"JobQueue": "video-queue", "JobDefinition": "video-jobdef"})
    return stack.resources["MonitorFunction"]["Properties"]


_MONITOR = _monitor_function()
TIMEOUT_S = float(_MONITOR["Timeout"])  # the monitor function's, as deployed
BUDGET_S = TIMEOUT_S / 2  # a run should fit in half of it
MEMORY_MB = int(_MONITOR["MemorySize"])
# "At 1,769 MB, a function has the equivalent of one vCPU (one vCPU-second of credits per
# second)": https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html
VCPU_MB = 1769


@dataclass(frozen=True)
class Bound:
    seconds: float
    quota: quotas.Quota | None
    calls: int


def calls_per_quota(run: Run) -> dict[quotas.Quota, int]:
    per: dict[quotas.Quota, int] = {}
    for api, n in run.by_operation.items():
        service, _, operation = api.partition(":")
        quota = quotas.BY_OPERATION.get((service, operation))
        if quota is not None:
            per[quota] = per.get(quota, 0) + n
    return per


def lower_bound(run: Run) -> Bound:
    per = calls_per_quota(run)
    if not per:
        return Bound(0.0, None, 0)
    quota = max(per, key=lambda q: per[q] / q.per_second)
    return Bound(per[quota] / quota.per_second, quota, per[quota])


def quota_run(config: SuiteConfig, emu: Emulator, concurrency: int) -> Run:
    """One run with fresh sessions (a new container's first invocation), every bucket full."""
    settle(emu)
    return run_once(config, emu, concurrency, calltrace.TracingSessions(), allow_fail=True)


@dataclass(frozen=True)
class Fit:
    targets: int
    quota: quotas.Quota
    per_target: float  # calls of the binding quota per further target
    fixed: float  # calls of it whatever the number of targets


def largest_n(small: tuple[int, Run], large: tuple[int, Run], rate_share: float = 1.0) -> Fit:
    """The most targets whose calls fit in BUDGET_S under every quota (times `rate_share`):
    each quota's calls measured at two sizes give its calls per target and its fixed calls
    (shared lookups: the caller identity, batched describes); the quota that admits the
    fewest targets binds."""
    (n1, r1), (n2, r2) = small, large
    c1, c2 = calls_per_quota(r1), calls_per_quota(r2)
    fits = []
    for quota in set(c1) | set(c2):
        per_target = (c2.get(quota, 0) - c1.get(quota, 0)) / (n2 - n1)
        fixed = c2.get(quota, 0) - per_target * n2
        if per_target > 0:
            n = math.floor((BUDGET_S * quota.per_second * rate_share - fixed) / per_target)
            fits.append(Fit(n, quota, per_target, fixed))
    return min(fits, key=lambda f: f.targets)


def print_quota_table() -> None:
    print("\nAWS request-rate quotas the proxy enforces (per account and Region; IAM: account):")
    for q in quotas.QUOTAS:
        note = f" ({q.note})" if q.note else ""
        print(f"  {q.name:<44}{q.per_second:>6g}/s{note}  {q.url}")


def report(runs: dict[int, Run]) -> None:
    print(
        f"\n{'N':>4} {'wall s':>8} {'bound s':>8} {'ratio':>6}  {'binding quota':<30}"
        f"{'calls':>6} {'paced':>6} {'throttled':>9} {'retries':>7}  statuses"
    )
    for n, run in runs.items():
        bound = lower_bound(run)
        name = bound.quota.name if bound.quota else "-"
        ratio = run.wall_s / bound.seconds if bound.seconds else float("nan")
        statuses = " ".join(f"{k}={v}" for k, v in sorted(run.statuses.items()))
        print(
            f"{n:>4} {run.wall_s:>8.2f} {bound.seconds:>8.2f} {ratio:>6.2f}  "
            f"{name + f' ({bound.calls})':<30}{run.calls:>6} {run.paced:>6} "
            f"{run.throttled:>9} {run.attempts - run.calls:>7}  {statuses}"
        )
    print(
        "  bound: for each quota, the run's calls of it / the quota; the largest (each bucket\n"
        "  starts full, so a short run may beat it). paced: requests the monitor held back for\n"
        f"  their quota (it paces at {PACE:.0%} of each); throttled: requests the proxy answered\n"
        "  with the service's throttling error; retries: botocore's retries (all causes)."
    )
    for n, run in runs.items():
        for line in run.surfaced[:5]:
            print(f"  N={n}: a throttle surfaced: {line}")


def report_largest_n(small: tuple[int, Run], large: tuple[int, Run]) -> None:
    at_quota = largest_n(small, large)
    paced = largest_n(small, large, PACE)
    print(
        f"\nlargest N in {BUDGET_S:g} s (half the monitor function's {TIMEOUT_S:g} s timeout), "
        f"from the calls measured at N={small[0]} and N={large[0]}:"
    )
    for label, fit in (("at the quotas", at_quota), (f"at the monitor's pace ({PACE:.0%})", paced)):
        rate = fit.quota.per_second * (PACE if fit is paced else 1.0)
        print(
            f"  {label}: N = {fit.targets}, bound by {fit.quota.name} "
            f"({fit.per_target:.2f} calls per target + {fit.fixed:.0f} fixed, at {rate:g}/s)"
        )
    (n1, r1), (n2, r2) = small, large
    cpu_per_target = (r2.cpu_s["suite"] - r1.cpu_s["suite"]) / (n2 - n1)
    cpu_fixed = r1.cpu_s["suite"] - n1 * cpu_per_target
    share = MEMORY_MB / VCPU_MB
    if cpu_per_target > 0:
        by_cpu = math.floor((BUDGET_S * share - cpu_fixed) / cpu_per_target)
        print(
            f"  the suite's CPU time at MemorySize {MEMORY_MB} ({share:.2f} of a vCPU): "
            f"N = {by_cpu} ({cpu_per_target * 1000:.1f} ms per target\n"
            f"  + {cpu_fixed * 1000:.0f} ms, measured on this machine's cores; "
            "AWS's may be faster or slower)"
        )
    print(
        "  (one configuration holds at most 200 targets: more need more deployments or\n"
        "  configurations, which share the same account quotas)"
    )
