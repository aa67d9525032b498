"""QUEUE_CHECK: the job queue exists, is ENABLED and VALID, and has compute attached.

It also reports how the queue schedules, in its facts and its OK detail: FIFO, or fair-share
under the scheduling policy `schedulingPolicyArn` names, and its `jobStateTimeLimitActions`
(what Batch does to a job left at the head of the queue in RUNNABLE for `maxTimeSeconds`
for a given reason). Field shapes: CreateJobQueue and JobStateTimeLimitAction,
https://docs.aws.amazon.com/batch/latest/APIReference/API_CreateJobQueue.html
https://docs.aws.amazon.com/batch/latest/APIReference/API_JobStateTimeLimitAction.html

A queue with none is told how to add one (still OK): a RUNNABLE limit twice the longest
wait of the SUCCEEDED jobs ListJobs returns (`startedAt - createdAt`: from submission to
start, so at least the time each spent RUNNABLE), clamped to what `maxTimeSeconds` accepts
("The minimum value is 600 (10 minutes) and the maximum value is 86,400 (24 hours)"),
cancelling jobs Batch finds blocked for capacity or by a misconfiguration (the reasons the
user guide lists for jobStateTimeLimitActions:
https://docs.aws.amazon.com/batch/latest/userguide/job_stuck_in_runnable_capacity.html).
Nothing is added where no SUCCEEDED job can be timed (the data says why).
"""

from __future__ import annotations

import json
import math
from typing import Any

from batch_health.aws.errors import AWS_ERRORS, classify
from batch_health.checks.base import Check, CheckContext
from batch_health.domain.arns import resource_name
from batch_health.models import CheckResult

TRANSIENT_STATUSES = {"CREATING", "UPDATING"}
# JobStateTimeLimitAction.state: "The only supported value is RUNNABLE."
TIME_LIMIT_STATE = "RUNNABLE"
# JobStateTimeLimitAction.maxTimeSeconds: "The minimum value is 600 (10 minutes) and the
# maximum value is 86,400 (24 hours)."
MIN_TIME_LIMIT_S = 600
MAX_TIME_LIMIT_S = 86_400
# The reasons jobStateTimeLimitActions acts on for queues of ECS, Fargate or EKS
# environments, per the user guide's "Jobs stuck in RUNNABLE" pages (capacity and
# misconfiguration): https://docs.aws.amazon.com/batch/latest/userguide/troubleshooting.html
SUGGESTED_REASONS = (
    "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY",
    "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE",
    "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT",
)
SUGGESTED_ACTION = "CANCEL"  # the one action for queues of ECS, Fargate or EKS environments


def longest_wait_s(jobs: list[dict[str, Any]]) -> float | None:
    """The longest `startedAt - createdAt` (epoch ms in ListJobs summaries) in seconds;
    None when no job has both."""
    waits = [
        (j["startedAt"] - j["createdAt"]) / 1000
        for j in jobs
        if isinstance(j.get("startedAt"), int | float)
        and isinstance(j.get("createdAt"), int | float)
    ]
    return max((w for w in waits if w >= 0), default=None)


def suggested_time_limit_s(longest_wait: float) -> int:
    """Twice the longest wait seen, within what maxTimeSeconds accepts."""
    return min(MAX_TIME_LIMIT_S, max(MIN_TIME_LIMIT_S, math.ceil(2 * longest_wait)))


def time_limit_command(queue: str, seconds: int) -> str:
    actions = [
        {
            "reason": reason,
            "state": TIME_LIMIT_STATE,
            "maxTimeSeconds": seconds,
            "action": SUGGESTED_ACTION,
        }
        for reason in SUGGESTED_REASONS
    ]
    return (
        f"aws batch update-job-queue --job-queue {queue} --job-state-time-limit-actions "
        f"'{json.dumps(actions, separators=(',', ':'))}'"
    )


def time_limit_actions(queue: dict[str, Any]) -> list[dict[str, Any]]:
    """The queue's jobStateTimeLimitActions as given (entries that are not objects dropped)."""
    actions = queue.get("jobStateTimeLimitActions")
    return [dict(a) for a in actions if isinstance(a, dict)] if isinstance(actions, list) else []


def describe_time_limit_action(action: dict[str, Any]) -> str:
    """`CANCEL after 600 s on MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT` (the state is said
    only when it is not RUNNABLE, the one Batch supports)."""
    state = action.get("state") or TIME_LIMIT_STATE
    in_state = "" if state == TIME_LIMIT_STATE else f" in {state}"
    return (
        f"{action.get('action') or '?'} after {action.get('maxTimeSeconds', '?')} s{in_state} "
        f"on {action.get('reason') or '?'}"
    )


def describe_scheduling(policy_arn: str, actions: list[dict[str, Any]]) -> str:
    """What the OK detail adds: fair-share and its policy, and the time-limit actions."""
    said = f"; fair-share (policy {resource_name(policy_arn)})" if policy_arn else ""
    if actions:
        said += "; jobStateTimeLimitActions: " + ", ".join(
            describe_time_limit_action(a) for a in actions
        )
    return said


class QueueCheck(Check):
    name = "QUEUE_CHECK"
    step = 2
    step_title = "QUEUE"
    title = "Job queue is usable"
    verifies = (
        "The job queue exists, state=ENABLED, status=VALID, at least one compute environment; "
        "without jobStateTimeLimitActions, suggests a RUNNABLE limit (twice the longest wait of "
        "recently SUCCEEDED jobs, 600-86400 s) and its update-job-queue command"
    )
    depends_on = ("AWS_ACCESS",)
    needs = ("job_queue", "succeeded_jobs")
    services = ("batch",)
    priority = 10

    def run(self, ctx: CheckContext) -> CheckResult:
        name, region = ctx.target.job_queue, ctx.aws.region
        try:
            queue = ctx.aws.job_queue()
        except AWS_ERRORS as exc:
            return self.aws_fail(
                exc, action="batch:DescribeJobQueues", resource=name, what=f"job queue {name}"
            )
        if queue is None:
            return self.fail(
                f"job queue {name} does not exist in {region}",
                [
                    f"Create the queue or fix the name; list queues with `aws batch "
                    f"describe-job-queues --region {region} --query 'jobQueues[].jobQueueName'`"
                ],
                job_queue=name,
            )
        state = queue.get("state") or "UNKNOWN"
        status = queue.get("status") or "UNKNOWN"
        reason = queue.get("statusReason") or ""
        order = [
            {"order": e.get("order"), "ce": e.get("computeEnvironment")}
            for e in queue.get("computeEnvironmentOrder") or []
            if isinstance(e, dict)
        ]
        policy_arn = queue.get("schedulingPolicyArn")
        policy_arn = policy_arn if isinstance(policy_arn, str) else ""
        actions = time_limit_actions(queue)
        facts = {
            "state": state,
            "status": status,
            "statusReason": reason,
            "jobQueueArn": queue.get("jobQueueArn", ""),
            "priority": queue.get("priority"),
            "computeEnvironmentOrder": order,
            "schedulingPolicyArn": policy_arn,
            "scheduling": "fair-share" if policy_arn else "FIFO",
            "jobStateTimeLimitActions": actions,
        }
        if state != "ENABLED":
            return self.fail(
                f"job queue {name} is {state} (jobs submitted to it are not scheduled)",
                [f"Enable it: `aws batch update-job-queue --job-queue {name} --state ENABLED`"],
                **facts,
            )
        if status == "INVALID" or status in {"DELETING", "DELETED"}:
            return self.fail(
                f"job queue {name} status={status}" + (f": {reason}" if reason else ""),
                [
                    f"Fix what statusReason names, then update the queue: `aws batch "
                    f"describe-job-queues --job-queues {name} --query 'jobQueues[0].statusReason'`"
                ],
                **facts,
            )
        if not order:
            return self.fail(
                f"job queue {name} has no compute environment attached",
                [
                    f"Attach one: `aws batch update-job-queue --job-queue {name} "
                    "--compute-environment-order order=1,computeEnvironment=<ce-name>`"
                ],
                **facts,
            )
        if status != "VALID":
            hint = (
                "The queue is being changed; check again in a few minutes"
                if status in TRANSIENT_STATUSES
                else f"Unexpected queue status {status!r}: inspect it in the Batch console"
            )
            return self.warn(f"job queue {name} status={status}", [hint], **facts)
        detail = f"state={state} status={status} jobQueueArn={facts['jobQueueArn']}"
        detail += describe_scheduling(policy_arn, actions)
        if not actions:
            detail += self._suggest_time_limit(ctx, facts)
        return self.ok(detail, **facts)

    @staticmethod
    def _suggest_time_limit(ctx: CheckContext, facts: dict[str, Any]) -> str:
        """What the OK detail adds for a queue without jobStateTimeLimitActions: a limit
        timed from its SUCCEEDED jobs, or nothing (the data says why none was suggested)."""
        facts["suggested_job_state_time_limit_seconds"] = None
        try:
            longest = longest_wait_s(ctx.aws.succeeded_jobs())
        except AWS_ERRORS as exc:
            facts["time_limit_unsuggested"] = f"SUCCEEDED jobs unread: {classify(exc).summary}"
            return ""
        if longest is None:
            facts["time_limit_unsuggested"] = "no SUCCEEDED job to time"
            return ""
        seconds = suggested_time_limit_s(longest)
        facts.update(suggested_job_state_time_limit_seconds=seconds, longest_wait_seconds=longest)
        name = ctx.target.job_queue
        return (
            f"; no jobStateTimeLimitActions: a job that can never run holds its place until "
            f"cancelled by hand; suggested: cancel after {seconds} s (twice the longest wait "
            f"before start of its SUCCEEDED jobs, {longest:.0f} s): "
            f"`{time_limit_command(name, seconds)}`"
        )
