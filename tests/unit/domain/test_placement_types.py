"""Instance types as Batch places on them (memory and vCPUs left to containers, ECS and EKS),
the expansion of `instanceTypes`, Fargate's sizes and the vCPU quotas, against AWS's data in
tests/data/placement_facts.json."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from batch_health.domain.fargate import (
    FARGATE_MEMORY_BY_VCPU,
    fargate_shortfalls,
    fargate_size_problem,
    nearest_fargate_size,
)
from batch_health.domain.instance_types import (
    InstanceType,
    describe_filters,
    eks_cpu_reserved_millicores,
    expand,
    instance_types_from,
    offerings_from,
    subnet_azs_from,
    zone_shortfall,
)
from batch_health.domain.service_quotas import (
    FARGATE_QUOTA,
    Constraint,
    Market,
    quota_codes,
    quota_values_from,
    quotas_for,
    vcpu_quota,
)

FACTS = json.loads(
    (Path(__file__).resolve().parents[2] / "data" / "placement_facts.json").read_text("utf-8")
)
TYPES = {t.name: t for t in instance_types_from([FACTS["describe_instance_types"]])}


def names(types: list[InstanceType]) -> set[str]:
    return {t.name for t in types}


def test_describe_instance_types_answer_is_read():
    (micro,) = instance_types_from([FACTS["describe_instance_types_cli_example"]["answer"]])
    assert (micro.name, micro.vcpus, micro.memory_mib, micro.gpus) == ("t2.micro", 1, 1024, 0)
    assert micro.architectures == ("i386", "x86_64")
    assert (micro.max_enis, micro.ipv4_per_eni) == (2, 2)
    assert len(TYPES) == len(FACTS["describe_instance_types"]["InstanceTypes"])


def test_gpus_are_counted_from_gpu_info():
    # Batch's GPU table: p2.16xlarge 16 GPUs, p3.2xlarge 1, g4dn.12xlarge 4.
    assert (TYPES["p2.16xlarge"].gpus, TYPES["p3.2xlarge"].gpus) == (16, 1)
    assert (TYPES["g4dn.12xlarge"].gpus, TYPES["m4.large"].gpus) == (4, 0)


def test_an_8192_mib_job_never_fits_an_8_gib_instance():
    doc = FACTS["memory_management_example"]
    m4 = TYPES[doc["instance_type"]]
    assert m4.memory_mib == 8192
    # What AWS's example m4.large's OS sees, less what the Batch AMI reserves.
    assert doc["os_total_bytes"] // 2**20 == doc["os_total_mib"] == 7985
    assert m4.usable_memory_mib(eks=False) == doc["os_total_mib"] - doc["agent_reserved_mib"]
    assert m4.usable_memory_mib(eks=False) < doc["job_memory_mib"]
    assert TYPES["m4.xlarge"].usable_memory_mib(eks=False) >= doc["job_memory_mib"]


def test_the_kernel_share_is_capped_so_large_types_are_not_underrated():
    r5 = TYPES["r5.24xlarge"]
    assert r5.usable_memory_mib(eks=False) == 786432 - 207 - 32
    small = TYPES["c5.large"]  # 4096 MiB: half the example's share
    assert small.usable_memory_mib(eks=False) == 4096 - 104 - 32


def test_eks_node_reservations_as_batch_documents_them():
    doc = FACTS["eks_reservation_examples"]
    c5, big = TYPES["c5.large"], TYPES["c5.24xlarge"]
    assert eks_cpu_reserved_millicores(c5.vcpus) == doc["c5.large_reserved_millicores"]
    assert eks_cpu_reserved_millicores(big.vcpus) == doc["c5.24xlarge_reserved_millicores"]
    assert c5.max_pods == doc["c5.large_max_pods"]
    assert c5.usable_vcpus(eks=True) < Decimal(doc["does_not_fit_c5.large_vcpus"])
    assert c5.usable_vcpus(eks=True) >= Decimal(doc["fits_c5.large_vcpus"])
    assert c5.usable_vcpus(eks=False) == 2
    # 4096 - kernel 104 - (11 x 29 + 255) kubeReserved - 100 eviction.
    assert c5.usable_memory_mib(eks=True) == 4096 - 104 - (11 * 29 + 255) - 100


def test_describe_filters_cover_families_exact_types_and_categories():
    assert describe_filters(["c5", "m5.large"]) == ["c5.*", "m5.large"]
    assert describe_filters(["default_arm64"]) == ["m6g.*", "c6g.*", "r6g.*", "c7g.*"]
    optimal = describe_filters(["optimal"])
    assert {"c4.*", "m4.*", "r4.*", "c5.*", "m5.*", "r5.*", "m6i.*", "c7i.*"} <= set(optimal)
    assert "m6g.*" not in optimal


def test_expand_families_exact_types_and_categories():
    described = list(TYPES.values())
    m4 = names(expand(["m4"], described))
    assert m4 == {"m4.large", "m4.xlarge", "m4.2xlarge", "m4.4xlarge", "m4.10xlarge", "m4.16xlarge"}
    assert names(expand(["m5.large", "p2"], described)) == {
        "m5.large",
        "p2.xlarge",
        "p2.8xlarge",
        "p2.16xlarge",
    }
    # "p3" is the p3 family: not p3dn.
    assert "p3dn.24xlarge" not in names(expand(["p3"], described))
    optimal = expand(["optimal"], described)
    assert {t.family for t in optimal} == {
        "c4",
        "m4",
        "r4",
        "c5",
        "m5",
        "r5",
        "m6i",
        "c6i",
        "r6i",
        "c7i",
    }
    assert {a for t in expand(["default_arm64"], described) for a in t.architectures} == {"arm64"}


def test_offerings_and_subnets_answers():
    zones = FACTS["instance_type_offerings_us_east_1"]["zones_by_type"]
    answer = {
        "InstanceTypeOfferings": [
            {"InstanceType": t, "LocationType": "availability-zone", "Location": z}
            for t, zs in zones.items()
            for z in zs
        ]
    }
    offers = offerings_from([answer])
    assert "m5.large" not in offers["us-east-1e"] and "m4.large" in offers["us-east-1e"]
    assert subnet_azs_from([FACTS["describe_subnets_example"]["answer"]]) == {
        "subnet-9d4a7b6c": "us-east-1c"
    }
    m5 = expand(["m5"], TYPES.values())
    kept, short = zone_shortfall(m5, ["us-east-1e"], offers, "My-Eks-CE1")
    assert short is not None and short.code is Constraint.TYPES_NOT_OFFERED_IN_SUBNET_AZS
    assert "us-east-1e" in short.detail and kept == m5
    kept, short = zone_shortfall(m5, ["us-east-1c"], offers, "My-Eks-CE1")
    assert short is None and names(kept) == names(m5)


@pytest.mark.parametrize(
    ("vcpus", "memory"),
    [
        ("0.25", 512),
        ("0.5", 4096),
        ("1", 2048),
        ("2", 16384),
        ("4", 30720),
        ("8", 61440),
        ("16", 122880),
    ],
)
def test_fargate_sizes_batch_offers(vcpus, memory):
    assert fargate_size_problem(Decimal(vcpus), memory) is None


@pytest.mark.parametrize(
    ("vcpus", "memory", "words"),
    [
        ("1", 1024, "with 1 vCPU, MEMORY is 2048-8192 in steps of 1024"),
        ("2", 2000, "with 2 vCPU, MEMORY is 4096-16384 in steps of 1024"),
        ("8", 18432, "with 8 vCPU, MEMORY is 16384-61440 in steps of 4096"),
        ("3", 4096, "VCPU is one of 0.25, 0.5, 1, 2, 4, 8, 16"),
        # Batch's table ends at 16 vCPUs.
        ("32", 61440, "Fargate offers no 32 vCPU task"),
    ],
)
def test_fargate_sizes_batch_does_not_offer(vcpus, memory, words):
    problem = fargate_size_problem(Decimal(vcpus), memory)
    assert problem is not None and words in problem


def test_fargate_fix_names_the_valid_pairs():
    assert nearest_fargate_size(Decimal(2), 2048) == "2048 MiB runs with VCPU 0.25 or 0.5 or 1"
    assert (
        nearest_fargate_size(Decimal(2), 2000) == "the nearest size is VCPU 2 with MEMORY 4096 MiB"
    )
    assert FARGATE_MEMORY_BY_VCPU[Decimal("0.25")] == (512, 1024, 2048)


def test_no_gpu_on_fargate():
    (short,) = fargate_shortfalls(Decimal(1), 2048, 1, "sample")
    assert short.code is Constraint.GPU_NOT_OFFERED
    assert fargate_shortfalls(Decimal(1), 2048, 0, "sample") == []


@pytest.mark.parametrize(
    ("instance_type", "on_demand", "spot"),
    [
        ("m4.large", "L-1216C47A", "L-34B43A08"),
        ("c7i.48xlarge", "L-1216C47A", "L-34B43A08"),
        ("p2.16xlarge", "L-417A185B", "L-7212CCBC"),
        ("p3dn.24xlarge", "L-417A185B", "L-7212CCBC"),
        ("p5.48xlarge", "L-417A185B", "L-C4BD4855"),
        ("g4dn.xlarge", "L-DB2E81BA", "L-3819A6DF"),
        ("vt1.3xlarge", "L-DB2E81BA", "L-3819A6DF"),
        ("dl1.24xlarge", "L-6E869C2A", "L-85EED4F7"),
        ("inf2.xlarge", "L-1945791B", "L-B5D1601B"),
        ("trn1.2xlarge", "L-2C3B7624", "L-6B0D517C"),
        ("u-6tb1.metal", "L-43DA4232", None),
        ("hpc7a.96xlarge", "L-F7808C92", None),
    ],
)
def test_quota_of_each_instance_class(instance_type, on_demand, spot):
    assert getattr(vcpu_quota(instance_type, Market.ON_DEMAND), "code", None) == on_demand
    assert getattr(vcpu_quota(instance_type, Market.SPOT), "code", None) == spot


def test_quota_names_match_aws_table():
    table = FACTS["service_quotas"]["ec2_defaults"]
    by_code = {q["code"]: q["name"] for q in table}
    for name in ("m4.large", "p2.xlarge", "g4dn.xlarge"):
        for market in Market:
            quota = vcpu_quota(name, market)
            assert quota is not None and by_code[quota.code] == quota.name
    assert set(by_code) <= set(quota_codes())
    assert vcpu_quota("mac1.metal", Market.ON_DEMAND) is None


def test_quotas_the_inventory_reads_per_environment():
    assert quotas_for("FARGATE", []) == (FARGATE_QUOTA,)
    assert [q.code for q in quotas_for("EC2", ["p2.xlarge", "m4.large", "p2.8xlarge"])] == [
        "L-417A185B",
        "L-1216C47A",
    ]
    assert [q.code for q in quotas_for("SPOT", ["m4.large"])] == ["L-34B43A08"]
    assert quotas_for("UNMANAGED", ["m4.large"]) == ()


def test_get_service_quota_answer_is_read():
    example = FACTS["service_quotas"]["get_aws_default_service_quota_example"]["answer"]
    assert quota_values_from([example, {"Quota": {"QuotaCode": "L-X"}}, {}]) == {"L-1216C47A": 5.0}
