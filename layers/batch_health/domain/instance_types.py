"""EC2 instance types as Batch places jobs on them: what a type gives to containers, which
types a compute environment's `instanceTypes` allows, and the facts read about one compute
environment (`EnvironmentFacts`: DescribeComputeEnvironments and what the inventory adds).

Memory. The ECS agent registers less memory than the type has installed: "Because of
platform memory overhead and memory occupied by the system kernel, this number is
different than the installed memory amount ... an m4.large instance has 8 GiB of installed
memory [but] this doesn't always translate to exactly 8192 MiB ... Suppose that you specify
8192 MiB for the job, and none of your compute resources have 8192 MiB or greater ... the
job can't be placed"; the operating system of AWS's example m4.large sees 8373026816 bytes
(7985 MiB), and the default Batch AMI reserves 32 MiB more for the agent
(https://docs.aws.amazon.com/batch/latest/userguide/memory-management.html). AWS gives no
formula for other types, so the kernel's share is taken as the example's (207 of 8192 MiB)
scaled to the type and capped at those 207 MiB. This estimate assumes (AWS does not say)
that the kernel takes no less on larger types, so it errs towards "fits": a job is judged
too large only when even this figure is short. The figure ECS really registers is on the
container instance (ecs:DescribeContainerInstances, registeredResources MEMORY).

On EKS, Batch relies on the EKS AMI's reservations and documents them: CPU 6% of the first
core, 1% of the second, 0.5% of the third and fourth, 0.25% of each further core (a
c5.large keeps 1.93 vCPUs for pods), and memory less 11 MiB per pod the type supports plus
255 MiB (kubeReserved) and the eviction threshold (100 MiB in AWS's example)
(https://docs.aws.amazon.com/batch/latest/userguide/memory-cpu-batch-eks.html). The pods a
type supports are "# of ENI * (# of IPv4 per ENI - 1) + 2"
(https://github.com/awslabs/amazon-eks-ami/blob/32d2ac42612e6cff05df03e7be8094cfa9250da1/files/eni-max-pods.txt),
from DescribeInstanceTypes' NetworkInfo.

Allowed types. `instanceTypes` names families ("c5": every c5 size), exact types
("c5.8xlarge") or a category Batch picks from: `optimal` (the c4, m4, r4, c5, m5 and r5
families; "semantically equivalent to default_x86_64" since 11/01/2025), `default_x86_64`
(m6i, c6i, r6i, c7i) and `default_arm64` (m6g, c6g, r6g, c7g)
(ComputeResource.instanceTypes,
https://docs.aws.amazon.com/batch/latest/APIReference/API_ComputeResource.html). Which
families Batch uses varies by Region and the docs give no per-Region list here, so
`optimal` expands to both documented sets: more types, never a wrongly missing one.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from enum import StrEnum
from typing import Any

from batch_health.domain.job_parts import items, mapping, strings, text
from batch_health.domain.service_quotas import Constraint, Shortfall, family_of

MEMORY_SOURCE = "https://docs.aws.amazon.com/batch/latest/userguide/memory-management.html"
EKS_SOURCE = "https://docs.aws.amazon.com/batch/latest/userguide/memory-cpu-batch-eks.html"

# AWS's m4.large example: 8192 MiB installed, 7985 MiB seen by the operating system.
_EXAMPLE_INSTALLED, _EXAMPLE_KERNEL = 8192, 8192 - 7985
ECS_AGENT_RESERVED_MIB = 32
EKS_KUBE_RESERVED_BASE_MIB, EKS_KUBE_RESERVED_PER_POD_MIB, EKS_EVICTION_MIB = 255, 11, 100

DEFAULT_X86_64 = ("m6i", "c6i", "r6i", "c7i")
DEFAULT_ARM64 = ("m6g", "c6g", "r6g", "c7g")
OPTIMAL = ("c4", "m4", "r4", "c5", "m5", "r5", *DEFAULT_X86_64)
CATEGORIES: Mapping[str, tuple[str, ...]] = {
    "optimal": OPTIMAL,
    "default_x86_64": DEFAULT_X86_64,
    "default_arm64": DEFAULT_ARM64,
}


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def kernel_share_mib(installed_mib: int) -> int:
    """The memory the kernel and platform keep (the m4.large example's share, capped)."""
    return min(math.ceil(installed_mib * _EXAMPLE_KERNEL / _EXAMPLE_INSTALLED), _EXAMPLE_KERNEL)


def eks_cpu_reserved_millicores(vcpus: int) -> Decimal:
    """The EKS AMI's CPU reservation (c5.large: 70m, c5.24xlarge: 310m)."""
    steps = ((1, Decimal(60)), (1, Decimal(10)), (2, Decimal(5)))
    reserved, left = Decimal(0), vcpus
    for cores, per_core in steps:
        taken = min(cores, left)
        reserved, left = reserved + taken * per_core, left - taken
    return reserved + left * Decimal("2.5")


@dataclass(frozen=True)
class InstanceType:
    """One DescribeInstanceTypes entry, as far as placement reads it."""

    name: str
    vcpus: int
    memory_mib: int  # installed
    gpus: int = 0
    architectures: tuple[str, ...] = ()
    max_enis: int | None = None
    ipv4_per_eni: int | None = None

    @classmethod
    def from_describe(cls, entry: Mapping[str, Any]) -> InstanceType | None:
        """`InstanceType`, `VCpuInfo.DefaultVCpus`, `MemoryInfo.SizeInMiB`,
        `GpuInfo.Gpus[].Count`, `ProcessorInfo.SupportedArchitectures`, `NetworkInfo`;
        None when the entry lacks a name, vCPUs or memory."""
        name = text(entry.get("InstanceType"))
        vcpus = _int(mapping(entry.get("VCpuInfo")).get("DefaultVCpus"))
        memory = _int(mapping(entry.get("MemoryInfo")).get("SizeInMiB"))
        if not name or vcpus is None or memory is None:
            return None
        gpus = sum(
            _int(g.get("Count")) or 0 for g in items(mapping(entry.get("GpuInfo")).get("Gpus"))
        )
        network = mapping(entry.get("NetworkInfo"))
        archs = mapping(entry.get("ProcessorInfo")).get("SupportedArchitectures")
        return cls(
            name=name,
            vcpus=vcpus,
            memory_mib=memory,
            gpus=gpus,
            architectures=tuple(a for a in archs if isinstance(a, str)) if archs else (),
            max_enis=_int(network.get("MaximumNetworkInterfaces")),
            ipv4_per_eni=_int(network.get("Ipv4AddressesPerInterface")),
        )

    @property
    def family(self) -> str:
        return family_of(self.name)

    @property
    def max_pods(self) -> int | None:
        if self.max_enis is None or self.ipv4_per_eni is None:
            return None
        return self.max_enis * (self.ipv4_per_eni - 1) + 2

    def usable_vcpus(self, *, eks: bool) -> Decimal:
        """vCPUs a job may ask for on one instance (ECS registers them all)."""
        if not eks:
            return Decimal(self.vcpus)
        return Decimal(self.vcpus) - eks_cpu_reserved_millicores(self.vcpus) / 1000

    def usable_memory_mib(self, *, eks: bool) -> int:
        """Memory (MiB) a job may ask for on one instance (an estimate; module docstring)."""
        left = self.memory_mib - kernel_share_mib(self.memory_mib)
        if not eks:
            return left - ECS_AGENT_RESERVED_MIB
        pods = self.max_pods or 0
        kube = EKS_KUBE_RESERVED_BASE_MIB + EKS_KUBE_RESERVED_PER_POD_MIB * pods
        return left - kube - EKS_EVICTION_MIB

    def memory_rule(self, *, eks: bool) -> str:
        """How `usable_memory_mib` was reached, for messages."""
        head = f"{self.memory_mib} MiB installed, less ~{kernel_share_mib(self.memory_mib)} MiB"
        if not eks:
            return f"{head} for the kernel and 32 MiB for the ECS agent ({MEMORY_SOURCE})"
        pods = f"11 MiB x {self.max_pods} pods + " if self.max_pods else ""
        return f"{head} for the kernel, {pods}255 MiB kubeReserved, 100 MiB eviction ({EKS_SOURCE})"


def installed_needed_mib(asked_mib: int, *, eks: bool) -> int:
    """The least installed memory whose usable share (for a type without EKS pods
    counted) holds `asked_mib`: what to allow instead."""
    installed = asked_mib
    while InstanceType("probe", 1, installed).usable_memory_mib(eks=eks) < asked_mib:
        installed += 1
    return installed


def instance_types_from(pages: Iterable[Mapping[str, Any]]) -> tuple[InstanceType, ...]:
    """Every type of DescribeInstanceTypes answers (one per page)."""
    found = (InstanceType.from_describe(e) for p in pages for e in items(p.get("InstanceTypes")))
    return tuple(t for t in found if t is not None)


def offerings_from(pages: Iterable[Mapping[str, Any]]) -> dict[str, frozenset[str]]:
    """Availability Zone -> the types offered there, from DescribeInstanceTypeOfferings
    answers (LocationType="availability-zone")."""
    zones: dict[str, set[str]] = {}
    for page in pages:
        for offer in items(page.get("InstanceTypeOfferings")):
            zone, name = text(offer.get("Location")), text(offer.get("InstanceType"))
            if zone and name:
                zones.setdefault(zone, set()).add(name)
    return {z: frozenset(names) for z, names in zones.items()}


def subnet_azs_from(pages: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """Subnet ID -> its Availability Zone, from DescribeSubnets answers."""
    return {
        text(s.get("SubnetId")): text(s.get("AvailabilityZone"))
        for page in pages
        for s in items(page.get("Subnets"))
        if text(s.get("SubnetId")) and text(s.get("AvailabilityZone"))
    }


def describe_filters(allowed: Iterable[str]) -> list[str]:
    """The `instance-type` filter values for DescribeInstanceTypes that cover `allowed`
    (["c5", "m5.large", "optimal"] -> ["c5.*", "m5.large", "c4.*", ...])."""
    values: list[str] = []
    for token in allowed:
        families = CATEGORIES.get(token)
        if families is not None:
            values += [f"{f}.*" for f in families]
        else:
            values.append(token if "." in token else f"{token}.*")
    return list(dict.fromkeys(values))


def expand(allowed: Iterable[str], described: Iterable[InstanceType]) -> list[InstanceType]:
    """The described types that `allowed` lets Batch launch, in described order."""
    tokens = list(allowed)
    exact = {t for t in tokens if "." in t}
    families = {t for t in tokens if "." not in t and t not in CATEGORIES}
    families.update(f for t in tokens for f in CATEGORIES.get(t, ()))
    chosen = [t for t in described if t.name in exact or t.family in families]
    return list({t.name: t for t in chosen}.values())


def type_names(types: Iterable[InstanceType], limit: int = 4) -> str:
    """ "c5.large, c5.xlarge and 3 more"."""
    names = [t.name for t in types]
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def _num(value: Decimal) -> str:
    return f"{value.normalize():f}"


@dataclass(frozen=True)
class Fit:
    fitting: tuple[InstanceType, ...]  # the types that hold the job, smallest first
    shortfalls: tuple[Shortfall, ...]  # empty when some type fits


def fit(
    types: list[InstanceType], *, vcpus: Decimal, memory_mib: int, gpus: int, eks: bool, where: str
) -> Fit:
    """Which of `types` hold one node of the job; the unmet resources when none does."""
    gpu_ok = [t for t in types if t.gpus >= gpus]
    cpu_ok = [t for t in types if t.usable_vcpus(eks=eks) >= vcpus]
    mem_ok = [t for t in types if t.usable_memory_mib(eks=eks) >= memory_mib]
    fitting = sorted(
        (t for t in gpu_ok if t in cpu_ok and t in mem_ok), key=lambda t: (t.vcpus, t.memory_mib)
    )
    if fitting:
        return Fit(tuple(fitting), ())
    short: list[Shortfall] = []
    if not gpu_ok:
        most = max(types, key=lambda t: t.gpus)
        short.append(
            Shortfall(
                Constraint.GPU_NOT_OFFERED,
                f"job asks {gpus} GPU; the most an allowed type has is {most.gpus} ({most.name})",
                f"allow instance types with >= {gpus} GPUs in {where}, or lower GPU",
            )
        )
    if not cpu_ok:
        top = max(types, key=lambda t: t.usable_vcpus(eks=eks))
        usable = top.usable_vcpus(eks=eks)
        reserve = " after the EKS node's CPU reservation" if eks else ""
        short.append(
            Shortfall(
                Constraint.VCPU_ABOVE_INSTANCE_TYPES,
                f"job asks {_num(vcpus)} vCPU; the largest allowed type {top.name} gives "
                f"{_num(usable)} vCPUs{reserve}",
                f"lower VCPU to <= {_num(usable)}, or allow types with more than "
                f"{top.vcpus} vCPUs in {where}",
            )
        )
    if not mem_ok:
        top = max(types, key=lambda t: t.usable_memory_mib(eks=eks))
        usable_mib = top.usable_memory_mib(eks=eks)
        short.append(
            Shortfall(
                Constraint.MEMORY_ABOVE_INSTANCE_TYPES,
                f"job asks {memory_mib} MiB; the largest allowed type {top.name} gives "
                f"~{usable_mib} MiB to containers ({top.memory_rule(eks=eks)})",
                f"lower MEMORY to <= {usable_mib}, or allow types with at least "
                f"{installed_needed_mib(memory_mib, eks=eks)} MiB installed in {where}",
            )
        )
    if not short:
        short.append(
            Shortfall(
                Constraint.NO_TYPE_FITS_ALL,
                f"no single allowed type holds {_num(vcpus)} vCPU, {memory_mib} MiB and "
                f"{gpus} GPU together (vCPUs: {type_names(cpu_ok)}; memory: {type_names(mem_ok)})",
                f"allow a type that has all of them in {where}, or lower the job's needs",
            )
        )
    return Fit((), tuple(short))


def zone_shortfall(
    fitting: list[InstanceType],
    zones: list[str],
    offerings: Mapping[str, frozenset[str]],
    where: str,
) -> tuple[list[InstanceType], Shortfall | None]:
    """The fitting types offered in at least one of `zones` (the Availability Zones of the
    environment's subnets), or the shortfall when none is."""
    offered = [t for t in fitting if any(t.name in offerings.get(z, frozenset()) for z in zones)]
    if offered:
        return offered, None
    in_zones = ", ".join(zones)
    return fitting, Shortfall(
        Constraint.TYPES_NOT_OFFERED_IN_SUBNET_AZS,
        f"none of the types that hold the job ({type_names(fitting)}) is offered in {in_zones}, "
        f"the Availability Zones of {where}'s subnets",
        f"add subnets in a zone that offers them to {where}, or allow types offered in {in_zones}",
    )


class Platform(StrEnum):
    EC2 = "EC2"
    FARGATE = "FARGATE"
    EKS = "EKS"


# --- what one compute environment offers ----------------------------------------------
# The facts the inventory reads for an environment, and the call that reads each.
INSTANCE_TYPES, SUBNET_AZS, OFFERINGS = "instance_types", "subnet_azs", "offerings"
VCPU_QUOTAS, RUNNING = "vcpu_quotas", "running"
_READS = {
    INSTANCE_TYPES: "ec2:DescribeInstanceTypes",
    SUBNET_AZS: "ec2:DescribeSubnets",
    OFFERINGS: "ec2:DescribeInstanceTypeOfferings",
    VCPU_QUOTAS: "servicequotas:GetServiceQuota",
    RUNNING: "batch:ListJobs jobStatus=RUNNING",
}


@dataclass(frozen=True)
class EnvironmentFacts:
    name: str
    arn: str
    state: str  # ENABLED, DISABLED
    status: str  # VALID, INVALID, CREATING, UPDATING, DELETING, DELETED
    status_reason: str
    type: str  # EC2, SPOT, FARGATE, FARGATE_SPOT, UNMANAGED
    orchestration: str  # ECS, EKS
    max_vcpus: int | None
    desired_vcpus: int | None
    min_vcpus: int | None
    allowed: tuple[str, ...]  # computeResources.instanceTypes
    subnets: tuple[str, ...]
    # Read by the inventory; None: not read (`unread[fact]` says why).
    instance_types: tuple[InstanceType, ...] | None = None  # UNMANAGED: its instances' types
    subnet_azs: Mapping[str, str] | None = None
    offerings: Mapping[str, frozenset[str]] | None = None  # zone -> types offered there
    vcpu_quotas: Mapping[str, float] | None = None  # quota code -> Quota.Value
    running_vcpus: Decimal | None = None  # held by the environment's running jobs
    running_jobs: int | None = None
    scaling_for_seconds: float | None = None
    unread: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_describe(cls, ce: Mapping[str, Any]) -> EnvironmentFacts:
        res = mapping(ce.get("computeResources"))
        eks = bool(mapping(ce.get("eksConfiguration")))
        eks = eks or text(ce.get("containerOrchestrationType")) == "EKS"
        return cls(
            name=text(ce.get("computeEnvironmentName")),
            arn=text(ce.get("computeEnvironmentArn")),
            state=text(ce.get("state")),
            status=text(ce.get("status")),
            status_reason=text(ce.get("statusReason")),
            type="UNMANAGED" if text(ce.get("type")) == "UNMANAGED" else text(res.get("type")),
            orchestration="EKS" if eks else "ECS",
            max_vcpus=_int(res.get("maxvCpus")),
            desired_vcpus=_int(res.get("desiredvCpus")),
            min_vcpus=_int(res.get("minvCpus")),
            allowed=strings(res.get("instanceTypes")),
            subnets=strings(res.get("subnets")),
        )

    def with_facts(self, **facts: Any) -> EnvironmentFacts:
        return replace(self, **facts)

    @property
    def platform(self) -> Platform:
        if self.type.startswith("FARGATE"):
            return Platform.FARGATE
        return Platform.EKS if self.orchestration == "EKS" else Platform.EC2

    def why_unread(self, fact: str) -> str:
        return self.unread.get(fact) or f"{_READS[fact]} not read"
