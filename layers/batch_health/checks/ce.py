"""CE_CHECK: every compute environment behind the queue can run jobs.

Managed environments (EC2, SPOT, FARGATE, FARGATE_SPOT; ECS or EKS orchestration) are judged
by their state, status and vCPU bounds. Batch does not scale an UNMANAGED environment: it
runs jobs only on the container instances registered to the ECS cluster Batch made for it
(https://docs.aws.amazon.com/batch/latest/userguide/create-compute-environment-unmanaged.html),
so those are read: none registered is a FAIL (nothing can run), an instance whose agent is
disconnected a WARN (ECS places no task on it: `agentConnected`,
https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ContainerInstance.html).

It also asks whether Batch can tell why jobs wait: a service role that does not allow what
Batch needs to detect capacity problems (autoscaling:DescribeScalingActivities, and
ec2:DescribeSpotFleetRequestHistory for a Spot Fleet) is a WARN; one whose policies cannot
be read is a WARN saying it went unchecked (checks/ce_service_role.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from batch_health.aws.errors import AWS_ERRORS, classify
from batch_health.checks.base import Check, CheckContext
from batch_health.checks.ce_service_role import service_role_findings
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
        "orchestration": ce.get("containerOrchestrationType")
        or ("EKS" if ce.get("eksConfiguration") else "ECS"),
        "ecsClusterArn": ce.get("ecsClusterArn") or "",
        "eksClusterArn": (ce.get("eksConfiguration") or {}).get("eksClusterArn", ""),
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
        "Each CE attached to the queue (EC2, Spot, Fargate, EKS) is ENABLED/VALID; an UNMANAGED "
        "CE has connected container instances in its ECS cluster; warns on maxvCpus=0, "
        "desiredvCpus > maxvCpus, or a service role that does not allow "
        "autoscaling:DescribeScalingActivities (EC2/Spot) or ec2:DescribeSpotFleetRequestHistory "
        "(Spot Fleet), without which Batch raises no job queue blocked event for capacity"
    )
    depends_on = ("QUEUE_CHECK",)
    needs = ("compute_environments",)
    services = ("batch", "iam")
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
            if facts.get("type") == "UNMANAGED":
                self._judge_instances(ctx, facts, findings)
        judge_service_roles(ctx, attached, ces, findings)
        summary = "; ".join(describe_ce(f) for f in ces if f["found"])
        if findings.failures:
            return self.fail(
                findings.said(findings.failures), findings.hints, compute_environments=ces
            )
        if findings.warnings:
            return self.warn(
                findings.said(findings.warnings), findings.hints, compute_environments=ces
            )
        return self.ok(findings.said([summary]), compute_environments=ces)

    @staticmethod
    def _judge_instances(ctx: CheckContext, f: dict[str, Any], out: Findings) -> None:
        cluster = f.get("ecsClusterArn") or ""
        if not cluster:
            out.warn(
                f"CE {f['ce']} is UNMANAGED and names no ECS cluster yet",
                f"Describe CE {f['ce']} again once it is VALID: Batch creates its cluster",
            )
            return
        try:
            instances = ctx.aws.container_instances(cluster)
        except AWS_ERRORS as exc:
            failure = classify(exc)
            out.warn(
                f"CE {f['ce']} is UNMANAGED and its cluster's container instances could not be "
                f"read: {failure.summary}",
                failure.hint(
                    action="ecs:ListContainerInstances and ecs:DescribeContainerInstances",
                    resource=cluster,
                ),
            )
            return
        judge_container_instances(f, instances, out)


def judge_service_roles(
    ctx: CheckContext,
    attached: list[tuple[dict[str, Any], dict[str, Any] | None]],
    ces: list[dict[str, Any]],
    out: Findings,
) -> None:
    """Whether each found CE's service role lets Batch raise blocked-queue events."""
    roles = service_role_findings(ctx.aws, [ce for _, ce in attached if ce is not None])
    for facts in ces:
        if facts["ce"] in roles.verdicts:
            facts["blocked_events"] = roles.verdicts[facts["ce"]]
    for problem, hint in roles.warnings:
        out.warn(problem, hint)
    out.notes.extend(roles.notes)


def describe_ce(f: dict[str, Any]) -> str:
    said = f"CE {f['ce']} state={f.get('state')} status={f.get('status')} type={f.get('type')}"
    if f.get("type") == "UNMANAGED":
        return said + f" instances={f.get('connected', 0)}/{f.get('registered', 0)} connected"
    kind = f.get("resourceType") or ""
    if f.get("orchestration") == "EKS":
        kind = f"{kind} on EKS".strip()
    return said + (f" ({kind})" if kind else "") + f" maxvCpus={f.get('maxvCpus')}"


def judge_container_instances(
    f: dict[str, Any], instances: list[dict[str, Any]], out: Findings
) -> None:
    """An UNMANAGED CE's container instances: none registered (FAIL), some with a
    disconnected agent (WARN, naming them)."""
    name = f["ce"]
    cluster = str(f.get("ecsClusterArn") or "").rsplit("/", 1)[-1]
    active = [i for i in instances if i.get("status") == "ACTIVE"]
    connected = [i for i in active if i.get("agentConnected") is True]
    disconnected = [i for i in active if i.get("agentConnected") is not True]
    f.update(
        registered=len(instances),
        connected=len(connected),
        disconnected=[
            str(i.get("ec2InstanceId") or i.get("containerInstanceArn")) for i in disconnected
        ],
    )
    if not active:
        others = ", ".join(sorted({str(i.get("status") or "?") for i in instances}))
        out.fail(
            f"CE {name} is UNMANAGED and its ECS cluster {cluster} has no ACTIVE container "
            f"instance{f' ({len(instances)} {others})' if instances else ''}: no job can run",
            f"Launch instances with the ECS agent and ECS_CLUSTER={cluster} in "
            "/etc/ecs/ecs.config (an ECS-optimized AMI), or attach a managed CE to the queue",
        )
        return
    if disconnected:
        ids = ", ".join(f["disconnected"])
        lost = "every" if not connected else f"{len(disconnected)} of {len(active)}"
        out.warn(
            f"CE {name} is UNMANAGED and {lost} container instance(s) of cluster {cluster} "
            f"has its ECS agent disconnected ({ids}): no job is placed on them",
            f"Check the ECS agent on {ids} (`sudo systemctl status ecs`, its log "
            "/var/log/ecs/ecs-agent.log) and the instances' route to the ECS endpoint",
        )


@dataclass
class Findings:
    """What is wrong with the queue's compute environments, and what to do about it."""

    failures: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what could not be decided, whatever the status

    def said(self, lines: list[str]) -> str:
        """The detail: these lines, then the notes."""
        return "; ".join([*lines, *self.notes])

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
    if f["type"] != "UNMANAGED":  # an UNMANAGED CE has no computeResources
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
