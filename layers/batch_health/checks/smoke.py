"""SMOKE_SUBMIT_CHECK: a real test job is accepted, placed and started (opt-in).

Every `Ref::NAME` in the command is resolved before anything is submitted (configured
smoke parameters, then the job definition's defaults, then the built-in
`job_id=health-smoke-<ts>`), so a missing parameter is named instead of failing the submit.
The job is named and tagged so it can be found, polled within the run's time budget, and
terminated when it cannot be placed or the budget runs out, so nothing is left behind.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from batch_health.checks.base import Check, CheckContext
from batch_health.checks.log_group import job_log_group_ref
from batch_health.errors import classify
from batch_health.models import CheckResult, utc_now
from batch_health.status_reasons import HintContext, ReasonClass, classify_job, reason_hint

SMOKE_JOB_PREFIX = "health-smoke-"
SMOKE_TAG = "batch-health:smoke"
TARGET_TAG = "batch-health:target"
PARAMETER_REF = re.compile(r"Ref::([A-Za-z0-9_-]+)")
CONFIGURED, JOBDEF_DEFAULT, BUILT_IN = "configured", "job definition default", "built-in default"
STARTED = {"RUNNING", "SUCCEEDED"}
# Below this much time left, a submitted job could not be watched: do not submit.
MIN_BUDGET_S = 5.0
# Kept back from the time budget for terminate_job.
TERMINATE_RESERVE_S = 2.0


@dataclass(frozen=True)
class ResolvedParameter:
    value: str
    source: str


def referenced_parameters(command: Iterable[str]) -> list[str]:
    """Every `Ref::NAME` in the command, in order of first use."""
    names = [m for part in command for m in PARAMETER_REF.findall(str(part))]
    return list(dict.fromkeys(names))


def resolve_job_parameters(
    names: Iterable[str],
    configured: Mapping[str, str],
    defaults: Mapping[str, str],
    built_in: Mapping[str, str],
) -> tuple[dict[str, ResolvedParameter], list[str]]:
    """(resolved name -> value and source, unresolved names), first source wins."""
    resolved: dict[str, ResolvedParameter] = {}
    unresolved: list[str] = []
    for name in names:
        for source, values in ((CONFIGURED, configured), (JOBDEF_DEFAULT, defaults)):
            if name in values:
                resolved[name] = ResolvedParameter(str(values[name]), source)
                break
        else:
            if name in built_in:
                resolved[name] = ResolvedParameter(built_in[name], BUILT_IN)
            else:
                unresolved.append(name)
    return resolved, unresolved


def find_unresolved_job_parameters(
    command: Iterable[str],
    configured: Mapping[str, str],
    defaults: Mapping[str, str],
    built_in: Mapping[str, str] | None = None,
) -> list[str]:
    """The `Ref::` names in the command that nothing would supply at submit time."""
    _, unresolved = resolve_job_parameters(
        referenced_parameters(command), configured, defaults, built_in or {}
    )
    return unresolved


def smoke_job_name(now: datetime) -> str:
    return f"{SMOKE_JOB_PREFIX}{now.strftime('%Y%m%dT%H%M%SZ')}"


def is_smoke_job(job: Mapping[str, Any]) -> bool:
    return str(job.get("jobName", "")).startswith(SMOKE_JOB_PREFIX)


def job_hint_context(ctx: CheckContext, job_id: str = "") -> HintContext:
    """The resource names a job-failure hint mentions, as far as they can be read."""
    try:
        jd = ctx.aws.job_definition() or {}
        ces = tuple(
            (ce or {}).get("computeEnvironmentName") or entry.get("computeEnvironment", "")
            for entry, ce in ctx.aws.compute_environments()
        )
    except (ClientError, BotoCoreError):
        jd, ces = {}, ()
    container = jd.get("containerProperties") or {}
    return HintContext(
        region=ctx.aws.region or "",
        job_queue=ctx.target.job_queue,
        job_definition=ctx.target.job_definition,
        image=container.get("image") or "",
        execution_role=(container.get("executionRoleArn") or "").rsplit("/", 1)[-1],
        log_group=job_log_group_ref(ctx).name or "",
        compute_environments=ces,
        job_id=job_id,
    )


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
        if not ctx.options.allow_test_submit:
            return self.skip("ALLOW_TEST_SUBMIT not set")
        if ctx.target.smoke.enabled is False:
            return self.skip("smoke.enabled is false for this target")
        scope = ctx.options.scope
        not_here = scope.smoke_problem(ctx.target, ctx.aws.region) if scope else None
        if not_here:
            return self.skip(not_here)
        smoke, jd_name, queue = ctx.target.smoke, ctx.target.job_definition, ctx.target.job_queue
        jd = self.read_job_definition(ctx)
        if jd is None:
            return self.fail(
                f"job definition {jd_name} has no ACTIVE revision: nothing to submit",
                [f"Register {jd_name} (see JOBDEF_CHECK)"],
            )
        container = jd.get("containerProperties") or {}
        command = list(smoke.command or container.get("command") or [])
        job_name = smoke_job_name(self.now())
        built_in = {"job_id": job_name} if smoke.default_job_id else {}
        resolved, unresolved = resolve_job_parameters(
            referenced_parameters(command), smoke.parameters, jd.get("parameters") or {}, built_in
        )
        revision = f"{jd.get('jobDefinitionName') or jd_name}:{jd.get('revision')}"
        facts: dict[str, Any] = {
            "job_name": job_name,
            "job_queue": queue,
            "job_definition": jd.get("jobDefinitionArn") or jd_name,
            "command": command,
            "command_override": bool(smoke.command),
            "parameters": {n: {"value": p.value, "source": p.source} for n, p in resolved.items()},
        }
        if unresolved:
            refs = ", ".join(f"Ref::{n}" for n in unresolved)
            return self.fail(
                f"{revision}'s command uses {refs} but no value is configured and the job "
                "definition has no default: a submit would fail, so nothing was submitted",
                [
                    f"Give the smoke job a value: `--smoke-param {n}=<value>` (or "
                    f"smoke.parameters.{n} in the target config), or add a default "
                    f"parameters.{n} to {jd_name}"
                    for n in unresolved
                ],
                unresolved=unresolved,
                **facts,
            )
        remaining = ctx.remaining_s()
        if remaining < MIN_BUDGET_S:
            return self.skip(
                f"time budget too short to submit and watch a job ({remaining:.1f}s left)"
            )
        # Configured values are sent even when unreferenced: the operator asked for them.
        parameters = {**smoke.parameters}
        parameters.update({n: p.value for n, p in resolved.items() if p.source == BUILT_IN})
        tags = {SMOKE_TAG: "true", TARGET_TAG: ctx.target.name}
        request: dict[str, Any] = {
            "jobName": job_name,
            "jobQueue": queue,
            "jobDefinition": jd.get("jobDefinitionArn") or jd_name,
            "parameters": parameters,
            "tags": tags,
        }
        if smoke.command:
            request["containerOverrides"] = {"command": list(smoke.command)}
        facts["tags"] = tags
        batch = ctx.aws.client("batch")
        try:
            job_id = batch.submit_job(**request).get("jobId")
        except (ClientError, BotoCoreError) as exc:
            failure = classify(exc)
            return self.fail(
                f"submit-job of {job_name} to {queue} failed: {failure.summary}",
                [failure.hint(action="batch:SubmitJob", resource=f"{queue} / {jd_name}")],
                error_kind=failure.kind.value,
                error_code=failure.code,
                **facts,
            )
        if not job_id:
            # Submitted, perhaps, but without an id it can be neither watched nor terminated.
            return self.fail(
                f"submit-job of {job_name} to {queue} answered without a jobId: the job cannot "
                "be watched or terminated",
                [
                    f"Find it by name and terminate it by hand: `aws batch list-jobs --job-queue "
                    f"{queue} --filters name=JOB_NAME,values={job_name} --region "
                    f"{ctx.aws.region}`, then `aws batch terminate-job --job-id <id> --reason "
                    '"health smoke"`'
                ],
                **facts,
            )
        facts["job_id"] = job_id
        return self._watch(ctx, batch, job_id, facts)

    def _watch(
        self, ctx: CheckContext, batch: Any, job_id: str, facts: dict[str, Any]
    ) -> CheckResult:
        smoke = ctx.target.smoke
        started = self.clock()
        budget_limited = ctx.remaining_s() - TERMINATE_RESERVE_S < smoke.timeout_seconds
        limit = max(0.0, min(float(smoke.timeout_seconds), ctx.remaining_s() - TERMINATE_RESERVE_S))
        history: list[str] = []
        runnable_since: float | None = None
        name = facts["job_name"]
        while True:
            try:
                job = ctx.aws.poll_job(job_id) or {}
            except (ClientError, BotoCoreError) as exc:
                failure = classify(exc)
                facts.update(self._terminate(batch, job_id, "the monitor could not poll it"))
                hints = [failure.hint(action="batch:DescribeJobs", resource=job_id)]
                end = self._left_behind(facts, hints)
                return self.fail(
                    f"smoke job {name} ({job_id}) was submitted but could not be polled: "
                    f"{failure.summary}; {end}",
                    hints,
                    **facts,
                )
            status = str(job.get("status") or "UNKNOWN")
            if not history or history[-1] != status:
                history.append(status)
            waited = self.clock() - started
            facts.update(status=status, status_history=history, waited_s=round(waited, 1))
            if status == "SUCCEEDED" or (status == "RUNNING" and not smoke.require_succeeded):
                return self.ok(
                    f"submitted {name} (jobId={job_id}) to {facts['job_queue']}: {status} after "
                    f"{waited:.1f}s; parameters: {self._describe_parameters(facts)}",
                    **facts,
                )
            if status == "FAILED":
                return self._failed(ctx, job, facts)
            if status == "RUNNABLE":
                runnable_since = self.clock() if runnable_since is None else runnable_since
                stuck = self.clock() - runnable_since
                if stuck >= smoke.runnable_timeout_seconds:
                    return self._stuck(ctx, batch, job, stuck, facts)
            if waited >= limit:
                why = "the run's time budget" if budget_limited else "smoke.timeout_seconds"
                goal = "SUCCEEDED" if smoke.require_succeeded else "RUNNING"
                facts.update(self._terminate(batch, job_id, f"not {goal} within {why}"))
                hints = [
                    f"Raise smoke.timeout_seconds (now {smoke.timeout_seconds}s) or the time "
                    "budget if the job needs longer to start; "
                    f"`aws batch describe-jobs --jobs {job_id} --region {ctx.aws.region}` "
                    "shows where it stopped"
                ]
                end = self._left_behind(facts, hints)
                return self.fail(
                    f"smoke job {name} ({job_id}) did not reach {goal} within {limit:.0f}s "
                    f"({why}); last status {status}; {end}",
                    hints,
                    **facts,
                )
            self.sleep(max(0.0, min(smoke.poll_seconds, limit - waited)))

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
        if reason.kind is ReasonClass.RESOURCES:
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
        except (ClientError, BotoCoreError) as exc:
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
