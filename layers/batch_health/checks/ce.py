"""CE_CHECK: every compute environment behind the queue can run jobs."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from batch_health.aws.errors import AWS_ERRORS
from batch_health.checks.base import Check, CheckContext
from batch_health.domain.reason_hints import HintContext, reason_hint
from batch_health.domain.status_reasons import classify_ce_reason
from batch_health.models import CheckResult

TRANSIENT_STATUSES = frozenset({"CREATING", "UPDATING"})


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


class CeCheck(Check):
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
        except AWS_ERRORS as exc:
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
        except AWS_ERRORS as exc:
            return self.aws_fail(
                exc, action="batch:DescribeComputeEnvironments", what="compute environments"
            )
        if not attached:
            return self.fail(
                f"job queue {ctx.target.job_queue} has no compute environment",
                ["Attach a compute environment to the queue (see QUEUE_CHECK)"],
            )
        ces = [_ce_facts(entry, ce) for entry, ce in attached]
        findings = Findings()
        for facts in ces:
            judge_compute_environment(facts, ctx.aws.region, findings, queue_name)
        summary = "; ".join(
            f"CE {f['ce']} state={f.get('state')} status={f.get('status')} "
            f"type={f.get('type')} maxvCpus={f.get('maxvCpus')}"
            for f in ces
            if f["found"]
        )
        if findings.failures:
            return self.fail("; ".join(findings.failures), findings.hints, compute_environments=ces)
        if findings.warnings:
            return self.warn("; ".join(findings.warnings), findings.hints, compute_environments=ces)
        return self.ok(summary, compute_environments=ces)


@dataclass
class Findings:
    """What is wrong with the queue's compute environments, and what to do about it."""

    failures: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)

    def fail(self, problem: str, hint: str) -> None:
        self.failures.append(problem)
        self.hints.append(hint)

    def warn(self, problem: str, hint: str) -> None:
        self.warnings.append(problem)
        self.hints.append(hint)


def judge_compute_environment(
    f: dict[str, Any], region: str | None, out: Findings, job_queue: str = ""
) -> None:
    """One CE's problems: missing, disabled, invalid (or changing), unmanaged, no capacity."""
    name = f["ce"]
    if not f["found"]:
        out.fail(
            f"CE {name} not found", f"Re-create CE {name} or attach an existing one to the queue"
        )
        return
    if f["state"] != "ENABLED":
        out.fail(
            f"CE {name} is {f['state']}",
            f"Enable it: `aws batch update-compute-environment --compute-environment "
            f"{name} --state ENABLED --region {region}`",
        )
    if f["status"] != "VALID":
        judge_status(f, HintContext(region=region or "", job_queue=job_queue), out)
    if f["type"] == "UNMANAGED":
        out.warn(
            f"CE {name} is UNMANAGED (Batch does not scale it)",
            f"Make sure instances are registered to CE {name}'s ECS cluster",
        )
    judge_capacity(f, out)


def judge_status(f: dict[str, Any], context: HintContext, out: Findings) -> None:
    """A CE that is not VALID: changing (a warning), or INVALID for the cause its
    statusReason names (classified, with that cause's fix)."""
    name = f["ce"]
    said = f": {f['statusReason']}" if f["statusReason"] else ""
    if f["status"] in TRANSIENT_STATUSES:
        out.warn(
            f"CE {name} status={f['status']}{said}",
            f"CE {name} is being changed; check again in a few minutes",
        )
        return
    reason = classify_ce_reason(f["statusReason"])
    f["reason_class"] = reason.kind.value
    hint = reason_hint(reason, replace(context, compute_environments=(name,)))
    out.fail(f"CE {name} status={f['status']}{said}", hint)


def judge_capacity(f: dict[str, Any], out: Findings) -> None:
    name, max_v, desired = f["ce"], f.get("maxvCpus"), f.get("desiredvCpus")
    if max_v == 0:
        out.warn(
            f"CE {name} maxvCpus=0: no job can ever be placed",
            f"Raise maxvCpus: `aws batch update-compute-environment --compute-environment "
            f"{name} --compute-resources maxvCpus=<n>`",
        )
    elif isinstance(max_v, int) and isinstance(desired, int) and desired > max_v:
        out.warn(
            f"CE {name} desiredvCpus={desired} > maxvCpus={max_v}",
            f"Raise CE {name}'s maxvCpus or check for stuck scaling",
        )
