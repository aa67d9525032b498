"""CE_CHECK: every compute environment behind the queue can run jobs."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from batch_health.checks.base import Check, CheckContext
from batch_health.models import CheckResult


def _ce_facts(entry: dict[str, Any], ce: dict[str, Any] | None) -> dict[str, Any]:
    ref = entry.get("computeEnvironment", "")
    if ce is None:
        return {"ce": ref, "order": entry.get("order"), "found": False}
    resources = ce.get("computeResources") or {}
    return {
        "ce": ce.get("computeEnvironmentName") or ref,
        "order": entry.get("order"),
        "found": True,
        "state": ce.get("state") or "UNKNOWN",
        "status": ce.get("status") or "UNKNOWN",
        "statusReason": ce.get("statusReason") or "",
        "type": ce.get("type") or "UNKNOWN",
        "resourceType": resources.get("type", ""),
        "minvCpus": resources.get("minvCpus"),
        "maxvCpus": resources.get("maxvCpus"),
        "desiredvCpus": resources.get("desiredvCpus"),
    }


class ComputeEnvironmentCheck(Check):
    name = "CE_CHECK"
    step = 2
    step_title = "CE"
    title = "Compute environments can run jobs"
    verifies = (
        "Each CE attached to the queue is ENABLED/VALID and MANAGED; warns on maxvCpus=0 or "
        "desiredvCpus > maxvCpus"
    )
    depends_on = ("QUEUE_CHECK",)
    needs = ("compute_environments",)
    services = ("batch",)
    priority = 11

    def run(self, ctx: CheckContext) -> CheckResult:
        # Read the queue first: when this check runs without QUEUE_CHECK, a missing or
        # unreadable queue must be named as such, not as "no compute environment".
        queue_name = ctx.target.job_queue
        try:
            queue = ctx.aws.job_queue()
        except (ClientError, BotoCoreError) as exc:
            return self.aws_fail(
                exc,
                action="batch:DescribeJobQueues",
                resource=queue_name,
                what=f"job queue {queue_name}",
            )
        if queue is None:
            return self.fail(
                f"job queue {queue_name} does not exist in {ctx.aws.region}, so it has no "
                "compute environment to check",
                [f"Create job queue {queue_name} or fix the name (see QUEUE_CHECK)"],
            )
        try:
            attached = ctx.aws.compute_environments()
        except (ClientError, BotoCoreError) as exc:
            return self.aws_fail(
                exc, action="batch:DescribeComputeEnvironments", what="compute environments"
            )
        if not attached:
            return self.fail(
                f"job queue {ctx.target.job_queue} has no compute environment",
                ["Attach a compute environment to the queue (see QUEUE_CHECK)"],
            )
        ces = [_ce_facts(entry, ce) for entry, ce in attached]
        failures: list[str] = []
        warnings: list[str] = []
        hints: list[str] = []
        region = ctx.aws.region
        for f in ces:
            name = f["ce"]
            if not f["found"]:
                failures.append(f"CE {name} not found")
                hints.append(f"Re-create CE {name} or attach an existing one to the queue")
                continue
            if f["state"] != "ENABLED":
                failures.append(f"CE {name} is {f['state']}")
                hints.append(
                    f"Enable it: `aws batch update-compute-environment --compute-environment "
                    f"{name} --state ENABLED --region {region}`"
                )
            if f["status"] != "VALID":
                reason = f": {f['statusReason']}" if f["statusReason"] else ""
                if f["status"] in {"CREATING", "UPDATING"}:
                    warnings.append(f"CE {name} status={f['status']}{reason}")
                    hints.append(f"CE {name} is being changed; check again in a few minutes")
                else:
                    failures.append(f"CE {name} status={f['status']}{reason}")
                    hints.append(
                        f"Fix what CE {name}'s statusReason names (service role, subnets, "
                        "security groups, instance profile), then update the CE"
                    )
            if f["type"] == "UNMANAGED":
                warnings.append(f"CE {name} is UNMANAGED (Batch does not scale it)")
                hints.append(f"Make sure instances are registered to CE {name}'s ECS cluster")
            max_v, desired = f.get("maxvCpus"), f.get("desiredvCpus")
            if max_v == 0:
                warnings.append(f"CE {name} maxvCpus=0: no job can ever be placed")
                hints.append(
                    f"Raise maxvCpus: `aws batch update-compute-environment --compute-environment "
                    f"{name} --compute-resources maxvCpus=<n>`"
                )
            elif isinstance(max_v, int) and isinstance(desired, int) and desired > max_v:
                warnings.append(f"CE {name} desiredvCpus={desired} > maxvCpus={max_v}")
                hints.append(f"Raise CE {name}'s maxvCpus or check for stuck scaling")
        summary = "; ".join(
            f"CE {f['ce']} state={f.get('state')} status={f.get('status')} "
            f"type={f.get('type')} maxvCpus={f.get('maxvCpus')}"
            for f in ces
            if f["found"]
        )
        if failures:
            return self.fail("; ".join(failures), hints, compute_environments=ces)
        if warnings:
            return self.warn("; ".join(warnings), hints, compute_environments=ces)
        return self.ok(summary, compute_environments=ces)
