"""The suite runner: dependencies, crash isolation, time budget, concurrency, fetch-once."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import boto3
from botocore.exceptions import ClientError

from batch_health.aws.sessions import AwsSessions
from batch_health.checks import Check, CheckContext, RunOptions
from batch_health.config import SuiteConfig
from batch_health.demo import CE, QUEUE, REGION
from batch_health.engine import BUDGET_EXHAUSTED, run_check, run_suite
from batch_health.models import CheckResult, Report, Status, SuiteReport

TARGET = {"name": "video", "region": REGION, "job_queue": QUEUE, "job_definition": "jd"}


def fake_check(
    name: str,
    behaviour: Callable[[CheckContext], CheckResult | Status],
    depends_on: tuple[str, ...] = (),
) -> Check:
    """A Check whose run is `behaviour`; returning a Status makes a result with that status."""

    def run(self: Check, ctx: CheckContext) -> CheckResult:
        outcome = behaviour(ctx)
        if isinstance(outcome, Status):
            return CheckResult(self.name, outcome, f"{self.name} said {outcome}", ["do x"])
        return outcome

    cls = type(
        name,
        (Check,),
        {
            "name": name,
            "step": 9,
            "step_title": "FAKE",
            "title": name,
            "verifies": f"{name} verifies nothing real",
            "depends_on": depends_on,
            "run": run,
        },
    )
    return cls()


def returns(status: Status) -> Callable[[CheckContext], Status]:
    return lambda ctx: status


def run_fakes(
    registry: list[Check], targets: list[dict[str, Any]] | None = None, **options: Any
) -> SuiteReport:
    config = SuiteConfig.model_validate({"targets": targets or [TARGET]})
    return run_suite(config, RunOptions(**options), AwsSessions(), registry=registry)


def statuses(report: Report) -> dict[str, Status]:
    return {c.name: c.status for c in report.checks}


def detail(report: Report, name: str) -> str:
    found = report.result(name)
    assert found is not None
    return found.detail


# --- dependencies ------------------------------------------------------------------------


def test_dependent_of_a_fail_is_skip_naming_the_dependency():
    suite = run_fakes(
        [
            fake_check("ROOT", returns(Status.FAIL)),
            fake_check("CHILD", returns(Status.OK), depends_on=("ROOT",)),
            fake_check("GRANDCHILD", returns(Status.OK), depends_on=("CHILD",)),
            fake_check("OTHER", returns(Status.OK)),
        ]
    )
    (report,) = suite.reports
    assert statuses(report) == {
        "ROOT": Status.FAIL,
        "CHILD": Status.SKIP,
        "GRANDCHILD": Status.SKIP,
        "OTHER": Status.OK,
    }
    assert detail(report, "CHILD") == "ROOT is FAIL: ROOT said FAIL"
    assert detail(report, "GRANDCHILD").startswith("CHILD is SKIP: ROOT is FAIL")


def test_dependent_of_a_skip_is_skip_and_of_warn_runs():
    suite = run_fakes(
        [
            fake_check("SKIPPER", returns(Status.SKIP)),
            fake_check("WARNER", returns(Status.WARN)),
            fake_check("AFTER_SKIP", returns(Status.OK), depends_on=("SKIPPER",)),
            fake_check("AFTER_WARN", returns(Status.OK), depends_on=("WARNER",)),
        ]
    )
    report = suite.reports[0]
    assert statuses(report)["AFTER_SKIP"] is Status.SKIP
    assert detail(report, "AFTER_SKIP").startswith("SKIPPER is SKIP")
    assert statuses(report)["AFTER_WARN"] is Status.OK


def test_dependent_runs_after_its_dependency_and_sees_its_result():
    seen: dict[str, Any] = {}

    def child(ctx: CheckContext) -> Status:
        seen.update(ctx.results)
        return Status.OK

    run_fakes([fake_check("CHILD", child, ("ROOT",)), fake_check("ROOT", returns(Status.OK))])
    assert seen["ROOT"].status is Status.OK


def test_an_unselected_dependency_does_not_block():
    ran = []
    checks = [
        fake_check("ROOT", returns(Status.FAIL)),
        fake_check("CHILD", lambda ctx: ran.append(1) or Status.OK, depends_on=("ROOT",)),
    ]
    report = run_fakes(checks, checks=["CHILD"]).reports[0]
    assert statuses(report) == {"CHILD": Status.OK}
    assert ran == [1]


def test_report_keeps_registry_order_whatever_finishes_first():
    checks = [
        fake_check("SLOW", lambda ctx: time.sleep(0.05) or Status.OK),
        fake_check("FAST", returns(Status.OK)),
    ]
    assert [c.name for c in run_fakes(checks).reports[0].checks] == ["SLOW", "FAST"]


def test_registry_dependencies_exist_and_come_first():
    # A dependency on an unknown or later check would leave its dependent never started.
    from batch_health.checks import REGISTRY

    seen: set[str] = set()
    for check in REGISTRY:
        assert set(check.depends_on) <= seen, (check.name, check.depends_on)
        seen.add(check.name)
    assert len(seen) == len(REGISTRY)


# --- crash isolation ---------------------------------------------------------------------


def test_a_crashing_check_is_a_fail_naming_the_error_and_others_are_unaffected():
    def crash(ctx: CheckContext) -> Status:
        raise KeyError("containerProperties")

    suite = run_fakes(
        [
            fake_check("CRASHER", crash),
            fake_check("FINE", returns(Status.OK)),
            fake_check("AFTER_CRASH", returns(Status.OK), depends_on=("CRASHER",)),
        ]
    )
    report = suite.reports[0]
    assert statuses(report) == {
        "CRASHER": Status.FAIL,
        "FINE": Status.OK,
        "AFTER_CRASH": Status.SKIP,
    }
    crashed = report.result("CRASHER")
    assert crashed is not None
    assert crashed.detail == "check crashed: KeyError: 'containerProperties'"
    assert crashed.hints and crashed.data["error_kind"] == "crash"
    assert suite.overall is Status.FAIL


def test_an_uncaught_aws_error_is_a_classified_fail():
    def denied(ctx: CheckContext) -> Status:
        raise ClientError(
            {"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "DescribeJobQueues"
        )

    report = run_fakes([fake_check("DENIED", denied)]).reports[0]
    result = report.result("DENIED")
    assert result is not None and result.status is Status.FAIL
    assert result.detail == "AWS access denied on DescribeJobQueues: AccessDeniedException: no"
    assert result.data["error_kind"] == "access denied"
    assert "DescribeJobQueues" in result.hints[0]


def test_a_job_definition_read_that_aws_denies_ends_the_check_with_that_fail():
    check = fake_check("READS_JOBDEF", lambda ctx: reads_jobdef_via(check, ctx))

    def reads_jobdef_via(owner: Check, ctx: CheckContext) -> Status:
        owner.read_job_definition(ctx)
        return Status.OK

    denied = ClientError(
        {"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "DescribeJobDefinitions"
    )

    class DeniedView:
        def job_definition(self) -> None:
            raise denied

    ctx = CheckContext(
        target=SuiteConfig.model_validate({"targets": [TARGET]}).targets[0],
        aws=DeniedView(),  # type: ignore[arg-type]
        options=RunOptions(),
        deadline=None,
        results={},
    )
    result = run_check(check, ctx)
    assert result.status is Status.FAIL
    assert result.detail.startswith("job definition jd: access denied")
    assert "batch:DescribeJobDefinitions" in result.hints[0]


def test_result_name_and_duration_are_set_by_the_engine():
    def slow_misnamed(ctx: CheckContext) -> CheckResult:
        time.sleep(0.02)
        return CheckResult("WRONG", Status.OK)

    result = run_fakes([fake_check("RIGHT", slow_misnamed)]).reports[0].checks[0]
    assert result.name == "RIGHT"
    assert result.duration_ms >= 20


# --- time budget ---------------------------------------------------------------------------


def test_checks_not_started_before_the_budget_runs_out_are_skipped():
    checks = [
        fake_check("FIRST", lambda ctx: time.sleep(1.2) or Status.OK),
        fake_check("SECOND", returns(Status.OK), depends_on=("FIRST",)),
        fake_check("THIRD", returns(Status.OK), depends_on=("SECOND",)),
    ]
    # FIRST may start up to 1 s late on a loaded machine and still run; after it, less than
    # the engine's minimum start time is left.
    report = run_fakes(checks, time_budget_s=1.5).reports[0]
    assert statuses(report) == {"FIRST": Status.OK, "SECOND": Status.SKIP, "THIRD": Status.SKIP}
    assert detail(report, "SECOND") == BUDGET_EXHAUSTED == "time budget exhausted"


def test_no_check_starts_with_a_budget_too_small_to_finish_one():
    ran = []
    report = run_fakes(
        [fake_check("A", lambda ctx: ran.append(1) or Status.OK)], time_budget_s=0.01
    ).reports[0]
    assert statuses(report) == {"A": Status.SKIP}
    assert ran == []


def test_checks_see_the_remaining_budget():
    remaining = []
    run_fakes(
        [fake_check("A", lambda ctx: remaining.append(ctx.remaining_s()) or Status.OK)],
        time_budget_s=30,
    )
    assert 25 < remaining[0] <= 30
    run_fakes([fake_check("A", lambda ctx: remaining.append(ctx.remaining_s()) or Status.OK)])
    assert remaining[1] == float("inf")


def test_a_check_waiting_for_a_worker_when_the_budget_runs_out_is_skipped():
    ran = []
    checks = [
        fake_check("BUSY", lambda ctx: time.sleep(1.2) or Status.OK),
        fake_check("WAITING", lambda ctx: ran.append(1) or Status.OK),
    ]
    report = run_fakes(checks, time_budget_s=1.5, concurrency=1).reports[0]
    assert statuses(report)["WAITING"] is Status.SKIP
    assert ran == []


# --- concurrency ---------------------------------------------------------------------------


def barrier_checks(barrier: threading.Barrier) -> list[Check]:
    def meet(ctx: CheckContext) -> Status:
        barrier.wait()  # raises BrokenBarrierError unless the other check is running too
        return Status.OK

    return [fake_check("LEFT", meet), fake_check("RIGHT", meet)]


def test_independent_checks_run_at_the_same_time():
    report = run_fakes(barrier_checks(threading.Barrier(2, timeout=5))).reports[0]
    assert statuses(report) == {"LEFT": Status.OK, "RIGHT": Status.OK}


def test_concurrency_one_runs_checks_one_after_another():
    report = run_fakes(barrier_checks(threading.Barrier(2, timeout=0.3)), concurrency=1).reports[0]
    assert statuses(report) == {"LEFT": Status.FAIL, "RIGHT": Status.FAIL}
    assert all("BrokenBarrierError" in c.detail for c in report.checks)


def test_targets_run_at_the_same_time_and_each_gets_a_report():
    barrier = threading.Barrier(2, timeout=5)
    check = fake_check("MEET", lambda ctx: barrier.wait() is not None and Status.OK)
    targets = [{**TARGET, "name": "a"}, {**TARGET, "name": "b"}]
    suite = run_fakes([check], targets=targets)
    assert [r.target for r in suite.reports] == ["a", "b"]
    assert all(statuses(r) == {"MEET": Status.OK} for r in suite.reports)


def test_one_targets_failure_does_not_stop_the_others():
    check = fake_check(
        "BY_TARGET", lambda ctx: Status.FAIL if ctx.target.name == "a" else Status.OK
    )
    suite = run_fakes([check], targets=[{**TARGET, "name": "a"}, {**TARGET, "name": "b"}])
    assert [r.overall for r in suite.reports] == [Status.FAIL, Status.OK]
    assert suite.overall is Status.FAIL


# --- data for a selected check, fetched once -----------------------------------------------


def test_ce_check_alone_fetches_the_queue_it_needs(seed_world):
    sessions = AwsSessions()
    config = SuiteConfig.model_validate({"targets": [seed_world]})
    report = run_suite(config, RunOptions(checks=["CE_CHECK"]), sessions).reports[0]
    assert [c.name for c in report.checks] == ["CE_CHECK"]
    result = report.checks[0]
    assert result.status is Status.OK, result.detail
    assert result.detail.startswith(f"CE {CE} state=ENABLED status=VALID")
    assert sessions.stats.calls["batch:DescribeJobQueues"] == 1
    assert sessions.stats.calls["batch:DescribeComputeEnvironments"] == 1


class CallRecorder:
    """Every API call's operation and parameters, from a botocore before-call hook."""

    def __init__(self) -> None:
        self.calls: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()

    def __call__(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        key = (f"{model.service_model.service_name}:{model.name}", repr(params.get("body")))
        with self._lock:
            self.calls[key] += 1

    def sessions(self) -> AwsSessions:
        base = boto3.Session()
        base.events.register("before-call", self)
        return AwsSessions(base_session=base)


def test_every_aws_request_is_made_once_per_run(seed_world):
    recorder = CallRecorder()
    sessions = recorder.sessions()
    config = SuiteConfig.model_validate({"targets": [seed_world]})
    report = run_suite(config, RunOptions(), sessions).reports[0]
    assert report.result("JOBDEF_CHECK") is not None
    repeated = {call: n for call, n in recorder.calls.items() if n > 1}
    assert repeated == {}
    ops = Counter(op for op, _ in recorder.calls.elements())
    for op in (
        "sts:GetCallerIdentity",
        "batch:DescribeJobQueues",
        "batch:DescribeComputeEnvironments",
        "batch:DescribeJobDefinitions",
        "ssm:GetParameters",  # both api parameters in one call
    ):
        assert ops[op] == 1, (op, ops)
    assert sessions.stats.snapshot()["aws_calls"] == sum(ops.values())


def test_targets_sharing_a_queue_share_one_describe_call(seed_world):
    sessions = AwsSessions()
    targets = [{**seed_world, "name": "a"}, {**seed_world, "name": "b"}]
    config = SuiteConfig.model_validate({"targets": targets})
    checks = ["AWS_ACCESS", "QUEUE_CHECK", "CE_CHECK", "JOBDEF_CHECK", "CONFIG_MATCH_QUEUE"]
    suite = run_suite(config, RunOptions(checks=checks), sessions)
    assert all(r.result("QUEUE_CHECK").status is Status.OK for r in suite.reports)
    assert sessions.stats.calls["batch:DescribeJobQueues"] == 1
    assert sessions.stats.calls["batch:DescribeComputeEnvironments"] == 1
    assert sessions.stats.calls["ssm:GetParameters"] == 1
    assert suite.stats["aws_calls"] == sessions.stats.snapshot()["aws_calls"]


def test_a_failed_fetch_is_shared_not_retried_by_each_check(world):
    # No queue exists: QUEUE_CHECK and CE_CHECK both see "missing" from one describe call.
    sessions = AwsSessions()
    config = SuiteConfig.model_validate({"targets": [TARGET]})
    report = run_suite(config, RunOptions(checks=["QUEUE_CHECK", "CE_CHECK"]), sessions).reports[0]
    assert report.result("QUEUE_CHECK").status is Status.FAIL
    assert report.result("CE_CHECK").status is Status.SKIP
    assert sessions.stats.calls["batch:DescribeJobQueues"] == 1
