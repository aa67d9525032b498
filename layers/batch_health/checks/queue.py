"""QUEUE_CHECK: the job queue exists, is ENABLED and VALID, and has compute attached."""

from __future__ import annotations

from batch_health.aws.errors import AWS_ERRORS
from batch_health.checks.base import Check, CheckContext
from batch_health.models import CheckResult

TRANSIENT_STATUSES = {"CREATING", "UPDATING"}


class QueueCheck(Check):
    name = "QUEUE_CHECK"
    step = 2
    step_title = "QUEUE"
    title = "Job queue is usable"
    verifies = "The job queue exists, state=ENABLED, status=VALID, at least one compute environment"
    depends_on = ("AWS_ACCESS",)
    needs = ("job_queue",)
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
        facts = {
            "state": state,
            "status": status,
            "statusReason": reason,
            "jobQueueArn": queue.get("jobQueueArn", ""),
            "priority": queue.get("priority"),
            "computeEnvironmentOrder": order,
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
        return self.ok(f"state={state} status={status} jobQueueArn={facts['jobQueueArn']}", **facts)
