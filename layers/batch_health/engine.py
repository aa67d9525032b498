"""Runs the check suite: concurrent, dependency-aware, crash-isolated, time-bounded."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from botocore.exceptions import BotoCoreError, ClientError

from batch_health.aws import AwsSessions
from batch_health.checks import REGISTRY, Check, CheckContext, RunOptions
from batch_health.checks.config_match import ssm_names
from batch_health.config import SuiteConfig, Target
from batch_health.errors import classify
from batch_health.hints import root_cause_hints
from batch_health.inventory import Inventory, TargetView
from batch_health.models import CheckResult, Report, Status, SuiteReport, utc_now

logger = logging.getLogger(__name__)

BUDGET_EXHAUSTED = "time budget exhausted"
BLOCKING = (Status.FAIL, Status.SKIP)
# Do not start a check with less time than this left: it could not finish.
MIN_START_S = 0.5


@dataclass
class _TargetRun:
    target: Target
    view: TargetView
    pending: list[Check]
    results: dict[str, CheckResult] = field(default_factory=dict)


def run_check(check: Check, ctx: CheckContext) -> CheckResult:
    """Run one check; any exception becomes a FAIL naming it, never a crash of the suite."""
    started = time.perf_counter()
    try:
        result = check.run(ctx)
    except (ClientError, BotoCoreError) as exc:
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


def _prefetch(view: TargetView, need: str) -> None:
    # Errors are cached by the inventory and reported by the check that reads the data.
    try:
        getattr(view, need)()
    except Exception:
        logger.debug("prefetch %s for %s failed", need, view.target.name, exc_info=True)


def run_suite(
    config: SuiteConfig,
    options: RunOptions,
    sessions: AwsSessions | None = None,
    registry: Sequence[Check] = REGISTRY,
) -> SuiteReport:
    """Run the selected checks against every target; one target's failure never stops others."""
    sessions = sessions or AwsSessions()
    inventory = Inventory(sessions)
    inventory.register(config.targets, lambda t: ssm_names(t.config_sources))
    started, t0 = utc_now(), time.monotonic()
    deadline = None if options.time_budget_s is None else t0 + options.time_budget_s
    selected = select_checks(options.checks, registry)
    selected_names = {c.name for c in selected}
    runs = [_TargetRun(t, inventory.view(t), list(selected)) for t in config.targets]
    pool = ThreadPoolExecutor(max_workers=max(1, options.concurrency), thread_name_prefix="check")
    running: dict[Future[CheckResult], tuple[_TargetRun, Check]] = {}
    try:
        for run in runs:
            for need in dict.fromkeys(n for c in selected for n in c.needs):
                pool.submit(_prefetch, run.view, need)

        def start_ready() -> None:
            progress = True
            while progress:
                progress = False
                for run in runs:
                    for check in list(run.pending):
                        deps = [d for d in check.depends_on if d in selected_names]
                        if any(d not in run.results for d in deps):
                            continue
                        run.pending.remove(check)
                        progress = True
                        blocker = next(
                            (run.results[d] for d in deps if run.results[d].status in BLOCKING),
                            None,
                        )
                        if blocker is not None:
                            run.results[check.name] = CheckResult(
                                check.name,
                                Status.SKIP,
                                f"{blocker.name} is {blocker.status}: {blocker.detail}",
                            )
                        elif deadline is not None and time.monotonic() > deadline - MIN_START_S:
                            run.results[check.name] = CheckResult(
                                check.name, Status.SKIP, BUDGET_EXHAUSTED
                            )
                        else:
                            ctx = CheckContext(
                                run.target, run.view, options, deadline, dict(run.results)
                            )
                            running[pool.submit(run_check, check, ctx)] = (run, check)

        start_ready()
        while running:
            done, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for fut in done:
                run, check = running.pop(fut)
                run.results[check.name] = fut.result()
            start_ready()
    finally:
        pool.shutdown(wait=False, cancel_futures=True)

    finished = utc_now()
    reports = []
    for run in runs:
        ordered = [run.results[c.name] for c in selected if c.name in run.results]
        reports.append(
            Report(
                target=run.target.name,
                region=run.view.region or "",
                checks=ordered,
                root_cause_hints=root_cause_hints(ordered),
                started_at=started,
                finished_at=finished,
            )
        )
    return SuiteReport(reports, started, finished, stats=sessions.stats.snapshot())
