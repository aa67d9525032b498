"""Will this job ever leave RUNNABLE? The placement analysis, over facts read once a run.

`JobNeeds` is what a job asks (from its job definition or DescribeJobs entry);
`EnvironmentFacts` what one compute environment of its queue offers (DescribeComputeEnvironments
plus the inventory's DescribeInstanceTypes, DescribeSubnets, DescribeInstanceTypeOfferings,
GetServiceQuota and running jobs). `judge` gives NEVER (no environment can ever place it,
each environment's unmet constraints kept with numbers and fix), WAITING (it fits one
that is at maxvCpus or scaling), FITS (it fits one with room) or UNKNOWN (a needed fact
could not be read: named). Multi-node parallel jobs run neither on Fargate, Spot nor
UNMANAGED environments, one node per instance, every node on one instance type
(https://docs.aws.amazon.com/batch/latest/userguide/mnp-ce.html,
https://docs.aws.amazon.com/batch/latest/userguide/multi-node-parallel-jobs.html,
https://docs.aws.amazon.com/batch/latest/userguide/mnp-node-groups.html). A multi-container
task is placed whole (its containers' sum); an EKS pod asks the larger of its containers'
sum and its largest init container, Batch reading `requests`, else `limits`
(https://docs.aws.amazon.com/batch/latest/userguide/memory-cpu-batch-eks.html,
https://kubernetes.io/docs/concepts/workloads/pods/init-containers/#resource-sharing-within-containers).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from batch_health.domain import instance_types as types_
from batch_health.domain.fargate import FARGATE_MULTI_NODE_SOURCE, fargate_shortfalls
from batch_health.domain.instance_types import EnvironmentFacts, InstanceType, Platform
from batch_health.domain.job_definition import JobDefinitionView
from batch_health.domain.job_parts import Task, items, mapping, text
from batch_health.domain.service_quotas import Constraint, environment_quota_shortfall
from batch_health.domain.service_quotas import Shortfall as Unmet
from batch_health.domain.status_reasons import BLOCKED_CODE
from batch_health.text import clip, one_line

MNP_CE_SOURCE = "https://docs.aws.amazon.com/batch/latest/userguide/mnp-ce.html"


class Verdict(StrEnum):
    NEVER = "NEVER"
    WAITING = "WAITING"
    FITS = "FITS"
    UNKNOWN = "UNKNOWN"


# --- what the job asks ----------------------------------------------------------------
def _decimal(value: Any) -> Decimal:
    try:
        return Decimal(str(value)) if value is not None else Decimal(0)
    except InvalidOperation:
        return Decimal(0)


_UNITS = {u: Decimal(2) ** (10 * n) for n, u in enumerate(("Ki", "Mi", "Gi", "Ti"), 1)}
_UNITS |= {u: Decimal(10) ** (3 * n) for n, u in enumerate(("k", "M", "G", "T"), 1)}
_UNITS["m"] = Decimal("0.001")


def k8s_quantity(value: Any) -> Decimal:
    """A Kubernetes quantity ("2", "500m", "1024Mi", "2Gi", "1G") as a plain number."""
    raw = str(value).strip() if value is not None else ""
    unit = next((u for u in _UNITS if raw.endswith(u) and raw[: -len(u)]), "")
    return _decimal(raw[: -len(unit)] if unit else raw) * _UNITS.get(unit, Decimal(1))


Sizes = tuple[Decimal, int, int]  # vCPUs, memory MiB, GPUs


def _sum(sizes: list[Sizes]) -> Sizes:
    cpu, mem, gpu = zip(*sizes, strict=True) if sizes else ((), (), ())
    return sum(cpu, Decimal(0)), sum(mem), sum(gpu)


def _largest(sizes: list[Sizes]) -> Sizes:
    if not sizes:
        return _sum([])
    cpu, mem, gpu = zip(*sizes, strict=True)
    return max(cpu), max(mem), max(gpu)


def _ecs_container(res: Mapping[str, str]) -> Sizes:
    gpus = int(_decimal(res.get("GPU")))
    return _decimal(res.get("VCPU")), math.ceil(_decimal(res.get("MEMORY"))), gpus


def _task_sizes(task: Task) -> Sizes:
    return _sum([_ecs_container(c.resources or {}) for c in task.containers])


def _eks_container(props: Mapping[str, Any]) -> Sizes:
    res = mapping(props.get("resources"))
    asked = {**mapping(res.get("limits")), **mapping(res.get("requests"))}
    mib = math.ceil(k8s_quantity(asked.get("memory")) / 2**20)
    return k8s_quantity(asked.get("cpu")), mib, int(k8s_quantity(asked.get("nvidia.com/gpu")))


def _pod_sizes(eks_properties: Any) -> Sizes:
    pod = mapping(mapping(eks_properties).get("podProperties"))
    app = _sum([_eks_container(c) for c in items(pod.get("containers"))])
    return _largest([app, *(_eks_container(c) for c in items(pod.get("initContainers")))])


def _range_sizes(jd: JobDefinitionView) -> tuple[Sizes, tuple[str, ...]]:
    raw_ranges = items(mapping(jd.raw.get("nodeProperties")).get("nodeRangeProperties"))
    sizes, pinned = [], []
    for node_range, raw in zip(jd.node_ranges, raw_ranges, strict=False):
        parts = [_task_sizes(t) for t in node_range.tasks]
        if mapping(raw.get("eksProperties")):
            parts.append(_pod_sizes(raw.get("eksProperties")))
        sizes.append(_sum(parts))
        pinned += [
            *node_range.instance_types,
            text(mapping(raw.get("container")).get("instanceType")),
        ]
    return _largest(sizes), tuple(dict.fromkeys(p for p in pinned if p))


def _num(value: Decimal | float) -> str:
    d = Decimal(str(value)).normalize()
    return f"{int(d):,}" if d == d.to_integral() else f"{d:f}"


@dataclass(frozen=True)
class JobNeeds:
    vcpus: Decimal  # per node
    memory_mib: int
    gpus: int
    nodes: int
    platform: Platform
    source: str  # "job definition NAME:REV defaults", "job ID"
    multi_node: bool = False
    instance_types: tuple[str, ...] = ()  # a multi-node job's pinned instanceType

    @property
    def total_vcpus(self) -> Decimal:
        return self.vcpus * self.nodes

    @property
    def asks(self) -> str:
        gpu = f", {self.gpus} GPU" if self.gpus else ""
        per = f" per node x {self.nodes} nodes" if self.multi_node else ""
        return f"{_num(self.vcpus)} vCPU, {self.memory_mib} MiB{gpu}{per}"

    @classmethod
    def from_job_definition(cls, jd: JobDefinitionView, *, source: str = "") -> JobNeeds:
        multi, pinned = jd.shape == "multinode", tuple[str, ...]()
        if multi:
            sizes, pinned = _range_sizes(jd)
        elif jd.eks_pod is not None:
            sizes = _pod_sizes(jd.raw.get("eksProperties"))
        else:
            sizes = _sum([_task_sizes(t) for t in jd.tasks])
        platform = Platform.FARGATE if jd.on_fargate else Platform.EC2
        return cls(
            *sizes,
            nodes=(jd.num_nodes or 1) if multi else 1,
            platform=Platform.EKS if jd.on_eks else platform,
            source=source or f"job definition {jd.label('?')} defaults",
            multi_node=multi,
            instance_types=pinned,
        )

    @classmethod
    def from_job(cls, job: Mapping[str, Any]) -> JobNeeds:
        """A DescribeJobs entry (overrides applied): `container`, `ecsProperties`,
        `nodeProperties` or `eksProperties`, read as a job definition's."""
        answer = dict(job)
        if mapping(job.get("container")) and "containerProperties" not in answer:
            answer["containerProperties"] = job["container"]
        view = JobDefinitionView.parse(answer)
        return cls.from_job_definition(view, source=f"job {text(job.get('jobId')) or '?'}")


# --- the judgement ----------------------------------------------------------------------
@dataclass(frozen=True)
class Finding:
    environment: str
    verdict: Verdict
    unmet: tuple[Unmet, ...] = ()  # each with `code` (a Constraint), `detail`, `fix`
    text: str = ""  # why it waits, fits, or is unknown
    fitting: tuple[str, ...] = ()  # the instance types that hold the job
    unchecked: tuple[str, ...] = ()  # checks skipped for want of a fact

    @property
    def reason(self) -> str:
        return "; ".join(u.detail for u in self.unmet) or self.text


@dataclass(frozen=True)
class Placement:
    verdict: Verdict
    needs: JobNeeds
    findings: tuple[Finding, ...]
    constraint: Constraint | None = None  # NEVER: the queue's unmet constraint

    @property
    def summary(self) -> str:
        head = f"{self.needs.source} asks {self.needs.asks}"
        if self.verdict is Verdict.NEVER:
            envs = " | ".join(
                f"{f.environment}: " + "; ".join(f"{u.detail} (fix: {u.fix})" for u in f.unmet)
                for f in self.findings
            )
            return f"{head}; no compute environment of the queue can ever place it. {envs}"
        these = [f"{f.environment}: {f.reason}" for f in self.findings if f.verdict is self.verdict]
        return f"{head}; {self.verdict}: " + " | ".join(these)


def judge(needs: JobNeeds, queue_environments: list[EnvironmentFacts]) -> Placement:
    """The job against every compute environment of its queue, in the queue's order."""
    findings = tuple(_assess(needs, env) for env in queue_environments)
    if not findings:
        none = Unmet(Constraint.NO_ENVIRONMENTS, "the queue has no compute environment", "add one")
        findings = (Finding("-", Verdict.NEVER, (none,)),)
    for verdict in (Verdict.FITS, Verdict.WAITING, Verdict.UNKNOWN):
        if any(f.verdict is verdict for f in findings):
            return Placement(verdict, needs, findings)
    code = findings[0].unmet[0].code
    if {f.unmet[0].code for f in findings} <= {
        Constraint.ENVIRONMENT_DISABLED,
        Constraint.ENVIRONMENT_INVALID,
    }:
        code = Constraint.ALL_ENVIRONMENTS_DISABLED_OR_INVALID
    return Placement(Verdict.NEVER, needs, findings, code)


def _gate(needs: JobNeeds, env: EnvironmentFacts) -> Unmet | None:
    """What rules the environment out whatever the job's size."""
    name, status = env.name, env.status
    if env.state != "ENABLED":
        fix = f"`aws batch update-compute-environment --compute-environment {name} --state ENABLED`"
        return Unmet(Constraint.ENVIRONMENT_DISABLED, f"{name} is {env.state or 'DISABLED'}", fix)
    if status in ("INVALID", "DELETING", "DELETED"):
        why = f"{name} is {status}" + (f": {env.status_reason}" if env.status_reason else "")
        fix = "fix what its statusReason names, then update it" if status == "INVALID" else ""
        return Unmet(Constraint.ENVIRONMENT_INVALID, why, fix or "attach a live one to the queue")
    if needs.platform is not env.platform:
        return Unmet(
            Constraint.PLATFORM_MISMATCH,
            f"the job runs on {needs.platform}; {name} runs {env.platform} jobs",
            f"submit it to a queue of {needs.platform} compute environments, or register the job "
            f"definition for {env.platform} (platformCapabilities, eksProperties)",
        )
    kind = {"FARGATE": "Fargate", "FARGATE_SPOT": "Fargate", "SPOT": "Spot"}.get(env.type)
    kind = kind or ("UNMANAGED" if env.type == "UNMANAGED" else "")
    if needs.multi_node and kind:
        source = FARGATE_MULTI_NODE_SOURCE if kind == "Fargate" else MNP_CE_SOURCE
        return Unmet(
            Constraint.MULTI_NODE_NOT_SUPPORTED,
            f"multi-node parallel jobs do not run on {kind} environments ({name}; {source})",
            "submit it to a queue of managed On-Demand (EC2) compute environments",
        )
    return None


def _candidates(needs: JobNeeds, env: EnvironmentFacts) -> list[InstanceType] | Finding:
    """The types the environment may launch for the job (or the finding that ends it)."""
    if env.instance_types is None:
        what = "its instances' types" if env.type == "UNMANAGED" else "its instance types"
        why = f"{what} are unknown: {env.why_unread(types_.INSTANCE_TYPES)}"
        return Finding(env.name, Verdict.UNKNOWN, text=f"{env.name}: {why}")
    types = list(env.instance_types)
    types = types if env.type == "UNMANAGED" else types_.expand(env.allowed, types)
    if not types:
        why = f"DescribeInstanceTypes answered none of {', '.join(env.allowed) or 'its types'}"
        return Finding(env.name, Verdict.UNKNOWN, text=f"{env.name}: {why}")
    pinned = [t for t in types if t.name in needs.instance_types]
    if needs.instance_types and not pinned:
        asked = ", ".join(needs.instance_types)
        unmet = Unmet(
            Constraint.INSTANCE_TYPE_NOT_ALLOWED,
            f"the job pins instanceType {asked}; {env.name} allows {', '.join(env.allowed)}",
            f"add {asked} to instanceTypes of {env.name}, or change the job's instanceType",
        )
        return Finding(env.name, Verdict.NEVER, (unmet,))
    return pinned or types


Checked = tuple[list[InstanceType], Unmet | None, str]  # types kept, unmet, not checked


def _zones(env: EnvironmentFacts, fitting: list[InstanceType]) -> Checked:
    if env.subnet_azs is None or env.offerings is None:
        fact = types_.SUBNET_AZS if env.subnet_azs is None else types_.OFFERINGS
        return fitting, None, f"types offered in the subnets' zones: {env.why_unread(fact)}"
    zones = sorted({env.subnet_azs[s] for s in env.subnets if s in env.subnet_azs})
    if not zones:
        return fitting, None, "the subnets' Availability Zones are not known"
    return (*types_.zone_shortfall(fitting, zones, env.offerings, env.name), "")


def _quota(needs: JobNeeds, env: EnvironmentFacts, types: list[InstanceType]) -> Checked:
    if env.type == "UNMANAGED":
        return types, None, ""
    if env.vcpu_quotas is None:
        return types, None, f"vCPU quota: {env.why_unread(types_.VCPU_QUOTAS)}"
    pairs, vcpus = [(t.name, t.vcpus) for t in types], float(needs.vcpus)
    short, note = environment_quota_shortfall(env.type, vcpus, needs.nodes, pairs, env.vcpu_quotas)
    return types, short, note or ""


def _max_vcpus(needs: JobNeeds, env: EnvironmentFacts) -> Unmet | None:
    if env.max_vcpus is None or needs.total_vcpus <= env.max_vcpus:
        return None
    total = math.ceil(needs.total_vcpus)
    nodes = f" ({_num(needs.vcpus)} x {needs.nodes} nodes)" if needs.multi_node else ""
    return Unmet(
        Constraint.ABOVE_MAX_VCPUS,
        f"job needs {total} vCPUs{nodes}; maxvCpus of {env.name} is {env.max_vcpus}",
        f"raise maxvCpus to >= {total}: `aws batch update-compute-environment "
        f"--compute-environment {env.name} --compute-resources maxvCpus={total}`",
    )


def _capacity(needs: JobNeeds, env: EnvironmentFacts, fitting: list[InstanceType]) -> Finding:
    """FITS, or WAITING when the environment's vCPUs are held by running jobs (at
    maxvCpus) or it is scaling up (desired above what runs and above minvCpus)."""
    name, top, desired = env.name, env.max_vcpus, env.desired_vcpus
    running, jobs, floor = env.running_vcpus, env.running_jobs, Decimal(env.min_vcpus or 0)
    held = f"{'its' if jobs is None else jobs} running jobs"
    held += f" ({_num(running)} vCPUs)" if running is not None else ""
    free = "it starts when they finish, or raise maxvCpus"
    why = ""
    if running is None and desired is not None and top is not None and desired >= top:
        unread = env.why_unread(types_.RUNNING)
        why = f"{name} is at maxvCpus ({desired} of {top}), held by {held} ({unread}): {free}"
    elif running is not None and top is not None and running + needs.total_vcpus > top:
        why = f"{name} is at maxvCpus: {held} hold {_num(running)} of its {top}: {free}"
    elif running is not None and desired is not None and desired > max(running, floor):
        since = f" for {env.scaling_for_seconds / 60:.0f} min" if env.scaling_for_seconds else ""
        why = f"{name} is scaling up{since}: desired {desired} vCPUs, {_num(running)} held by "
        why += "running jobs; instances are launching"
    if why:
        return Finding(name, Verdict.WAITING, text=why)
    on = f" on {types_.type_names(fitting)}" if fitting else ""
    fits = tuple(t.name for t in fitting)
    return Finding(name, Verdict.FITS, text=f"fits {name}{on}", fitting=fits)


def _assess(needs: JobNeeds, env: EnvironmentFacts) -> Finding:
    gate = _gate(needs, env)
    if gate is not None:
        return Finding(env.name, Verdict.NEVER, (gate,))
    unmet: list[Unmet | None] = []
    notes: list[str] = []
    fitting: list[InstanceType] = []
    if env.platform is Platform.FARGATE:
        unmet += fargate_shortfalls(needs.vcpus, needs.memory_mib, needs.gpus, env.name)
    else:
        found = _candidates(needs, env)
        if isinstance(found, Finding):
            return found
        eks, cpu, mem = env.platform is Platform.EKS, needs.vcpus, needs.memory_mib
        result = types_.fit(
            found, vcpus=cpu, memory_mib=mem, gpus=needs.gpus, eks=eks, where=env.name
        )
        unmet += result.shortfalls
        if result.fitting:
            fitting, short, note = _zones(env, list(result.fitting))
            unmet, notes = [*unmet, short], [*notes, note]
    unmet.append(_max_vcpus(needs, env))
    if not any(unmet):
        _, short, note = _quota(needs, env, fitting)
        unmet, notes = [*unmet, short], [*notes, note]
    if any(unmet):
        return Finding(env.name, Verdict.NEVER, tuple(u for u in unmet if u))
    return replace(_capacity(needs, env, fitting), unchecked=tuple(n for n in notes if n))


def blocked_cause(batch_reason: str | None, placement: Placement) -> str:
    """Batch's own blocked reason, quoted; the analysis gives the cause when Batch's is
    UNDETERMINED or missing, and its numbers when it finds the job can never run."""
    reason = one_line(batch_reason or "")
    if not reason:
        return placement.summary
    found = BLOCKED_CODE.search(reason)
    quoted = f'Batch says "{clip(reason, 300)}"'
    if (found and found.group(1) == "UNDETERMINED") or placement.verdict is Verdict.NEVER:
        return f"{quoted}; the analysis: {placement.summary}"
    return quoted
