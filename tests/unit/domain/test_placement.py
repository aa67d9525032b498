"""judge's NEVER: each constraint, with the shapes corpus's job definitions and compute
environments (tests/data/batch_shapes.json) and AWS's instance types, offerings and quotas
(tests/data/placement_facts.json). Where a test changes an environment (its state, desired
vCPUs, a subnet's zone, its instance types) or says what runs on it, that is the scenario,
said in the test. FITS, WAITING and UNKNOWN: test_placement_verdicts.py."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from support.shapes_data import answer

from batch_health.domain.instance_types import instance_types_from, offerings_from
from batch_health.domain.job_definition import JobDefinitionView
from batch_health.domain.placement import (
    Constraint,
    EnvironmentFacts,
    JobNeeds,
    Placement,
    Platform,
    Verdict,
    judge,
)
from batch_health.domain.service_quotas import quota_values_from

FACTS = json.loads(
    (Path(__file__).resolve().parents[2] / "data" / "placement_facts.json").read_text("utf-8")
)
TYPES = instance_types_from([FACTS["describe_instance_types"]])
OFFERINGS = offerings_from(
    [
        {
            "InstanceTypeOfferings": [
                {"InstanceType": t, "Location": z}
                for t, zs in FACTS["instance_type_offerings_us_east_1"]["zones_by_type"].items()
                for z in zs
            ]
        }
    ]
)
# A new account's quota values (AWS's table of defaults), as GetServiceQuota answers.
DEFAULT_QUOTAS = quota_values_from(
    [
        {"Quota": {"QuotaCode": q["code"], "Value": q["default"]}}
        for q in FACTS["service_quotas"]["ec2_defaults"]
    ]
    + [FACTS["service_quotas"]["get_aws_default_service_quota_example"]["answer"]]
)
FARGATE_DEFAULT = FACTS["service_quotas"]["fargate_on_demand_default"]


def needs(shape_id: str) -> JobNeeds:
    return JobNeeds.from_job_definition(
        JobDefinitionView.parse(answer("job_definitions", shape_id))
    )


def facts_item(section: str, id_: str) -> dict[str, Any]:
    return next(i for i in FACTS[section] if i["id"] == id_)["answer"]


def env(ce_id: str, **facts: Any) -> EnvironmentFacts:
    """A corpus compute environment, its instance types described."""
    source = facts_item("compute_environments", ce_id) if ce_id.startswith("docs-eks-gpu") else None
    base = EnvironmentFacts.from_describe(source or answer("compute_environments", ce_id))
    return base.with_facts(instance_types=TYPES, **facts)


def one(placement: Placement, verdict: Verdict) -> str:
    assert placement.verdict is verdict, placement.summary
    (finding,) = placement.findings
    return finding.reason


def codes(placement: Placement) -> list[Constraint]:
    return [u.code for f in placement.findings for u in f.unmet]


# --- the environments as read -----------------------------------------------------------
def test_environments_are_read_from_describe_compute_environments():
    p2 = EnvironmentFacts.from_describe(answer("compute_environments", "botocore-p2ondemand-ec2"))
    assert (p2.type, p2.platform, p2.allowed, p2.max_vcpus, p2.desired_vcpus) == (
        "EC2",
        Platform.EC2,
        ("p2",),
        128,
        48,
    )
    eks = EnvironmentFacts.from_describe(answer("compute_environments", "docs-eks-my-eks-ce1"))
    assert (eks.orchestration, eks.platform) == ("EKS", Platform.EKS)
    spot = EnvironmentFacts.from_describe(answer("compute_environments", "tf-test-fargate-spot"))
    assert (spot.type, spot.platform, spot.desired_vcpus) == (
        "FARGATE_SPOT",
        Platform.FARGATE,
        None,
    )
    unmanaged = EnvironmentFacts.from_describe(
        answer("compute_environments", "cdk-unmanaged-maximal")
    )
    assert (unmanaged.type, unmanaged.max_vcpus, unmanaged.allowed) == ("UNMANAGED", None, ())


# --- NEVER, one constraint at a time ------------------------------------------------------
def test_vcpus_above_every_instance_type_and_above_max_vcpus():
    placement = judge(needs("cdk-ec2-secrets-efs"), [env("botocore-p2ondemand-ec2")])
    reason = one(placement, Verdict.NEVER)
    assert placement.constraint is Constraint.VCPU_ABOVE_INSTANCE_TYPES
    assert codes(placement) == [Constraint.VCPU_ABOVE_INSTANCE_TYPES, Constraint.ABOVE_MAX_VCPUS]
    assert "job asks 256 vCPU; the largest allowed type p2.16xlarge gives 64 vCPUs" in reason
    assert "job needs 256 vCPUs; maxvCpus of P2OnDemand is 128" in reason
    assert "maxvCpus=256" in placement.summary


def test_an_8192_mib_job_on_8_gib_instances_never_runs():
    doc = FACTS["memory_management_example"]
    job = JobNeeds(
        Decimal(2), doc["job_memory_mib"], 0, 1, Platform.EC2, "the memory-management example"
    )
    # The scenario of AWS's page: an environment of m4.large instances only.
    ce = env("cdk-ec2-optimal-bfp", allowed=(doc["instance_type"],))
    placement = judge(job, [ce])
    reason = one(placement, Verdict.NEVER)
    assert placement.constraint is Constraint.MEMORY_ABOVE_INSTANCE_TYPES
    assert "job asks 8192 MiB; the largest allowed type m4.large gives ~7953 MiB" in reason
    assert "lower MEMORY to <= 7953" in placement.summary
    assert "memory-management.html" in reason
    fits = judge(job, [env("cdk-ec2-optimal-bfp", allowed=("m4.large", "m4.xlarge"))])
    assert fits.verdict is Verdict.FITS and fits.findings[0].fitting == ("m4.xlarge",)


def test_gpu_not_offered_by_the_allowed_types():
    gpu_job = JobNeeds.from_job_definition(
        JobDefinitionView.parse(facts_item("job_definitions", "docs-eks-gpu-smi"))
    )
    placement = judge(gpu_job, [env("docs-eks-my-eks-ce1")])
    reason = one(placement, Verdict.NEVER)
    assert placement.constraint is Constraint.GPU_NOT_OFFERED
    assert "job asks 1 GPU; the most an allowed type has is 0" in reason
    # AWS's GPU environment for that job (p3dn.24xlarge, p4d.24xlarge) holds it.
    fits = judge(gpu_job, [env("docs-eks-gpu-ce1")])
    assert fits.verdict is Verdict.FITS and fits.findings[0].fitting == (
        "p3dn.24xlarge",
        "p4d.24xlarge",
    )


def test_eks_node_cpu_reservation_decides_as_aws_example_says():
    doc = FACTS["eks_reservation_examples"]
    ce = env("docs-eks-my-eks-ce1", allowed=("c5.large",))  # the page's instance type
    too_big = JobNeeds(
        Decimal(doc["does_not_fit_c5.large_vcpus"]), 1024, 0, 1, Platform.EKS, "2 vCPU pod"
    )
    placement = judge(too_big, [ce])
    assert one(placement, Verdict.NEVER).startswith(
        "job asks 2 vCPU; the largest allowed type c5.large gives 1.93 vCPUs"
    )
    fits = JobNeeds(Decimal(doc["fits_c5.large_vcpus"]), 1024, 0, 1, Platform.EKS, "1.75 vCPU pod")
    assert judge(fits, [ce]).verdict is Verdict.FITS


def test_no_single_type_holds_vcpus_and_memory_together():
    # m4 sizes have the vCPUs (m4.16xlarge: 64) or, separately, p2.16xlarge the memory.
    job = JobNeeds(Decimal(64), 400_000, 0, 1, Platform.EC2, "scenario")
    placement = judge(job, [env("botocore-p2ondemand-ec2", allowed=("m4.16xlarge", "p2.8xlarge"))])
    one(placement, Verdict.NEVER)
    assert placement.constraint is Constraint.NO_TYPE_FITS_ALL


def test_multi_node_pinned_type_not_allowed():
    placement = judge(needs("docs-gromacs-mnp"), [env("cdk-ec2-optimal-bfp")])
    reason = one(placement, Verdict.NEVER)
    assert placement.constraint is Constraint.INSTANCE_TYPE_NOT_ALLOWED
    assert "the job pins instanceType p3.2xlarge; CE1BFE03A1-abcdefgh allows optimal" in reason


def test_multi_node_vcpus_times_nodes_against_max_vcpus():
    # 21 nodes of 256 vCPUs pinned to r4.large (2 vCPUs), on an optimal environment (r4 is in it).
    placement = judge(needs("cdk-multinode-two-ranges-r4"), [env("cdk-ec2-optimal-bfp")])
    reason = one(placement, Verdict.NEVER)
    assert codes(placement) == [Constraint.VCPU_ABOVE_INSTANCE_TYPES, Constraint.ABOVE_MAX_VCPUS]
    assert "the largest allowed type r4.large gives 2 vCPUs" in reason
    assert "job needs 5376 vCPUs (256 x 21 nodes); maxvCpus of CE1BFE03A1-abcdefgh is 256" in reason
    # 6 nodes x 4 vCPUs = 24 of 256: it fits.
    assert (
        judge(needs("docs-multicontainer-mnp"), [env("cdk-ec2-optimal-bfp")]).verdict
        is Verdict.FITS
    )


def test_multi_node_does_not_run_on_spot_nor_unmanaged():
    mnp = needs("docs-multicontainer-mnp")
    placement = judge(mnp, [env("botocore-m4spot"), env("cdk-unmanaged-maximal")])
    assert placement.verdict is Verdict.NEVER
    assert codes(placement) == [Constraint.MULTI_NODE_NOT_SUPPORTED] * 2
    assert "mnp-ce.html" in placement.summary


def test_vcpu_quota_of_a_new_account():
    # Standard On-Demand defaults to 5 vCPUs: a 10 vCPU task needs a 16 vCPU instance.
    ce = env("cdk-ec2-optimal-bfp", vcpu_quotas=DEFAULT_QUOTAS)
    placement = judge(needs("docs-multicontainer-ecs-ec2"), [ce])
    reason = one(placement, Verdict.NEVER)
    assert placement.constraint is Constraint.ABOVE_VCPU_QUOTA
    assert "needs 16 vCPUs of quota L-1216C47A" in reason and "whose value is 5" in reason
    assert "--service-code ec2 --quota-code L-1216C47A --desired-value 16" in placement.summary
    # P On-Demand defaults to 0: AWS's EKS GPU environment can launch nothing.
    gpu = JobNeeds.from_job_definition(
        JobDefinitionView.parse(facts_item("job_definitions", "docs-eks-gpu-smi"))
    )
    placement = judge(gpu, [env("docs-eks-gpu-ce1", vcpu_quotas=DEFAULT_QUOTAS)])
    assert "one p3dn.24xlarge (96 vCPUs) needs 96 vCPUs of quota L-417A185B" in one(
        placement, Verdict.NEVER
    )


def test_multi_node_quota_counts_one_instance_per_node():
    quotas = {**DEFAULT_QUOTAS, "L-1216C47A": 16.0}  # scenario: raised to 16
    placement = judge(
        needs("docs-multicontainer-mnp"), [env("cdk-ec2-optimal-bfp", vcpu_quotas=quotas)]
    )
    # 6 nodes, each on its own instance of >= 4 vCPUs: 24 vCPUs.
    assert "x 6 nodes) needs 24 vCPUs of quota L-1216C47A" in one(placement, Verdict.NEVER)


def test_fargate_sizes_and_quota():
    fargate = env("tf-docs-fargate")
    fits = judge(needs("docs-multicontainer-ecs-fargate"), [fargate])  # 8 vCPU, 16384 MiB
    assert fits.verdict is Verdict.FITS
    assert fits.findings[0].unchecked == ("vCPU quota: servicequotas:GetServiceQuota not read",)
    spot = judge(needs("tf-ecs-properties-fargate-dependson"), [env("tf-test-fargate-spot")])
    assert spot.verdict is Verdict.FITS
    # Batch's documented default Fargate On-Demand quota, 6 vCPUs, is below the 8 asked.
    quota = {FARGATE_DEFAULT["code"]: float(FARGATE_DEFAULT["default"])}
    placement = judge(
        needs("docs-multicontainer-ecs-fargate"), [env("tf-docs-fargate", vcpu_quotas=quota)]
    )
    assert "needs 8 vCPUs of quota L-3032A538 (Fargate On-Demand vCPU resource count)" in one(
        placement, Verdict.NEVER
    )


def test_fargate_size_not_offered_and_no_gpu():
    # fetch_and_run's 2 vCPU / 2000 MiB, had it been registered for Fargate.
    job = JobNeeds(Decimal(2), 2000, 0, 1, Platform.FARGATE, "fetch_and_run on Fargate")
    placement = judge(job, [env("tf-docs-fargate")])
    assert "with 2 vCPU, MEMORY is 4096-16384 in steps of 1024" in one(placement, Verdict.NEVER)
    assert placement.constraint is Constraint.FARGATE_SIZE_NOT_OFFERED
    assert "VCPU 2 with MEMORY 4096 MiB" in placement.summary
    gpu = JobNeeds(Decimal(1), 2048, 1, 1, Platform.FARGATE, "a GPU on Fargate")
    assert codes(judge(gpu, [env("tf-docs-fargate")])) == [Constraint.GPU_NOT_OFFERED]


def test_platform_mismatches():
    cases = [
        (
            "docs-multicontainer-ecs-fargate",
            "cdk-ec2-optimal-bfp",
            "the job runs on FARGATE; CE1BFE03A1-abcdefgh runs EC2 jobs",
        ),
        ("docs-fetch-and-run", "tf-docs-fargate", "the job runs on EC2; sample runs FARGATE jobs"),
        (
            "docs-eks-getting-started-sleep",
            "botocore-p2ondemand-ec2",
            "the job runs on EKS; P2OnDemand runs EC2 jobs",
        ),
        (
            "docs-fetch-and-run",
            "docs-eks-my-eks-ce1",
            "the job runs on EC2; My-Eks-CE1 runs EKS jobs",
        ),
    ]
    for job, ce, words in cases:
        placement = judge(needs(job), [env(ce)])
        assert one(placement, Verdict.NEVER) == words
        assert placement.constraint is Constraint.PLATFORM_MISMATCH


def test_all_environments_disabled_or_invalid():
    disabled = env("botocore-p2ondemand-ec2", state="DISABLED")
    invalid = env("botocore-m4spot", status="INVALID", status_reason="CLIENT_ERROR - scenario")
    placement = judge(needs("docs-fetch-and-run"), [disabled, invalid])
    assert placement.verdict is Verdict.NEVER
    assert placement.constraint is Constraint.ALL_ENVIRONMENTS_DISABLED_OR_INVALID
    assert codes(placement) == [Constraint.ENVIRONMENT_DISABLED, Constraint.ENVIRONMENT_INVALID]
    assert "--compute-environment P2OnDemand --state ENABLED" in placement.summary
    assert "M4Spot is INVALID: CLIENT_ERROR - scenario" in placement.summary


def test_types_not_offered_in_the_subnets_zones():
    # Scenario: My-Eks-CE1's subnet is in us-east-1e, where AWS offers no m5 size.
    ce = env(
        "docs-eks-my-eks-ce1",
        subnet_azs={"subnet-0123456789abcdef2": "us-east-1e"},
        offerings=OFFERINGS,
    )
    placement = judge(needs("docs-eks-getting-started-sleep"), [ce])
    assert "is offered in us-east-1e, the Availability Zones of My-Eks-CE1's subnets" in one(
        placement, Verdict.NEVER
    )
    assert placement.constraint is Constraint.TYPES_NOT_OFFERED_IN_SUBNET_AZS
    # AWS's DescribeSubnets example subnet is in us-east-1c, which offers them.
    ce = env(
        "docs-eks-my-eks-ce1",
        subnets=("subnet-9d4a7b6c",),
        subnet_azs={"subnet-9d4a7b6c": "us-east-1c"},
        offerings=OFFERINGS,
    )
    assert judge(needs("docs-eks-getting-started-sleep"), [ce]).verdict is Verdict.FITS


def test_never_only_when_no_environment_can_ever_place_it():
    # The GPU job cannot run on My-Eks-CE1, but can on the GPU environment after it.
    gpu = JobNeeds.from_job_definition(
        JobDefinitionView.parse(facts_item("job_definitions", "docs-eks-gpu-smi"))
    )
    placement = judge(gpu, [env("docs-eks-my-eks-ce1"), env("docs-eks-gpu-ce1")])
    assert placement.verdict is Verdict.FITS
    assert [f.verdict for f in placement.findings] == [Verdict.NEVER, Verdict.FITS]
    assert placement.findings[0].unmet[0].code is Constraint.GPU_NOT_OFFERED


def test_no_environments():
    placement = judge(needs("docs-fetch-and-run"), [])
    assert (placement.verdict, placement.constraint) == (Verdict.NEVER, Constraint.NO_ENVIRONMENTS)
