"""Which vCPU quota a Batch job's instances (or Fargate tasks) count against; and the
constraints a job can fail (`Constraint`, `Shortfall`) that the placement modules share.

EC2 limits the vCPUs of running On-Demand instances, and of running and requested Spot
instances, per account and Region, one quota per instance class; the quota names list the
classes ("Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances", "All P4, P3
and P2 Spot Instance Requests", ...). Names, codes (Service Quotas, service code "ec2")
and the defaults of new accounts (Standard 5, every other class 0) are AWS's table:
https://docs.aws.amazon.com/ec2/latest/instancetypes/ec2-instance-quotas.html
AWS's own GetAwsDefaultServiceQuota example shows L-1216C47A with that name:
https://docs.aws.amazon.com/cli/latest/userguide/cli_service-quotas_code_examples.html
A Batch compute environment of type EC2 launches On-Demand instances, SPOT launches Spot
(ComputeResource.type, https://docs.aws.amazon.com/batch/latest/APIReference/API_ComputeResource.html).

Fargate counts the vCPUs of running tasks (service code "fargate"): "Fargate On-Demand
vCPU resource count" and "Fargate Spot vCPU resource count", the quotas Batch points to
(https://docs.aws.amazon.com/general/latest/gr/ecs-service.html#service-quotas-fargate)
and says the On-Demand one defaults to 6 vCPUs (ResourceRequirement, type="VCPU",
https://docs.aws.amazon.com/batch/latest/APIReference/API_ResourceRequirement.html).
Their codes, L-3032A538 and L-36FBB829, are as ListServiceQuotas(ServiceCode="fargate")
names them; AWS's pages above give the names, not the codes.

The inventory reads each code with service-quotas GetServiceQuota(ServiceCode, QuotaCode)
and passes {code: Quota.Value}.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, NamedTuple

QUOTAS_SOURCE = "https://docs.aws.amazon.com/ec2/latest/instancetypes/ec2-instance-quotas.html"


# The constraints a job can fail to meet, and one unmet constraint (placement's `Unmet`),
# here in the lowest of the placement modules so that every rule can name them.
class Constraint(StrEnum):
    ENVIRONMENT_DISABLED = "ENVIRONMENT_DISABLED"
    ENVIRONMENT_INVALID = "ENVIRONMENT_INVALID"
    ALL_ENVIRONMENTS_DISABLED_OR_INVALID = "ALL_ENVIRONMENTS_DISABLED_OR_INVALID"
    NO_ENVIRONMENTS = "NO_ENVIRONMENTS"
    PLATFORM_MISMATCH = "PLATFORM_MISMATCH"
    MULTI_NODE_NOT_SUPPORTED = "MULTI_NODE_NOT_SUPPORTED"
    FARGATE_SIZE_NOT_OFFERED = "FARGATE_SIZE_NOT_OFFERED"
    GPU_NOT_OFFERED = "GPU_NOT_OFFERED"
    INSTANCE_TYPE_NOT_ALLOWED = "INSTANCE_TYPE_NOT_ALLOWED"
    VCPU_ABOVE_INSTANCE_TYPES = "VCPU_ABOVE_INSTANCE_TYPES"
    MEMORY_ABOVE_INSTANCE_TYPES = "MEMORY_ABOVE_INSTANCE_TYPES"
    NO_TYPE_FITS_ALL = "NO_TYPE_FITS_ALL"
    TYPES_NOT_OFFERED_IN_SUBNET_AZS = "TYPES_NOT_OFFERED_IN_SUBNET_AZS"
    ABOVE_MAX_VCPUS = "ABOVE_MAX_VCPUS"
    ABOVE_VCPU_QUOTA = "ABOVE_VCPU_QUOTA"


class Shortfall(NamedTuple):
    code: Constraint
    detail: str  # the numbers: what the job asks, what the environment offers at most
    fix: str


class Market(StrEnum):
    ON_DEMAND = "On-Demand"
    SPOT = "Spot"


@dataclass(frozen=True)
class VcpuQuota:
    code: str
    name: str
    service_code: str = "ec2"

    def increase_command(self, desired: int) -> str:
        return (
            f"aws service-quotas request-service-quota-increase --service-code "
            f"{self.service_code} --quota-code {self.code} --desired-value {desired}"
        )

    @property
    def label(self) -> str:
        return f"{self.code} ({self.name})"


def _q(code: str, name: str) -> VcpuQuota:
    return VcpuQuota(code, name)


_STANDARD = "(A, C, D, H, I, M, R, T, Z)"
# instance class -> (On-Demand quota, Spot quota); None where the table names no Spot
# quota for the class (High Memory and HPC run On-Demand only, and no Spot quota name
# covers P instances other than P2-P5).
_QUOTAS: dict[str, tuple[VcpuQuota, VcpuQuota | None]] = {
    "standard": (
        _q("L-1216C47A", f"Running On-Demand Standard {_STANDARD} instances"),
        _q("L-34B43A08", f"All Standard {_STANDARD} Spot Instance Requests"),
    ),
    "g_vt": (
        _q("L-DB2E81BA", "Running On-Demand G and VT instances"),
        _q("L-3819A6DF", "All G and VT Spot Instance Requests"),
    ),
    "p234": (
        _q("L-417A185B", "Running On-Demand P instances"),
        _q("L-7212CCBC", "All P4, P3 and P2 Spot Instance Requests"),
    ),
    "p5": (
        _q("L-417A185B", "Running On-Demand P instances"),
        _q("L-C4BD4855", "All P5 Spot Instance Requests"),
    ),
    "p_other": (_q("L-417A185B", "Running On-Demand P instances"), None),
    "f": (
        _q("L-74FC7D96", "Running On-Demand F instances"),
        _q("L-88CF9481", "All F Spot Instance Requests"),
    ),
    "x": (
        _q("L-7295265B", "Running On-Demand X instances"),
        _q("L-E3A00192", "All X Spot Instance Requests"),
    ),
    "inf": (
        _q("L-1945791B", "Running On-Demand Inf instances"),
        _q("L-B5D1601B", "All Inf Spot Instance Requests"),
    ),
    "trn": (
        _q("L-2C3B7624", "Running On-Demand Trn instances"),
        _q("L-6B0D517C", "All Trn Spot Instance Requests"),
    ),
    "dl": (
        _q("L-6E869C2A", "Running On-Demand DL instances"),
        _q("L-85EED4F7", "All DL Spot Instance Requests"),
    ),
    "high_memory": (_q("L-43DA4232", "Running On-Demand High Memory instances"), None),
    "hpc": (_q("L-F7808C92", "Running On-Demand HPC instances"), None),
}
# The longest prefix decides: "dl1" is DL, not Standard D; "inf2" is Inf, not Standard I;
# "hpc7a" is HPC, not Standard H; "trn1" is Trn, not Standard T; "u-6tb1" and
# "u7i-12tb" are High Memory.
_PREFIXES: tuple[tuple[str, str], ...] = (
    ("u-", "high_memory"),
    ("u7", "high_memory"),
    ("hpc", "hpc"),
    ("inf", "inf"),
    ("trn", "trn"),
    ("dl", "dl"),
    ("vt", "g_vt"),
    ("p2", "p234"),
    ("p3", "p234"),
    ("p4", "p234"),
    ("p5", "p5"),
    ("p", "p_other"),
    ("g", "g_vt"),
    ("f", "f"),
    ("x", "x"),
    *((letter, "standard") for letter in "acdhimrtz"),
)
_FAMILY = re.compile(r"^([a-z0-9-]+?)\.")

FARGATE_QUOTA = VcpuQuota("L-3032A538", "Fargate On-Demand vCPU resource count", "fargate")
FARGATE_SPOT_QUOTA = VcpuQuota("L-36FBB829", "Fargate Spot vCPU resource count", "fargate")


def instance_class(instance_type: str) -> str | None:
    """ "standard", "g_vt", "p234", ... for an instance type or family; None when unknown
    (mac instances run on Dedicated Hosts only, and have no vCPU quota here)."""
    name = instance_type.lower()
    if name.startswith("mac"):
        return None
    return next((cls for prefix, cls in _PREFIXES if name.startswith(prefix)), None)


def vcpu_quota(instance_type: str, market: Market) -> VcpuQuota | None:
    """The quota that `instance_type`'s vCPUs count against in `market` (None: unknown)."""
    cls = instance_class(instance_type)
    return vcpu_quota_of(cls, market) if cls is not None else None


def quota_codes(market: Market | None = None) -> tuple[str, ...]:
    """Every EC2 vCPU quota code known here (of one market)."""
    markets = (market,) if market else tuple(Market)
    found = (vcpu_quota_of(cls, m) for m in markets for cls in _QUOTAS)
    return tuple(dict.fromkeys(q.code for q in found if q is not None))


def vcpu_quota_of(instance_class_name: str, market: Market) -> VcpuQuota | None:
    on_demand, spot = _QUOTAS[instance_class_name]
    return on_demand if market is Market.ON_DEMAND else spot


def market_of(environment_type: str) -> Market | None:
    """EC2 -> On-Demand, SPOT -> Spot (None for Fargate and unmanaged environments)."""
    return {"EC2": Market.ON_DEMAND, "SPOT": Market.SPOT}.get(environment_type)


def fargate_quota(environment_type: str) -> VcpuQuota | None:
    return {"FARGATE": FARGATE_QUOTA, "FARGATE_SPOT": FARGATE_SPOT_QUOTA}.get(environment_type)


def quotas_for(environment_type: str, instance_types: list[str]) -> tuple[VcpuQuota, ...]:
    """The quotas the inventory reads for a compute environment: its Fargate quota, or
    the EC2 quota of each instance class among `instance_types` (expanded names)."""
    farg = fargate_quota(environment_type)
    if farg is not None:
        return (farg,)
    market = market_of(environment_type)
    if market is None:
        return ()
    found = (vcpu_quota(t, market) for t in instance_types)
    return tuple(dict.fromkeys(q for q in found if q is not None))


def family_of(instance_type: str) -> str:
    """ "c5.large" -> "c5"; a family name is its own family."""
    found = _FAMILY.match(instance_type)
    return found.group(1) if found else instance_type


def quota_values_from(answers: Iterable[Mapping[str, Any]]) -> dict[str, float]:
    """Quota code -> value, from GetServiceQuota answers (`Quota.QuotaCode`, `Quota.Value`)."""
    values: dict[str, float] = {}
    for answer in answers:
        quota = answer.get("Quota")
        if isinstance(quota, Mapping) and isinstance(quota.get("QuotaCode"), str):
            value = quota.get("Value")
            if isinstance(value, int | float) and not isinstance(value, bool):
                values[quota["QuotaCode"]] = float(value)
    return values


def quota_shortfall(
    wanted: Iterable[tuple[str, VcpuQuota | None, float]], values: Mapping[str, float]
) -> tuple[Shortfall | None, str | None]:
    """`wanted`: (what, its quota, the vCPUs it needs of it) for each way to run the job
    (each instance type that holds it). A shortfall when every way is known to exceed its
    quota's value; else what could not be checked (None: nothing)."""
    over: list[tuple[str, VcpuQuota, float, float]] = []
    unknown: list[str] = []
    for what, quota, need in wanted:
        value = values.get(quota.code) if quota is not None else None
        if quota is None or value is None:
            unknown.append(f"{what}: {quota.code if quota else 'no known quota'} not read")
        elif need <= value:
            return None, None
        else:
            over.append((what, quota, need, value))
    if unknown or not over:
        return None, (
            "vCPU quota not checked (" + "; ".join(unknown[:3]) + ")"
        ) if unknown else None
    what, quota, need, value = min(over, key=lambda o: o[2])
    desired = math.ceil(need)
    return (
        Shortfall(
            Constraint.ABOVE_VCPU_QUOTA,
            f"{what} needs {desired} vCPUs of quota {quota.label}, whose value is {value:g}",
            f"raise the quota to >= {desired}: `{quota.increase_command(desired)}`",
        ),
        None,
    )


def environment_quota_shortfall(
    environment_type: str,
    job_vcpus: float,
    nodes: int,
    types: Iterable[tuple[str, int]],
    values: Mapping[str, float],
) -> tuple[Shortfall | None, str | None]:
    """The vCPU quota check of one compute environment. Fargate: the job's vCPUs against
    the Fargate quota. EC2 and SPOT: one instance per node (a multi-node job's nodes run
    one per instance) of each type that holds the job, `types` as (name, vCPUs), against
    its class's quota. UNMANAGED: nothing (the instances are launched by their owner)."""
    farg = fargate_quota(environment_type)
    market = market_of(environment_type)
    if farg is not None:
        return quota_shortfall([(f"the job ({job_vcpus:g} vCPU)", farg, job_vcpus)], values)
    if market is None:
        return None, None
    per = f" x {nodes} nodes" if nodes > 1 else ""
    wanted = [
        (f"one {name} ({vcpus} vCPUs{per})", vcpu_quota(name, market), float(vcpus * nodes))
        for name, vcpus in types
    ]
    return quota_shortfall(wanted, values)
