"""`make bench`, the monthly bill of the default deployment at us-east-1 list prices, for N
targets, from what would be deployed and what a healthy run sends.

    python bench/cost.py             # the bill for 1 target, each further target, 20 targets,
                                     # and what a busy queue's depth gauges add
    python bench/cost.py --markdown  # the table in README.md's "## Costs"

Counted: the stack CreateStack would create (tests/support/cfn.py, default parameters plus
JobQueue/JobDefinition): alarms by kind, KMS keys, dashboards, MemorySize, tracing, the
schedules, the smoke mode, the events queue's event source; and the metric series a healthy
run sends, by the real emit functions (runtime/metrics.py) on a healthy report of every
registered check in the steady state (the suite run, the smoke run, the smoke job's verdict
from its event), whose EMF lines are also logged. Assumed: the named constants below, with
what they rest on. Free tiers are left out (an account shares them).

The queue-depth gauges (QueueDepth per Target and Status, OldestRunnableAgeSeconds and
OldestStartingAgeSeconds per Target) are sent only while above 0: the healthy month's
queues are idle, and send none. A busy target's queue (`busy`: jobs in all five statuses)
sends 5 + 2 metrics each run, each billed as a custom metric (one per unique name and
dimensions) for every hour it has data; `queue_depth_cost` is what that adds.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from support.cfn import deploy

from batch_health.checks import REGISTRY
from batch_health.domain.queue_depth import QUEUE_DEPTH_STATUSES, queue_depth
from batch_health.limits import METRICS_INSIGHTS_ALARMS_PER_REGION
from batch_health.models import CheckResult, Report, Status, SuiteReport, utc_now
from batch_health.runtime.metrics import (
    QUEUE_DEPTH_CHECK,
    emit_check_metrics,
    emit_suite_metrics,
    emit_suite_run,
)

CW = "https://aws.amazon.com/cloudwatch/pricing/"
CW_RULES = "https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch_billing.html"
LAMBDA = "https://aws.amazon.com/lambda/pricing/"
DYNAMODB = "https://aws.amazon.com/dynamodb/pricing/on-demand/"
KMS = "https://aws.amazon.com/kms/pricing/"
SQS = "https://aws.amazon.com/sqs/pricing/"
XRAY = "https://aws.amazon.com/xray/pricing/"
SCHEDULER = "https://aws.amazon.com/eventbridge/pricing/"


class Price(NamedTuple):
    usd: float
    unit: str
    url: str
    rule: str


# What each price is per, the page it is from, and the rule relied on. CloudWatch's rules are
# on CW_RULES: custom metrics "are prorated by the hour. They're metered only when they're
# sent to CloudWatch"; a metric alarm costs one alarm metric per metric it references; "a
# Metric Insights query alarm ... costs are based on the number of metrics analyzed by the
# query". KMS: "Each AWS KMS key that you create in AWS KMS costs $1/month (prorated hourly)."
PRICES = {
    "metric": Price(0.30, "metric-month", CW, "prorated hourly, metered only when data is sent"),
    "alarm": Price(0.10, "alarm metric-month", CW, "standard resolution, prorated hourly"),
    "insights_alarm": Price(0.10, "metric analyzed-month", CW, "per metric the query analyzes"),
    "dashboard": Price(3.00, "dashboard-month", CW, "beyond the account's first 3 (free)"),
    "kms_key": Price(1.00, "key-month", KMS, "customer managed key, prorated hourly"),
    "gb_s": Price(0.0000166667, "GB-second", LAMBDA, "x86, duration x MemorySize, per ms"),
    "invocation": Price(0.20 / 1e6, "request", LAMBDA, "$0.20 per 1M requests"),
    "sqs": Price(0.40 / 1e6, "request", SQS, "$0.40 per 1M; an empty long poll is a request"),
    "trace": Price(5.00 / 1e6, "trace recorded", XRAY, "$5.00 per 1M, after 100,000 free"),
    "logs_gb": Price(0.50, "GB ingested", CW, "Logs ingestion, EMF lines included"),
    "write": Price(0.625 / 1e6, "write request unit", DYNAMODB, "on-demand, item up to 1 KB"),
    "read": Price(0.125 / 1e6, "read request unit", DYNAMODB, "on-demand, consistent, up to 4 KB"),
    "schedule": Price(1.00 / 1e6, "invocation", SCHEDULER, "Scheduler, after 14M free"),
}
# Automatic rotation (the key's EnableKeyRotation, every RotationPeriodInDays, 365 unless
# set): "each newly generated backing key costs an additional $1/month (prorated hourly)",
# charged for the first and second rotation only (KMS page).
KMS_ROTATION_USD = 1.00
KMS_CHARGED_ROTATIONS = 2


def kms_rotations(key: dict[str, Any], year: int) -> int:
    """Charged rotations of the key's material by the deployment's `year`."""
    if not key.get("EnableKeyRotation", False):
        return 0
    period = int(key.get("RotationPeriodInDays", 365))
    return min(KMS_CHARGED_ROTATIONS, (year - 1) * 365 // period)


HOURS = 720  # a 30-day month, as AWS's pricing examples count
# `make bench` (50 ms per request, 2 cores): a warm suite run takes 0.18-0.19 s for 1 target
# (0.26 s in a new process) and 0.33-0.43 s for 20; the suite's own CPU time is 32 ms for 1
# target and 12 ms for each further one (bench/run.py, "CPU time per run, by process").
# First target: 1 s, for a new container's imports and clients (AWS bills the init phase
# too) and real AWS latency. Each further target: its CPU time at MemorySize 512, which
# gets 512/1769 of a vCPU ("at 1,769 MB, a function has the equivalent of one vCPU",
# https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html):
# `make bench` measures 0.063 s of CPU a target, x 1769 / 512 = 0.218 s, rounded up (more
# than its seven ListJobs take at the monitor's 45/s: 0.16 s).
SUITE_SECONDS_FIRST_TARGET = 1.0
SUITE_SECONDS_PER_FURTHER_TARGET = 0.25
SMOKE_SUBMIT_SECONDS = 1.0  # SMOKE_RESULT=event: list earlier smoke jobs, submit, end
SMOKE_WAIT_SECONDS = 60.0  # SMOKE_RESULT=wait: polling the job until it runs
# Each smoke job's RUNNING and SUCCEEDED events reach the events function minutes apart
# (two invocations); each reads SMOKE_SUBMIT_CHECK's incident and the target's index.
SMOKE_EVENTS_PER_JOB = 2
EVENT_INVOCATION_SECONDS = 0.5
EVENT_READS = 2
# Logged per invocation besides the EMF lines (tests/unit/stack/test_cost.py measures a
# healthy run through the handler: "run starting" 0.6 KB, "target checked" 2.8 KB per
# target): Lambda's START/END/REPORT lines and "run starting"; per target of a suite run;
# per target of a smoke run (one check); per events-function invocation.
LOG_BYTES_PER_RUN = 1_200
LOG_BYTES_PER_TARGET = 4_000
LOG_BYTES_PER_SMOKE_TARGET = 1_000
LOG_BYTES_PER_EVENT_INVOCATION = 1_500
# DynamoDB per run: the lease (PutItem, DeleteItem); per target: the failing checks and
# the open incidents from events (BatchGetItem each), and a GetItem per critical check that
# looked. Nothing is written while a target's failing checks stay the same.
LEASE_WRITES = 2
READS_PER_TARGET = 2
# Lambda long-polls the queue (20 s, SQS's longest wait) with 5 pollers while it is idle,
# or as few as 2, an optimization "not available when you enable the maximum concurrency
# setting" (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html).
LONG_POLLS_PER_MINUTE = 3
POLLERS = 5
POLLERS_WITHOUT_MAXIMUM_CONCURRENCY = 2
PARAMETERS = {"JobQueue": "video-queue", "JobDefinition": "video-jobdef"}
SMOKE = "SMOKE_SUBMIT_CHECK"
QUEUE_READ_CAP = 100  # any cap: a busy queue's listings here stay under it

Series = tuple[str, str, frozenset[tuple[str, str]]]  # namespace, metric, dimensions


def runs_per_month(expression: str) -> int:
    match = re.fullmatch(r"rate\((\d+) (minutes?|hours?|days?)\)", expression)
    assert match, expression
    minutes = int(match[1]) * {"m": 1, "h": 60, "d": 1440}[match[2][0]]
    return HOURS * 60 // minutes


def emitted(emit: Callable[[], object]) -> tuple[set[Series], int]:
    """The metric series `emit` prints as EMF, and the bytes of its lines."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        emit()
    found = set()
    for line in out.getvalue().splitlines():
        doc = json.loads(line)
        for directive in doc["_aws"]["CloudWatchMetrics"]:
            dims = frozenset((d, doc[d]) for d in directive["Dimensions"][0])
            found |= {(directive["Namespace"], m["Name"], dims) for m in directive["Metrics"]}
    return found, len(out.getvalue().encode())


def queue_data(busy: bool) -> dict[str, Any]:
    """RUNNABLE_BACKLOG_CHECK's queue depth: an idle queue, or (`busy`) one job in every
    status, each waiting a minute (ListJobs' JobSummary fields, epoch milliseconds:
    https://docs.aws.amazon.com/batch/latest/APIReference/API_JobSummary.html)."""
    now_ms = int(utc_now().timestamp() * 1000)
    jobs: dict[str, list[Any]] = {
        s: [{"jobId": f"{s.lower()}-1", "createdAt": now_ms - 60_000, "status": s}] if busy else []
        for s in QUEUE_DEPTH_STATUSES
    }
    return queue_depth(jobs, now_ms, QUEUE_READ_CAP).to_data()


def healthy_suite(targets: int, smoke_run: bool = False, busy: bool = False) -> SuiteReport:
    """Every registered check passes. A suite run SKIPs the smoke check (it may not submit);
    the smoke run runs only that, and hands the first target's verdict to the job's event.
    Each target's queue is idle, or `busy` (a job in every status)."""
    now, reports = utc_now(), []
    for i in range(targets):
        handed = {"result_from": "event"} if smoke_run and i == 0 else {}
        names = [] if smoke_run else [c.name for c in REGISTRY if c.name != SMOKE]
        checks = [
            CheckResult(
                name,
                Status.OK,
                data=queue_data(busy) if name == QUEUE_DEPTH_CHECK else {},
                duration_ms=40,
            )
            for name in names
        ]
        checks.append(CheckResult(SMOKE, Status.SKIP, data=handed))
        reports.append(Report(f"target-{i:02d}", "us-east-1", checks, [], now, now))
    return SuiteReport(reports, now, now)


def run_series(suite: SuiteReport, namespace: str, durations: bool) -> tuple[set[Series], int]:
    """What one run sends in the steady state (its targets failed nothing last time)."""

    def emit() -> None:
        emit_suite_run(namespace)
        previous = {r.target: frozenset[str]() for r in suite.reports}
        emit_suite_metrics(
            suite, namespace=namespace, publish_durations=durations, previous=previous
        )

    return emitted(emit)


def query_matches(query: str, series: Series) -> bool:
    """Whether a Metrics Insights query (SELECT F(metric) FROM "ns" [WHERE "k" = 'v' AND ...])
    analyzes `series`."""
    head = re.match(r'SELECT\s+\w+\((\w+)\)\s+FROM\s+"?([^"\s]+)"?', query)
    assert head, query
    where = dict(re.findall(r"\"(\w+)\"\s*=\s*'([^']*)'", query))
    namespace, metric, dims = series
    return (metric, namespace) == head.groups() and where.items() <= dict(dims).items()


@dataclass
class Usage:
    """A month of the deployed stack with `targets` healthy targets."""

    targets: int
    resources: dict[str, dict[str, Any]]
    year: int = 1  # of the deployment: the KMS key's rotations add to it
    hours: dict[Series, float] = field(default_factory=dict)  # hours with data, each series
    emf_bytes: float = 0.0
    suite_runs: int = 0
    smoke_runs: int = 0
    event_invocations: int = 0

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [r["Properties"] for r in self.resources.values() if r["Type"] == kind]

    def env(self) -> dict[str, str]:
        return self.resources["MonitorFunction"]["Properties"]["Environment"]["Variables"]

    def memory_gb(self, function: str) -> float:
        return self.resources[function]["Properties"]["MemorySize"] / 1024

    @property
    def events(self) -> bool:
        return "BatchEventsFunction" in self.resources

    def sent(self, found: set[Series], size: int, times: int) -> None:
        """`times` sends a month of what one send holds (`found`, `size` bytes)."""
        self.emf_bytes += times * size
        for series in found:
            self.hours[series] = max(self.hours.get(series, 0), min(HOURS, times))


def usage(
    targets: int, overrides: dict[str, str] | None = None, year: int = 1, busy: bool = False
) -> Usage:
    stack = deploy(parameters={**PARAMETERS, **(overrides or {})}, region="us-east-1")
    u = Usage(targets, stack.resources, year)
    for props in u.of_type("AWS::Scheduler::Schedule"):
        if props.get("State", "ENABLED") == "ENABLED":
            runs = runs_per_month(props["ScheduleExpression"])
            if json.loads(props["Target"]["Input"]).get("allow_test_submit"):
                u.smoke_runs += runs
            else:
                u.suite_runs += runs
    env = u.env()
    namespace, durations = env["POWERTOOLS_METRICS_NAMESPACE"], env["PUBLISH_DURATION_METRICS"]
    suite = healthy_suite(targets, busy=busy)
    u.sent(*run_series(suite, namespace, durations == "true"), u.suite_runs)
    u.sent(*run_series(healthy_suite(targets, True), namespace, durations == "true"), u.smoke_runs)
    if env["SMOKE_RESULT"] == "event" and u.events:
        # The smoke job's verdict, as runtime/smoke_events.py sends it: with the target's
        # failing-checks state, so a smoke job that starts, as the last one did, sends nothing.
        ok = CheckResult(SMOKE, Status.OK, "smoke job reached RUNNING")
        verdict = emitted(
            lambda: emit_check_metrics("target-00", ok, namespace=namespace, was_failing=False)
        )
        u.sent(*verdict, u.smoke_runs)
        u.event_invocations = u.smoke_runs * SMOKE_EVENTS_PER_JOB
    return u


class Bill(list[tuple[str, str, float]]):
    """(item, arithmetic, USD) lines of a month with `targets` targets."""

    def __init__(self, targets: int) -> None:
        super().__init__()
        self.targets = targets

    @property
    def total(self) -> float:
        return sum(usd for _, _, usd in self)

    def add(self, item: str, arithmetic: str, usd: float) -> None:
        self.append((item, arithmetic, usd))


def n(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 or value == int(value) else f"{value:,.3g}"


def cloudwatch(u: Usage, bill: Bill) -> None:
    keys = len(u.of_type("AWS::KMS::Key"))
    extra = KMS_ROTATION_USD * sum(kms_rotations(k, u.year) for k in u.of_type("AWS::KMS::Key"))
    what = f"{keys} x $1.00" + (f" + rotated key material ${extra:.2f}" if extra else "")
    bill.add("KMS key (the alert topic's)", what, keys * PRICES["kms_key"].usd + extra)
    standard: list[dict[str, Any]] = []
    queries: list[str] = []
    for alarm in u.of_type("AWS::CloudWatch::Alarm"):
        found = [m["Expression"] for m in alarm.get("Metrics", []) if "Expression" in m]
        selects = [q for q in found if q.lstrip().upper().startswith("SELECT")]
        queries += selects[:1]
        if not selects:
            standard.append(alarm)
    metrics = sum(len(a.get("Metrics", [])) or 1 for a in standard)
    bill.add("standard alarms", f"{metrics} x $0.10", metrics * PRICES["alarm"].usd)
    analyzed = sum(h for q in queries for s, h in u.hours.items() if query_matches(q, s)) / HOURS
    metrics = "metric" if analyzed == 1 else "metrics"
    what = f"{len(queries)} alarms analyzing {n(analyzed)} {metrics} x $0.10"
    bill.add("Metrics Insights alarms", what, analyzed * PRICES["insights_alarm"].usd)
    months = sum(u.hours.values()) / HOURS
    names = " + ".join(sorted({s[1] for s in u.hours}))
    bill.add("custom metrics", f"{n(months)} ({names}) x $0.30", months * PRICES["metric"].usd)
    dashboards = len(u.of_type("AWS::CloudWatch::Dashboard"))
    bill.add("dashboard", f"{dashboards} x $3.00", dashboards * PRICES["dashboard"].usd)


def compute(u: Usage, bill: Bill) -> None:
    gb = u.memory_gb("MonitorFunction")
    suite_s = SUITE_SECONDS_FIRST_TARGET + (u.targets - 1) * SUITE_SECONDS_PER_FURTHER_TARGET
    smoke_s = SMOKE_SUBMIT_SECONDS if u.env()["SMOKE_RESULT"] == "event" else SMOKE_WAIT_SECONDS
    event_gb = u.memory_gb("BatchEventsFunction") if u.events else 0
    gb_s = (u.suite_runs * suite_s + u.smoke_runs * smoke_s) * gb + (
        u.event_invocations * EVENT_INVOCATION_SECONDS * event_gb
    )
    what = (
        f"({n(u.suite_runs)} x {suite_s:g} s + {n(u.smoke_runs)} x {smoke_s:g} s) x {gb:g} GB"
        f" + {n(u.event_invocations)} events x {EVENT_INVOCATION_SECONDS:g} s x {event_gb:g} GB"
    )
    bill.add(
        "Lambda compute", f"{what} = {n(gb_s)} GB-s x $0.0000166667", gb_s * PRICES["gb_s"].usd
    )
    calls = u.suite_runs + u.smoke_runs + u.event_invocations
    bill.add("Lambda requests", f"{n(calls)} x $0.20/1M", calls * PRICES["invocation"].usd)
    # Every invocation is a trace: X-Ray's default sampling rule records the first request
    # each second, and these functions run a few times an hour.
    modes = {f.get("TracingConfig", {}).get("Mode") for f in u.of_type("AWS::Lambda::Function")}
    traces = calls if "Active" in modes else 0
    bill.add("X-Ray traces", f"{n(traces)} x $5.00/1M", traces * PRICES["trace"].usd)


def queues_and_logs(u: Usage, bill: Bill) -> None:
    for source in u.of_type("AWS::Lambda::EventSourceMapping"):
        limited = "MaximumConcurrency" in source.get("ScalingConfig", {})
        pollers = POLLERS if limited else POLLERS_WITHOUT_MAXIMUM_CONCURRENCY
        polls = pollers * LONG_POLLS_PER_MINUTE * HOURS * 60
        handled = 2 * u.event_invocations  # EventBridge's SendMessage, Lambda's delete
        what = f"{pollers} pollers x {LONG_POLLS_PER_MINUTE} long polls/min x {n(HOURS * 60)} min"
        what += f" + {n(handled)} = {n(polls + handled)} x $0.40/1M"
        bill.add("SQS (the events queue)", what, (polls + handled) * PRICES["sqs"].usd)
    logged = u.emf_bytes + (
        (u.suite_runs + u.smoke_runs) * LOG_BYTES_PER_RUN
        + u.suite_runs * u.targets * LOG_BYTES_PER_TARGET
        + u.smoke_runs * u.targets * LOG_BYTES_PER_SMOKE_TARGET
        + u.event_invocations * LOG_BYTES_PER_EVENT_INVOCATION
    )
    what = f"{n(logged / 1e6)} MB x $0.50/GB"
    bill.add("CloudWatch Logs ingestion", what, logged / 1e9 * PRICES["logs_gb"].usd)


def state_and_schedules(u: Usage, bill: Bill) -> None:
    critical = set(u.env()["CRITICAL_CHECKS"].split(","))
    looked = [c for c in healthy_suite(1).reports[0].checks if c.status is not Status.SKIP]
    suite_reads = READS_PER_TARGET + sum(c.name in critical for c in looked)
    runs = u.suite_runs + u.smoke_runs
    writes = runs * LEASE_WRITES
    reads = (
        u.suite_runs * u.targets * suite_reads
        + u.smoke_runs * u.targets * READS_PER_TARGET
        + u.event_invocations * EVENT_READS
    )
    what = f"{n(writes)} writes x $0.625/1M + {n(reads)} reads x $0.125/1M"
    bill.add("DynamoDB", what, writes * PRICES["write"].usd + reads * PRICES["read"].usd)
    bill.add("EventBridge Scheduler", f"{n(runs)} x $1.00/1M", runs * PRICES["schedule"].usd)


def monthly_bill(
    targets: int, overrides: dict[str, str] | None = None, year: int = 1, busy: bool = False
) -> Bill:
    """A month of `targets` healthy targets (`overrides`: template parameters) in the
    deployment's `year`; `busy`: every target's queue holds a job in every status."""
    u = usage(targets, overrides, year, busy)
    bill = Bill(targets)
    for part in (cloudwatch, compute, queues_and_logs, state_and_schedules):
        part(u, bill)
    return bill


def failing_check_cost(hours: float) -> float:
    """What one check failing for `hours` adds: its CheckFailed and its target's FailedChecks
    sent each of those hours plus the recovery's, and its alarm analyzing CheckFailed."""
    return (hours + 1) * (2 * PRICES["metric"].usd + PRICES["insights_alarm"].usd) / HOURS


def queue_depth_series(namespace: str = "BatchHealth") -> set[Series]:
    """The queue-depth gauges one busy target sends each run (a job in every status)."""
    found, _ = run_series(healthy_suite(1, busy=True), namespace, False)
    return {s for s in found if s[1] != "SuiteRun"}


def queue_depth_cost(hours: float) -> float:
    """What one target's queue holding a job in every status for `hours` adds: its
    QueueDepth per status and its two oldest-age gauges, each a custom metric billed for
    each of those hours (the EMF lines' log bytes left out: a few cents a month)."""
    return len(queue_depth_series()) * min(hours, HOURS) * PRICES["metric"].usd / HOURS


def usd(value: float) -> str:
    return f"{value:.2f}" if value >= 0.005 or value == 0 else f"{value:.3f}"


def bills(overrides: dict[str, str] | None = None, many: int = 20) -> tuple[Bill, Bill, Bill]:
    """1 target, 2 (the difference is each further target's), `many`."""
    return monthly_bill(1, overrides), monthly_bill(2, overrides), monthly_bill(many, overrides)


def render_markdown(one: Bill, two: Bill, many: Bill) -> str:
    rows = [
        "| item | arithmetic, 1 target | 1 target | each further target |",
        "|---|---|---:|---:|",
    ]
    for (item, arithmetic, a), (_, _, b) in zip(one, two, strict=True):
        rows.append(f"| {item} | {arithmetic} | {usd(a)} | {usd(b - a)} |")
    delta = two.total - one.total
    rows.append(f"| **total** | | **{usd(one.total)}** | **{usd(delta)}** |")
    rows.append(
        f"| **{many.targets} targets** | {usd(one.total)} + {many.targets - 1} x {delta:.3f}"
        f" | **{usd(many.total)}** | |"
    )
    return "\n".join(rows)


def stacks_per_region() -> tuple[int, int]:
    """(the stack's Metrics Insights alarms, how many such stacks one account and Region
    holds at CloudWatch's default quota)."""
    insights = [
        a
        for a in usage(1).of_type("AWS::CloudWatch::Alarm")
        if any(
            str(m.get("Expression", "")).lstrip().upper().startswith("SELECT")
            for m in a.get("Metrics", [])
        )
    ]
    return len(insights), METRICS_INSIGHTS_ALARMS_PER_REGION // len(insights)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markdown", action="store_true", help="print README.md's table")
    args = parser.parse_args(argv)
    logging.getLogger("samtranslator").setLevel(logging.ERROR)
    one, two, many = bills()
    if args.markdown:
        print(render_markdown(one, two, many))
        return 0
    print("Monthly, us-east-1 list prices, default deployment, free tiers left out:\n")
    print(render_markdown(one, two, many))
    print(f"\nA check failing for a day adds ${failing_check_cost(24):.3f}.")
    per_stack, fit = stacks_per_region()
    print(
        f"Each stack has {per_stack} Metrics Insights alarms; an account and Region holds "
        f"{METRICS_INSIGHTS_ALARMS_PER_REGION}: {fit} stacks fit (alarm-limits.html)."
    )
    gauges = len(queue_depth_series())
    print(
        f"A target whose queue holds jobs in every status adds ${queue_depth_cost(24):.3f} a"
        f" day, ${queue_depth_cost(HOURS):.2f} a month ({gauges} queue-depth gauges)."
    )
    [key] = usage(1).of_type("AWS::KMS::Key")
    days = int(key.get("RotationPeriodInDays", 365))
    rotated_year = 1 + -(-days // 365)  # the first year that begins after a rotation
    later = monthly_bill(1, year=rotated_year).total
    print(f"1 target once the key has rotated (after {days} days): ${later:.2f}\n\nPrices:")
    print("\n".join(f"  ${p.usd:.10g} per {p.unit}: {p.rule}. {p.url}" for p in PRICES.values()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
