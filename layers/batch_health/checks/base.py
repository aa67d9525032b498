"""What a check is: metadata plus a `run` that returns a CheckResult."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from batch_health.aws.errors import AWS_ERRORS, AwsFailure, classify
from batch_health.aws.inventory import TargetView
from batch_health.config import Target
from batch_health.domain.job_definition import JobDefinitionView
from batch_health.domain.scope import DeploymentScope
from batch_health.models import CheckResult, Status


@dataclass
class RunOptions:
    """Run-wide choices; per-target settings live on `Target`."""

    checks: list[str] | None = None  # None: every registered check
    allow_test_submit: bool = False
    time_budget_s: float | None = None  # None: no limit
    concurrency: int = 16
    environ: Mapping[str, str] = field(default_factory=dict)  # for env: config sources
    # What the deployment's role may do (the monitor function); None: no limit (the CLI).
    scope: DeploymentScope | None = None
    # "wait": the smoke check polls its job; "event": it submits and ends, and the job's own
    # state-change event gives the result (the Batch events function).
    smoke_result: Literal["wait", "event"] = "wait"
    # Cancel RUNNABLE jobs the placement analysis finds can never run (opt-in).
    cancel_unplaceable: bool = False
    # List the queue in every active status for the QueueDepth gauges (4 more ListJobs).
    queue_depth: bool = True


@dataclass
class CheckContext:
    target: Target
    aws: TargetView
    options: RunOptions
    deadline: float | None  # time.monotonic() value, or None
    results: Mapping[str, CheckResult]  # this target's finished checks

    def remaining_s(self) -> float:
        return float("inf") if self.deadline is None else self.deadline - time.monotonic()


class CheckFinished(Exception):
    """Raised inside `run` to end the check with `result` (e.g. its input is unreadable)."""

    def __init__(self, result: CheckResult) -> None:
        super().__init__(result.detail)
        self.result = result


class Check:
    """A check: report key, seed step, what it verifies, dependencies, and `run`.

    Subclasses set the class attributes and implement `run`. `needs` names TargetView
    methods (no arguments) whose data the engine fetches ahead, before dependencies finish,
    so a run costs the longest chain of AWS calls rather than their sum.
    """

    name: ClassVar[str]
    step: ClassVar[int]
    step_title: ClassVar[str]
    title: ClassVar[str]
    verifies: ClassVar[str]
    depends_on: ClassVar[tuple[str, ...]] = ()
    needs: ClassVar[tuple[str, ...]] = ()
    # AWS services the check calls whenever it runs: the engine has their clients made at
    # the start of a run, while the first answers are awaited.
    services: ClassVar[tuple[str, ...]] = ()
    # Lower is more fundamental: its hints come first among the root causes.
    priority: ClassVar[int] = 50

    def run(self, ctx: CheckContext) -> CheckResult:
        raise NotImplementedError

    def services_for(self, target: Target) -> tuple[str, ...]:
        """The services this check will call for `target` (default: `services`)."""
        return self.services

    # Result builders, so a check reads as its decisions.
    def ok(self, detail: str = "", **data: Any) -> CheckResult:
        return CheckResult(self.name, Status.OK, detail, [], data)

    def warn(self, detail: str, hints: list[str], **data: Any) -> CheckResult:
        return CheckResult(self.name, Status.WARN, detail, list(hints), data)

    def fail(self, detail: str, hints: list[str], **data: Any) -> CheckResult:
        return CheckResult(self.name, Status.FAIL, detail, list(hints), data)

    def skip(self, reason: str, **data: Any) -> CheckResult:
        return CheckResult(self.name, Status.SKIP, reason, [], data)

    def aws_fail(
        self, exc: BaseException, *, action: str = "", resource: str = "", what: str = ""
    ) -> CheckResult:
        """FAIL for an AWS error, naming its class (denied, expired, throttled, ...)."""
        failure: AwsFailure = classify(exc)
        prefix = f"{what}: " if what else ""
        return self.fail(
            f"{prefix}{failure.summary}",
            [failure.hint(action=action, resource=resource)],
            error_kind=failure.kind.value,
            error_code=failure.code,
        )

    def read_job_definition(self, ctx: CheckContext) -> JobDefinitionView | None:
        """The target's job definition (None: no ACTIVE revision); an AWS error ends the
        check with a FAIL naming the denied or failed call."""
        name = ctx.target.job_definition
        try:
            return ctx.aws.job_definition()
        except AWS_ERRORS as exc:
            raise CheckFinished(
                self.aws_fail(
                    exc,
                    action="batch:DescribeJobDefinitions",
                    resource=name,
                    what=f"job definition {name}",
                )
            ) from exc
