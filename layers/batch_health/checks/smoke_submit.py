"""SMOKE_SUBMIT_CHECK: a real test job is accepted, placed and started (opt-in).

Every `Ref::NAME` in every container's command is resolved before anything is submitted
(configured smoke parameters, then the job definition's defaults, then the built-in
`job_id=health-smoke-<ts>`), so a missing parameter is named, with its container, instead
of failing the submit. On a fair-share queue the job carries a share identifier and the
lowest scheduling priority (batch_health.domain.smoke); a multi-node job runs on the fewest
nodes an override allows, and is skipped when that is more than smoke.max_nodes.
The job is named and tagged so it can be found, polled within the run's time budget, and
terminated when it cannot be placed or the budget runs out, so nothing is left behind.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from batch_health.aws.concurrency import slot_released
from batch_health.aws.errors import AWS_ERRORS, classify
from batch_health.checks.base import Check, CheckContext
from batch_health.checks.job_context import job_hint_context
from batch_health.checks.placement import smoke_never
from batch_health.checks.smoke_pending import judge_stuck, submitted
from batch_health.domain.arns import resource_name
from batch_health.domain.job_definition import MULTI_NODE, JobDefinitionView
from batch_health.domain.reason_hints import HintContext, reason_hint
from batch_health.domain.smoke import (
    NodeChoice,
    ShareChoice,
    choose_nodes,
    choose_share,
    quota_share_only,
    smoke_job_name,
)
from batch_health.domain.smoke_plan import SmokePlan, Watch
from batch_health.domain.status_reasons import PLACEMENT, classify_job
from batch_health.models import CheckResult, utc_now

# Below this much time left, a submitted job could not be watched: do not submit.
MIN_BUDGET_S = 5.0
# Kept back from the time budget for terminate_job.
TERMINATE_RESERVE_S = 2.0


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
    needs = ("job_definition", "job_queue", "scheduling_policy", "placement_environments")
    services = ("batch", "ec2", "service-quotas")
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
        nodes = self._nodes(jd)
        share = self._share(ctx)
        if isinstance(share, CheckResult):
            return share
        plan = SmokePlan.for_target(ctx.target, jd, smoke_job_name(self.now()), share, nodes)
        if plan.unresolved:
            return self._unresolved(jd, plan)
        unplaceable = self._unplaceable(ctx, jd, nodes, plan)
        if unplaceable is not None:
            return unplaceable
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

    def _unplaceable(
        self, ctx: CheckContext, jd: JobDefinitionView, nodes: NodeChoice | None, plan: SmokePlan
    ) -> CheckResult | None:
        """More nodes than the queue may run (SKIP), or a job that could never leave
        RUNNABLE (FAIL, nothing submitted)."""
        too_many = self._too_many_nodes(ctx, nodes)
        if too_many:
            return self.skip(too_many)
        never = smoke_never(ctx, jd, nodes)
        return None if never is None else self.fail(never[0], never[1], **never[2], **plan.facts)

    def _unresolved(self, jd: JobDefinitionView, plan: SmokePlan) -> CheckResult:
        jd_name = plan.job_definition_name
        several = len(jd.containers) > 1
        refs = ", ".join(
            f"Ref::{n}" + (f" (in {', '.join(plan.unresolved_in[n])})" if several else "")
            for n in plan.unresolved
        )
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
            unresolved_in=plan.unresolved_in,
            **{k: v for k, v in plan.facts.items() if k != "tags"},
        )

    def _share(self, ctx: CheckContext) -> ShareChoice | CheckResult | None:
        """The share and priority for a fair-share queue; None for a queue without a
        scheduling policy (SubmitJob: don't send a share identifier there); a FAIL or SKIP
        when the policy cannot be read, or names no share the job could take."""
        smoke, queue_name = ctx.target.smoke, ctx.target.job_queue
        try:
            queue = ctx.aws.job_queue() or {}
        except AWS_ERRORS as exc:
            return self.aws_fail(
                exc,
                action="batch:DescribeJobQueues",
                resource=queue_name,
                what=f"job queue {queue_name}",
            )
        policy_arn = queue.get("schedulingPolicyArn")
        if not isinstance(policy_arn, str) or not policy_arn:
            return None
        policy = None
        if not smoke.share_identifier:
            try:
                policy = ctx.aws.scheduling_policy()
            except AWS_ERRORS as exc:
                failure = classify(exc)
                return self.fail(
                    f"job queue {queue_name} is fair-share (policy {resource_name(policy_arn)}) "
                    f"and its scheduling policy could not be read: {failure.summary}; nothing "
                    "was submitted",
                    [
                        failure.hint(
                            action="batch:DescribeSchedulingPolicies", resource=policy_arn
                        ),
                        "Or set smoke.share_identifier in the target config, so the policy "
                        "need not be read",
                    ],
                    error_kind=failure.kind.value,
                    error_code=failure.code,
                    scheduling_policy=policy_arn,
                )
            if quota_share_only(policy):
                return self.skip(
                    f"job queue {queue_name} has the quota-share scheduling policy "
                    f"{resource_name(policy_arn)}: set smoke.share_identifier to the share "
                    "the smoke job should use"
                )
        return choose_share(smoke.share_identifier, smoke.scheduling_priority, policy)

    @staticmethod
    def _nodes(jd: JobDefinitionView) -> NodeChoice | None:
        if jd.shape != MULTI_NODE:
            return None
        ranges = [(r.first, r.open_end) for r in jd.node_ranges]
        return choose_nodes(ranges, jd.main_node, jd.num_nodes, jd.on_fargate)

    @staticmethod
    def _too_many_nodes(ctx: CheckContext, nodes: NodeChoice | None) -> str | None:
        limit = ctx.target.smoke.max_nodes
        if nodes is None or nodes.num_nodes is None or nodes.num_nodes <= limit:
            return None
        return (
            f"a smoke job would hold {nodes.num_nodes} instances ({nodes.why}), more than "
            f"smoke.max_nodes={limit}: raise smoke.max_nodes to submit it"
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
                    f"{self._describe_parameters(facts)}{self._describe_placement(facts)}",
                    **facts,
                )
            if status == "FAILED":
                return self._failed(ctx, job, facts)
            stuck = watch.runnable_for(status, self.clock())
            if stuck >= ctx.target.smoke.runnable_timeout_seconds:
                return self._stuck(ctx, batch, job, stuck, facts)
            if watch.waited >= watch.limit:
                return self._timed_out(ctx, batch, watch, status, facts)
            # Waiting for the job is no work: the slot goes to other checks meanwhile.
            with slot_released():
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
    def _describe_placement(facts: dict[str, Any]) -> str:
        """The share and the nodes the job took, when it is fair-share or multi-node."""
        said = ""
        if "share_identifier" in facts:
            said += (
                f"; share {facts['share_identifier']} ({facts['share_source']}), scheduling "
                f"priority {facts['scheduling_priority']} ({facts['scheduling_priority_source']})"
            )
        if facts.get("num_nodes") is not None:
            said += f"; {facts['num_nodes']} nodes ({facts['num_nodes_source']})"
        return said

    @staticmethod
    def _describe_parameters(facts: dict[str, Any]) -> str:
        params = facts.get("parameters") or {}
        if not params:
            return "none referenced"
        return ", ".join(f"{n}={p['value']} ({p['source']})" for n, p in params.items())
