"""The vCPU and memory pairs a Fargate job may ask for, and what Fargate never runs.

Batch runs a Fargate job only with one of Fargate's task sizes: VCPU must be one Fargate
offers and MEMORY (MiB) one of the values offered with it. The table is Batch's own, from
the ResourceRequirement reference (type="VCPU", "For jobs that are running on Fargate
resources ... The supported values are 0.25, 0.5, 1, 2, 4, 8, and 16"):
https://docs.aws.amazon.com/batch/latest/APIReference/API_ResourceRequirement.html
(the same text ships with botocore: botocore/data/batch/2016-08-10/service-2.json,
ResourceRequirement.value). The same page says GPUs are not available on Fargate, and
"Create a multi-node parallel job definition" says AWS Fargate doesn't support
multi-node parallel jobs:
https://docs.aws.amazon.com/batch/latest/userguide/create-multi-node-job-def.html
A multi-container (ecsProperties) task is sized by the sum of its containers.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from decimal import Decimal

from batch_health.domain.service_quotas import Constraint, Shortfall

FARGATE_SOURCE = (
    "https://docs.aws.amazon.com/batch/latest/APIReference/API_ResourceRequirement.html"
)
FARGATE_MULTI_NODE_SOURCE = (
    "https://docs.aws.amazon.com/batch/latest/userguide/create-multi-node-job-def.html"
)

# VCPU -> the MEMORY values (MiB) offered with it (ResourceRequirement, type="VCPU").
FARGATE_MEMORY_BY_VCPU: Mapping[Decimal, tuple[int, ...]] = {
    Decimal("0.25"): (512, 1024, 2048),
    Decimal("0.5"): (1024, 2048, 3072, 4096),
    Decimal("1"): tuple(range(2048, 8192 + 1, 1024)),
    Decimal("2"): tuple(range(4096, 16384 + 1, 1024)),
    Decimal("4"): tuple(range(8192, 30720 + 1, 1024)),
    Decimal("8"): tuple(range(16384, 61440 + 1, 4096)),
    Decimal("16"): tuple(range(32768, 122880 + 1, 8192)),
}


def vcpu_text(vcpus: Decimal) -> str:
    """Decimal("1.0") -> "1", Decimal("0.25") -> "0.25"."""
    text = format(vcpus.normalize(), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _ranges(values: tuple[int, ...]) -> str:
    """512, 1024, 2048 -> "512, 1024 or 2048"; a long even run -> "2048-8192 in steps of
    1024"."""
    steps = {b - a for a, b in itertools.pairwise(values)}
    if len(values) > 4 and len(steps) == 1:
        return f"{values[0]}-{values[-1]} in steps of {steps.pop()}"
    head = ", ".join(str(v) for v in values[:-1])
    return f"{head} or {values[-1]}" if head else str(values[-1])


def fargate_size_problem(vcpus: Decimal, memory_mib: int) -> str | None:
    """Why Fargate offers no task of `vcpus` and `memory_mib` (None when it offers one)."""
    offered = FARGATE_MEMORY_BY_VCPU.get(vcpus.normalize())
    if offered is None:
        sizes = ", ".join(vcpu_text(v) for v in FARGATE_MEMORY_BY_VCPU)
        return f"Fargate offers no {vcpu_text(vcpus)} vCPU task (VCPU is one of {sizes})"
    if memory_mib in offered:
        return None
    return (
        f"Fargate offers no {vcpu_text(vcpus)} vCPU task with {memory_mib} MiB "
        f"(with {vcpu_text(vcpus)} vCPU, MEMORY is {_ranges(offered)} MiB)"
    )


def nearest_fargate_size(vcpus: Decimal, memory_mib: int) -> str:
    """The nearest valid pairs, for the fix text: the vCPU values that offer the asked
    memory, or else the smallest size at least as large as the ask."""
    with_memory = [vcpu_text(v) for v, mems in FARGATE_MEMORY_BY_VCPU.items() if memory_mib in mems]
    if with_memory:
        return f"{memory_mib} MiB runs with VCPU {' or '.join(with_memory)}"
    for size, mems in FARGATE_MEMORY_BY_VCPU.items():
        fitting = [m for m in mems if m >= memory_mib]
        if size >= vcpus and fitting:
            return f"the nearest size is VCPU {vcpu_text(size)} with MEMORY {fitting[0]} MiB"
    return "the largest Fargate size is VCPU 16 with MEMORY 122880 MiB: run it on EC2"


def fargate_shortfalls(vcpus: Decimal, memory_mib: int, gpus: int, where: str) -> list[Shortfall]:
    """What Fargate will never run of a job asking `vcpus`, `memory_mib` and `gpus`."""
    found = []
    if gpus:
        found.append(
            Shortfall(
                Constraint.GPU_NOT_OFFERED,
                f"job asks {gpus} GPU; no GPUs on Fargate ({where}; {FARGATE_SOURCE})",
                "run it on an EC2 compute environment with GPU instance types",
            )
        )
    problem = fargate_size_problem(vcpus, memory_mib)
    if problem:
        fix = f"{nearest_fargate_size(vcpus, memory_mib)} (VCPU and MEMORY must be one pair)"
        found.append(
            Shortfall(Constraint.FARGATE_SIZE_NOT_OFFERED, f"{problem} ({FARGATE_SOURCE})", fix)
        )
    return found
