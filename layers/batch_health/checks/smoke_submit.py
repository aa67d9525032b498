"""SMOKE_SUBMIT_CHECK: a real test job is accepted, placed and started (opt-in).

Every `Ref::NAME` in the command is resolved before anything is submitted (configured
smoke parameters, then the job definition's defaults, then the built-in
`job_id=health-smoke-<ts>`), so a missing parameter is named instead of failing the submit.
The job is named and tagged so it can be found, polled within the run's time budget, and
terminated when it cannot be placed or the budget runs out, so nothing is left behind.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from batch_health.aws.errors import AWS_ERRORS, classify
from batch_health.checks.base import Check, CheckContext
from batch_health.checks.job_context import job_hint_context
from batch_health.checks.smoke_pending import judge_stuck, submitted
from batch_health.config import SmokeConfig, Target
from batch_health.domain.job_definition import JobDefinitionView
from batch_health.domain.reason_hints import HintContext, reason_hint
from batch_health.domain.smoke import (
    BUILT_IN,
    SMOKE_TAG,
    TARGET_TAG,
    referenced_parameters,
    resolve_job_parameters,
    smoke_job_name,
)
from batch_health.domain.status_reasons import PLACEMENT, classify_job
from batch_health.models import CheckResult, utc_now

# Below this much time left, a submitted job could not be watched: do not submit.
MIN_BUDGET_S = 5.0
# Kept back from the time budget for terminate_job.
TERMINATE_RESERVE_S = 2.0


@dataclass(frozen=True)
class SmokePlan:
    """The smoke job to submit: its request, and the facts the report shows."""

    job_name: str
    queue: str
    job_definition_name: str
    request: dict[str, Any]
    facts: dict[str, Any]
    unresolved: list[str]

    @classmethod
    def for_target(cls, target: Target, jd: JobDefinitionView, job_name: str) -> SmokePlan:
        smoke = target.smoke
        command = list(smoke.command or jd.command)
        built_in = {"job_id": job_name} if smoke.default_job_id else {}
        resolved, unresolved = resolve_job_parameters(
            referenced_parameters(command), smoke.parameters, jd.parameters, built_in
        )
        job_definition = jd.arn or target.job_definition
        # Configured values are sent even when unreferenced: the operator asked for them.
        parameters = {**smoke.parameters}
        parameters.update({n: p.value for n, p in resolved.items() if p.source == BUILT_IN})
        tags = {SMOKE_TAG: "true", TARGET_TAG: target.name}
        request: dict[str, Any] = {
            "jobName": job_name,
            "jobQueue": target.job_queue,
            "jobDefinition": job_definition,
            "parameters": parameters,
            "tags": tags,
        }
        if smoke.command:
            request["containerOverrides"] = {"command": list(smoke.command)}
        facts: dict[str, Any] = {
            "job_name": job_name,
            "job_queue": target.job_queue,
            "job_definition": job_definition,
            "command": command,
            "command_override": bool(smoke.command),
            "parameters": {n: {"value": p.value, "source": p.source} for n, p in resolved.items()},
            "tags": tags,
        }
        return cls(job_name, target.job_queue, target.job_definition, request, facts, unresolved)


class Watch:
    """How a submitted job has fared so far: its statuses, how long it waited, whether it
    reached the goal (RUNNING, or SUCCEEDED when required) and how long it sat RUNNABLE."""

    def __init__(self, started: float, smoke: SmokeConfig, time_left: float) -> None:
        self.started = started
        self.require_succeeded = smoke.require_succeeded
        self.budget_limited = time_left < smoke.timeout_seconds
        self.limit = max(0.0, min(float(smoke.timeout_seconds), time_left))
        self.history: list[str] = []
        self.waited = 0.0
        self._runnable_since: float | None = None

    @property
    def goal(self) -> str:
        return "SUCCEEDED" if self.require_succeeded else "RUNNING"

    @property
    def waited_s(self) -> float:
        return round(self.waited, 1)

    def saw(self, status: str, now: float) -> str:
        if not self.history or self.history[-1] != status:
            self.history.append(status)
        self.waited = now - self.started
        return status

    def reached_goal(self, status: str) -> bool:
        return status == "SUCCEEDED" or (status == "RUNNING" and not self.require_succeeded)

    def runnable_for(self, status: str, now: float) -> float:
        """Seconds in RUNNABLE so far (0 when not RUNNABLE)."""
        if status != "RUNNABLE":
            return 0.0
        if self._runnable_since is None:
            self._runnable_since = now
        return now - self._runnable_since


class SmokeSubmitCheck(Check):
    name = "SMOKE_SUBMIT_CHECK"
    step = 5
    step_title = "SMOKE SUBMIT"
    title = "A test job is accepted and starts"
    verifies = (
        "Opt-in (ALLOW_TEST_SUBMIT): resolves every Ref:: parameter before submitting, submits "
        "health-smoke-<ts> (tagged), waits for RUNNING/SUCCEEDED within the time budget; FAILED "
        "is classified, stuck RUNNABLE is terminated"
    )
    depends_on = ("QUEUE_CHECK", "JOBDEF_CHECK")
    needs = ("job_definition", "job_queue")
    services = ("batch",)
    priority = 15

    def __init__(
        self,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = utc_now,
    ) -> None:
        self.sleep = sleep
        self.clock = clock
        self.now = now

    def run(self, ctx: CheckContext) -> CheckResult:
        not_here = self._not_here(ctx)
        if not_here:
            return self.skip(not_here)
        jd_name = ctx.target.job_definition
        jd = self.read_job_definition(ctx)
        if jd is None:
            return self.fail(
                f"job definition {jd_name} has no ACTIVE revision: nothing to submit",
                [f"Register {jd_name} (see JOBDEF_CHECK)"],
            )
        plan = SmokePlan.for_target(ctx.target, jd, smoke_job_name(self.now()))
        if plan.unresolved:
            return self._unresolved(jd, plan)
        remaining = ctx.remaining_s()
        if remaining < MIN_BUDGET_S:
            return self.skip(
                f"time budget too short to submit and watch a job ({remaining:.1f}s left)"
            )
        batch = ctx.aws.client("batch")
        by_event = ctx.options.smoke_result == "event"
        if by_event:
            stuck = judge_stuck(ctx, batch, int(self.now().timestamp() * 1000))
            if stuck is not None:
                return stuck
        try:
            job_id = batch.submit_job(**plan.request).get("jobId")
        except AWS_ERRORS as exc:
            failure = classify(exc)
            return self.fail(
                f"submit-job of {plan.job_name} to {plan.queue} failed: {failure.summary}",
                [failure.hint(action="batch:SubmitJob", resource=f"{plan.queue} / {jd_name}")],
                error_kind=failure.kind.value,
                error_code=failure.code,
                **plan.facts,
            )
        if not job_id:
            return self._no_job_id(ctx, plan)
        if by_event:
            return submitted({**plan.facts, "job_id": job_id})
        return self._watch(ctx, batch, job_id, {**plan.facts, "job_id": job_id})

    @staticmethod
    def _not_here(ctx: CheckContext) -> str | None:
        """Why no smoke job is submitted for this target in this run, or None."""
        if not ctx.options.allow_test_submit:
            return "ALLOW_TEST_SUBMIT not set"
        if ctx.target.smoke.enabled is False:
            return "smoke.enabled is false for this target"
        scope = ctx.options.scope
        return scope.smoke_problem(ctx.target, ctx.aws.region) if scope else None

    def _unresolved(self, jd: JobDefinitionView, plan: SmokePlan) -> CheckResult:
        jd_name = plan.job_definition_name
        refs = ", ".join(f"Ref::{n}" for n in plan.unresolved)
        return self.fail(
            f"{jd.label(jd_name)}'s command uses {refs} but no value is configured and the job "
            "definition has no default: a submit would fail, so nothing was submitted",
            [
                f"Give the smoke job a value: `--smoke-param {n}=<value>` (or "
                f"smoke.parameters.{n} in the target config), or add a default "
                f"parameters.{n} to {jd_name}"
                for n in plan.unresolved
            ],
            unresolved=plan.unresolved,
            **{k: v for k, v in plan.facts.items() if k != "tags"},
        )

    def _no_job_id(self, ctx: CheckContext, plan: SmokePlan) -> CheckResult:
        # Submitted, perhaps, but without an id it can be neither watched nor terminated.
        return self.fail(
            f"submit-job of {plan.job_name} to {plan.queue} answered without a jobId: the job "
            "cannot be watched or terminated",
            [
                f"Find it by name and terminate it by hand: `aws batch list-jobs --job-queue "
                f"{plan.queue} --filters name=JOB_NAME,values={plan.job_name} --region "
                f"{ctx.aws.region}`, then `aws batch terminate-job --job-id <id> --reason "
                '"health smoke"`'
            ],
            **plan.facts,
        )

    def _watch(
        self, ctx: CheckContext, batch: Any, job_id: str, facts: dict[str, Any]
    ) -> CheckResult:
        """Poll the job until it starts (or ends), sticks in RUNNABLE, or time runs out."""
        watch = Watch(self.clock(), ctx.target.smoke, ctx.remaining_s() - TERMINATE_RESERVE_S)
        while True:
            try:
                job = ctx.aws.poll_job(job_id) or {}
            except AWS_ERRORS as exc:
                return self._unpolled(exc, batch, job_id, facts)
            status = watch.saw(str(job.get("status") or "UNKNOWN"), self.clock())
            facts.update(status=status, status_history=watch.history, waited_s=watch.waited_s)
            if watch.reached_goal(status):
                return self.ok(
                    f"submitted {facts['job_name']} (jobId={job_id}) to {facts['job_queue']}: "
                    f"{status} after {watch.waited:.1f}s; parameters: "
                    f"{self._describe_parameters(facts)}",
                    **facts,
                )
            if status == "FAILED":
                return self._failed(ctx, job, facts)
            stuck = watch.runnable_for(status, self.clock())
            if stuck >= ctx.target.smoke.runnable_timeout_seconds:
                return self._stuck(ctx, batch, job, stuck, facts)
            if watch.waited >= watch.limit:
                return self._timed_out(ctx, batch, watch, status, facts)
            self.sleep(max(0.0, min(ctx.target.smoke.poll_seconds, watch.limit - watch.waited)))

    def _unpolled(
        self, exc: BaseException, batch: Any, job_id: str, facts: dict[str, Any]
    ) -> CheckResult:
        failure = classify(exc)
        facts.update(self._terminate(batch, job_id, "the monitor could not poll it"))
        hints = [failure.hint(action="batch:DescribeJobs", resource=job_id)]
        end = self._left_behind(facts, hints)
        return self.fail(
            f"smoke job {facts['job_name']} ({job_id}) was submitted but could not be polled: "
            f"{failure.summary}; {end}",
            hints,
            **facts,
        )

    def _timed_out(
        self, ctx: CheckContext, batch: Any, watch: Watch, status: str, facts: dict[str, Any]
    ) -> CheckResult:
        smoke, job_id = ctx.target.smoke, facts["job_id"]
        why = "the run's time budget" if watch.budget_limited else "smoke.timeout_seconds"
        goal = watch.goal
        facts.update(self._terminate(batch, job_id, f"not {goal} within {why}"))
        hints = [
            f"Raise smoke.timeout_seconds (now {smoke.timeout_seconds}s) or the time "
            "budget if the job needs longer to start; "
            f"`aws batch describe-jobs --jobs {job_id} --region {ctx.aws.region}` "
            "shows where it stopped"
        ]
        end = self._left_behind(facts, hints)
        return self.fail(
            f"smoke job {facts['job_name']} ({job_id}) did not reach {goal} within "
            f"{watch.limit:.0f}s ({why}); last status {status}; {end}",
            hints,
            **facts,
        )

    def _failed(self, ctx: CheckContext, job: dict[str, Any], facts: dict[str, Any]) -> CheckResult:
        reason = classify_job(job)
        facts.update(
            statusReason=job.get("statusReason") or "",
            reason_class=reason.kind.value,
            exit_code=reason.exit_code,
        )
        return self.fail(
            f"smoke job {facts['job_name']} ({facts['job_id']}) FAILED: {reason.describe()}",
            [reason_hint(reason, job_hint_context(ctx, facts["job_id"]))],
            **facts,
        )

    def _stuck(
        self,
        ctx: CheckContext,
        batch: Any,
        job: dict[str, Any],
        stuck: float,
        facts: dict[str, Any],
    ) -> CheckResult:
        job_id, smoke = facts["job_id"], ctx.target.smoke
        reason = classify_job(job)
        facts["statusReason"] = job.get("statusReason") or ""
        facts.update(self._terminate(batch, job_id, f"stuck in RUNNABLE for {stuck:.0f}s"))
        context = job_hint_context(ctx, job_id)
        hints = []
        if reason.kind in PLACEMENT:
            hints.append(reason_hint(reason, context))
        hints.append(self._placement_hint(ctx, job, context))
        said = f": {reason.text}" if reason.text else ""
        end = self._left_behind(facts, hints)
        return self.fail(
            f"smoke job {facts['job_name']} ({job_id}) stayed RUNNABLE for {stuck:.0f}s "
            f"(limit {smoke.runnable_timeout_seconds}s): no compute environment placed it"
            f"{said}; {end}",
            hints,
            **facts,
        )

    @staticmethod
    def _placement_hint(ctx: CheckContext, job: dict[str, Any], context: HintContext) -> str:
        requirements = {
            r.get("type"): r.get("value")
            for r in (job.get("container") or {}).get("resourceRequirements") or []
            if isinstance(r, dict)
        }
        size = ""
        if requirements:
            size = f" ({requirements.get('VCPU', '?')} vCPU, {requirements.get('MEMORY', '?')} MiB)"
        ces = ", ".join(context.compute_environments) or f"the CEs of {ctx.target.job_queue}"
        return (
            f"Check {ces}: ENABLED/VALID, maxvCpus at least the job's vCPUs{size}, instance types "
            "that fit the job, subnets with free IPs and a route to ECS/ECR (see CE_CHECK)"
        )

    @staticmethod
    def _terminate(batch: Any, job_id: str, why: str) -> dict[str, Any]:
        try:
            batch.terminate_job(jobId=job_id, reason=f"batch-health smoke job {why}")
        except AWS_ERRORS as exc:
            return {"terminated": False, "terminate_error": classify(exc).summary}
        return {"terminated": True}

    @staticmethod
    def _left_behind(facts: dict[str, Any], hints: list[str]) -> str:
        """How the detail ends: the job was terminated, or how to terminate it by hand."""
        if facts.get("terminated"):
            return "terminated"
        hints.append(
            f"Terminate it by hand: `aws batch terminate-job --job-id {facts['job_id']} "
            '--reason "health smoke"` (and grant the monitor batch:TerminateJob)'
        )
        return f"could not terminate it: {facts.get('terminate_error', '')}"

    @staticmethod
    def _describe_parameters(facts: dict[str, Any]) -> str:
        params = facts.get("parameters") or {}
        if not params:
            return "none referenced"
        return ", ".join(f"{n}={p['value']} ({p['source']})" for n, p in params.items())
