"""Runs the check suite: concurrent, dependency-aware, crash-isolated, time-bounded.

A run should cost about its longest chain of dependent AWS calls, not their sum:

- At the start every target's `needs` (and `speculative_needs`) are prefetched, need by
  need across the targets, so what the checks will read is asked for at once. Data more
  checks wait for (directly or through their dependencies) is asked for first: the caller
  identity that gates every check before the job queue, before the job definitions, before
  the job lists. Targets are taken in waves of WAVE_TARGETS: when API quotas pace the calls
  (aws/pacing.py), every API has a wave's calls waiting for it, not one API all threads.
- A prefetch never waits for data another task is fetching: it hands its thread back and is
  resumed when that data is in (`inventory.Pending`).
- A check starts once its dependencies are done and its `needs` are in, so it seldom waits;
  when it does, it gives up its work slot meanwhile. It does not wait for its
  `speculative_needs`: reads made ahead in case it needs them.
- At most `RunOptions.concurrency` tasks work at a time; tasks waiting for data do not count,
  nor do tasks waiting for AWS to answer or for their API's quota: the threads bound the
  requests in flight, the pacer their rate. Resumed prefetches and released checks go before
  work queued at the start: they are further along a chain of calls.
"""

from __future__ import annotations

import logging
import queue
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial

from batch_health.aws.concurrency import Pending, PriorityPool, prefetching
from batch_health.aws.errors import AWS_ERRORS, classify
from batch_health.aws.inventory import Inventory, TargetView
from batch_health.aws.sessions import AwsSessions, ClientKey
from batch_health.checks import REGISTRY, Check, CheckContext, RunOptions
from batch_health.checks.base import CheckFinished
from batch_health.config import SuiteConfig, Target
from batch_health.domain.sources import ssm_parameter_names
from batch_health.hints import root_cause_hints
from batch_health.models import CheckResult, Report, Status, SuiteReport, utc_now

logger = logging.getLogger(__name__)

BUDGET_EXHAUSTED = "time budget exhausted"
BLOCKING = (Status.FAIL, Status.SKIP)
# Do not start a check with less time than this left: it could not finish.
MIN_START_S = 0.5
# Task classes, most urgent first: work further along a chain of calls, then what the run
# queued at its start. Within a class, what more checks wait for goes first.
URGENT, AT_START = 0, 1
Priority = tuple[int, int, int, int]  # (class, wave, -weight, position in the registry)
# Threads beyond the work slots, per target, for tasks waiting for shared data or for AWS.
WAITING_THREADS_PER_TARGET = 2
MAX_THREADS = 256
# Targets per wave: enough that a few dozen start every chain at once, few enough that,
# paced by the quotas, every API always has calls of some wave waiting for it.
WAVE_TARGETS = 20
# Clients made ahead, in this order: batch first (the job definition, read with it, starts
# the longest chains: it names the roles read with iam and the log group read with logs),
# sts next (every check waits for AWS_ACCESS), then iam and logs; others in name order.
CLIENT_ORDER = ("batch", "sts", "iam", "logs")


@dataclass
class _TargetRun:
    target: Target
    view: TargetView
    pending: list[Check]
    results: dict[str, CheckResult] = field(default_factory=dict)
    prefetched: dict[str, bool] = field(default_factory=dict)
    wave: int = 0


def prefetched_needs(check: Check) -> tuple[str, ...]:
    """What the engine reads ahead for `check`: its needs, then its speculative ones."""
    return (*check.needs, *getattr(check, "speculative_needs", ()))


def run_check(check: Check, ctx: CheckContext) -> CheckResult:
    """Run one check; any exception becomes a FAIL naming it, never a crash of the suite."""
    started = time.perf_counter()
    try:
        result = check.run(ctx)
    except CheckFinished as finished:
        result = finished.result
    except AWS_ERRORS as exc:
        failure = classify(exc)
        result = CheckResult(
            check.name,
            Status.FAIL,
            f"AWS {failure.summary}",
            [failure.hint()],
            {"error_kind": failure.kind.value, "error_code": failure.code},
        )
    except Exception as exc:
        logger.exception("check %s crashed", check.name)
        result = CheckResult(
            check.name,
            Status.FAIL,
            f"check crashed: {type(exc).__name__}: {exc}",
            [
                "This is a bug in the check or an AWS answer it did not expect; "
                "the run log has the traceback"
            ],
            {"error_kind": "crash", "error_type": type(exc).__name__},
        )
    result.name = check.name
    result.duration_ms = int((time.perf_counter() - started) * 1000)
    return result


def select_checks(names: Sequence[str] | None, registry: Sequence[Check] = REGISTRY) -> list[Check]:
    if names is None:
        return list(registry)
    wanted = set(names)
    return [c for c in registry if c.name in wanted]


def check_weights(selected: Sequence[Check]) -> dict[str, int]:
    """1 + how many selected checks depend on each check, directly or through others."""
    dependents: dict[str, set[str]] = {c.name: set() for c in selected}
    changed = True
    while changed:  # a transitive closure over a dozen checks
        changed = False
        for check in selected:
            for dep in check.depends_on:
                if dep in dependents:
                    grown = dependents[dep] | {check.name} | dependents[check.name]
                    if grown != dependents[dep]:
                        dependents[dep], changed = grown, True
    return {name: 1 + len(names) for name, names in dependents.items()}


def clients_ahead(selected: Sequence[Check], runs: Sequence[_TargetRun]) -> list[ClientKey]:
    """The clients the selected checks will call for the targets, in CLIENT_ORDER."""
    wanted = {
        run.view.client_key(service)
        for run in runs
        for check in selected
        for service in check.services_for(run.target)
    }

    def order(key: ClientKey) -> tuple[int, str, str]:
        rank = CLIENT_ORDER.index(key.service) if key.service in CLIENT_ORDER else len(CLIENT_ORDER)
        return rank, key.service, repr(key)

    return sorted(wanted, key=order)


def run_suite(
    config: SuiteConfig,
    options: RunOptions,
    sessions: AwsSessions | None = None,
    registry: Sequence[Check] = REGISTRY,
) -> SuiteReport:
    """Run the selected checks against every target; one target's failure never stops others."""
    return SuiteRun(config, options, sessions or AwsSessions(), registry).run()


class SuiteRun:
    """One run of the suite: its targets' state, the scheduler, and the loop that starts
    each check once its dependencies are done and its data is in."""

    def __init__(
        self,
        config: SuiteConfig,
        options: RunOptions,
        sessions: AwsSessions,
        registry: Sequence[Check],
    ) -> None:
        self.config, self.options, self.sessions = config, options, sessions
        self.started, t0 = utc_now(), time.monotonic()
        self.deadline = None if options.time_budget_s is None else t0 + options.time_budget_s
        self.selected = select_checks(options.checks, registry)
        self.selected_names = {c.name for c in self.selected}
        self.weights = check_weights(self.selected)
        self.position = {c.name: i for i, c in enumerate(self.selected)}
        self.need_priority = need_priorities(self.selected, self.weights, self.position)
        # A target the deployment may not read (its region) is not touched at all.
        scope = options.scope
        self.outside = {
            t.name: problem
            for t in config.targets
            if scope and (problem := scope.region_problem(t, sessions.region_for(t.region)))
        }
        targets = [t for t in config.targets if t.name not in self.outside]
        inventory = Inventory(sessions, scope, queue_depth=options.queue_depth)
        inventory.register(targets, self.readable_ssm_names)
        self.runs = [
            _TargetRun(t, inventory.view(t), list(self.selected), wave=i // WAVE_TARGETS)
            for i, t in enumerate(targets)
        ]
        # Tasks report here; only the thread in `run` changes the runs' state.
        self.done: queue.SimpleQueue[tuple[_TargetRun, str, CheckResult | None]] = (
            queue.SimpleQueue()
        )
        self.running = 0
        concurrency = max(1, options.concurrency)
        threads = min(MAX_THREADS, concurrency + WAITING_THREADS_PER_TARGET * len(self.runs))
        self.scheduler = PriorityPool(concurrency, threads, thread_name_prefix="check")

    def readable_ssm_names(self, target: Target) -> list[str]:
        # A name outside the deployment's scope would make the whole batched GetParameters
        # call fail; CONFIG_MATCH_* reports it instead.
        scope = self.options.scope
        names = ssm_parameter_names(target.config_sources)
        return [n for n in names if scope is None or scope.ssm_read_problem(target, n) is None]

    def out_of_time(self) -> bool:
        return self.deadline is not None and time.monotonic() > self.deadline - MIN_START_S

    # --- the tasks -------------------------------------------------------------------
    def prefetch(self, run: _TargetRun, need: str) -> None:
        finished = True
        try:
            with prefetching():
                getattr(run.view, need)()
        except Pending as wait_for:
            finished = False
            wait_for.future.add_done_callback(lambda _: self.resume(run, need))
        except Exception:
            # Cached by the inventory (errors too) and reported by the check that reads it.
            logger.debug("prefetch %s for %s failed", need, run.target.name, exc_info=True)
        finally:
            if finished:
                self.done.put((run, need, None))

    def resume(self, run: _TargetRun, need: str) -> None:
        if self.out_of_time():
            self.done.put((run, need, None))  # its checks are skipped or fetch for themselves
        else:
            priority: Priority = (URGENT, run.wave, *self.need_priority[need])
            self.scheduler.submit(priority, lambda: self.prefetch(run, need))

    def check_task(self, run: _TargetRun, check: Check, ctx: CheckContext) -> None:
        result = CheckResult(check.name, Status.SKIP, BUDGET_EXHAUSTED)
        try:
            # Checked again here: a check may have waited for a work slot.
            if not self.out_of_time():
                result = run_check(check, ctx)
        finally:
            self.done.put((run, check.name, result))

    # --- starting checks ---------------------------------------------------------------
    def start_ready(self, task_class: int, candidates: Sequence[_TargetRun]) -> None:
        """Start, or skip, every check of `candidates` whose dependencies are done."""
        for run in candidates:
            progress = True
            while progress:
                progress = False
                for check in list(run.pending):
                    if self.settle(run, check, task_class):
                        run.pending.remove(check)
                        progress = True

    def settle(self, run: _TargetRun, check: Check, task_class: int) -> bool:
        """Start or skip `check`; False when it must wait (a dependency, or its data)."""
        deps = [d for d in check.depends_on if d in self.selected_names]
        if any(d not in run.results for d in deps):
            return False
        blocker = next((run.results[d] for d in deps if run.results[d].status in BLOCKING), None)
        if blocker is not None:
            run.results[check.name] = CheckResult(
                check.name, Status.SKIP, f"{blocker.name} is {blocker.status}: {blocker.detail}"
            )
        elif self.out_of_time():
            run.results[check.name] = CheckResult(check.name, Status.SKIP, BUDGET_EXHAUSTED)
        elif not all(run.prefetched.get(n, True) for n in check.needs):
            return False  # started when its data is in
        else:
            ctx = CheckContext(run.target, run.view, self.options, self.deadline, dict(run.results))
            priority: Priority = (
                task_class,
                run.wave,
                -self.weights[check.name],
                self.position[check.name],
            )
            self.scheduler.submit(priority, lambda: self.check_task(run, check, ctx))
            self.running += 1
        return True

    # --- the loop ------------------------------------------------------------------------
    def run(self) -> SuiteReport:
        self.sessions.prepare(clients_ahead(self.selected, self.runs))
        try:
            for need, key in self.need_priority.items():
                for run in self.runs:
                    run.prefetched[need] = False
                    priority: Priority = (AT_START, run.wave, *key)
                    self.scheduler.submit(priority, partial(self.prefetch, run, need))
            self.start_ready(AT_START, self.runs)
            while self.running or any(run.pending for run in self.runs):
                self.wait_for_one()
        finally:
            # Without a budget, let fetches still in flight finish, so nothing calls AWS after
            # the run has returned; with one, return now.
            self.scheduler.close(wait=self.deadline is None)
        return self.report()

    def wait_for_one(self) -> None:
        """Take one finished task's result (or wake when time runs out) and start what it
        unblocked."""
        timeout = None
        if self.deadline is not None and not self.out_of_time():
            timeout = self.deadline - MIN_START_S - time.monotonic()
        try:
            run, name, result = self.done.get(timeout=timeout)
        except queue.Empty:
            # Time ran out: skip what still waits for its data.
            self.start_ready(URGENT, self.runs)
            return
        if result is None:
            run.prefetched[name] = True
        else:
            run.results[name] = result
            self.running -= 1
        self.start_ready(URGENT, [run])

    def report(self) -> SuiteReport:
        finished = utc_now()
        by_target = {run.target.name: run for run in self.runs}
        reports = []
        for target in self.config.targets:
            run = by_target.get(target.name)
            if run is None:
                ordered = outside_scope_results(self.selected, self.outside[target.name])
                region = self.sessions.region_for(target.region) or ""
            else:
                ordered = [run.results[c.name] for c in self.selected if c.name in run.results]
                region = run.view.region or ""
            reports.append(
                Report(
                    target=target.name,
                    region=region,
                    checks=ordered,
                    root_cause_hints=root_cause_hints(ordered),
                    started_at=self.started,
                    finished_at=finished,
                )
            )
        stats = self.sessions.stats.snapshot()
        return SuiteReport(reports, self.started, finished, stats=stats)


def need_priorities(
    selected: Sequence[Check], weights: dict[str, int], position: dict[str, int]
) -> dict[str, tuple[int, int]]:
    """A need weighs what the heaviest check reading it weighs, and sits where it first does."""
    priorities: dict[str, tuple[int, int]] = {}
    for check in selected:
        for need in prefetched_needs(check):
            key = (-weights[check.name], position[check.name])
            priorities[need] = min(priorities.get(need, key), key)
    return priorities


def outside_scope_results(selected: Sequence[Check], problem: str) -> list[CheckResult]:
    """A target the deployment may not read: AWS_ACCESS FAILs naming the limit (so it is
    alarmed on, not silently unchecked), every other check is skipped for it."""
    fix = problem.split(": ", 1)[-1]
    return [
        CheckResult(c.name, Status.FAIL, problem, [fix[:1].upper() + fix[1:]])
        if c.name == "AWS_ACCESS"
        else CheckResult(c.name, Status.SKIP, f"not checked: {problem}")
        for c in selected
    ]
