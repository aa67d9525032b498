"""judge's FITS, WAITING and UNKNOWN, and Batch's own blocked reason next to the analysis,
with the shapes corpus (tests/data/batch_shapes.json) and AWS's instance types
(tests/data/placement_facts.json). What runs on an environment, and any change to one, is
the test's scenario, said in the test."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from support.shapes_data import answer

from batch_health.domain.instance_types import instance_types_from
from batch_health.domain.job_definition import JobDefinitionView
from batch_health.domain.placement import (
    Constraint,
    EnvironmentFacts,
    JobNeeds,
    Placement,
    Verdict,
    blocked_cause,
    judge,
)

DATA = Path(__file__).resolve().parents[2] / "data"
TYPES = instance_types_from(
    [json.loads((DATA / "placement_facts.json").read_text("utf-8"))["describe_instance_types"]]
)
REASONS = json.loads((DATA / "reason_corpus.json").read_text("utf-8"))


def needs(shape_id: str) -> JobNeeds:
    return JobNeeds.from_job_definition(
        JobDefinitionView.parse(answer("job_definitions", shape_id))
    )


def env(ce_id: str, **facts: Any) -> EnvironmentFacts:
    base = EnvironmentFacts.from_describe(answer("compute_environments", ce_id))
    return base.with_facts(instance_types=TYPES, **facts)


def one(placement: Placement, verdict: Verdict) -> str:
    assert placement.verdict is verdict, placement.summary
    (finding,) = placement.findings
    return finding.reason


def codes(placement: Placement) -> list[Constraint]:
    return [u.code for f in placement.findings for u in f.unmet]


# --- FITS, WAITING, UNKNOWN -------------------------------------------------------------
def test_fits_with_the_types_that_hold_it():
    placement = judge(needs("docs-fetch-and-run"), [env("cdk-ec2-optimal-bfp")])
    reason = one(placement, Verdict.FITS)
    assert placement.findings[0].fitting[:2] == ("c4.large", "c5.large")
    assert reason.startswith("fits CE1BFE03A1-abcdefgh on c4.large, c5.large")
    assert placement.findings[0].unchecked == (
        "types offered in the subnets' zones: ec2:DescribeSubnets not read",
        "vCPU quota: servicequotas:GetServiceQuota not read",
    )


def test_waiting_at_max_vcpus_with_running_jobs():
    # Scenario: P2OnDemand grown to its maxvCpus, 32 p2.xlarge jobs holding it.
    full = env(
        "botocore-p2ondemand-ec2", desired_vcpus=128, running_jobs=32, running_vcpus=Decimal(128)
    )
    placement = judge(needs("cfn-nvidia-smi"), [full])
    reason = one(placement, Verdict.WAITING)
    assert reason == (
        "P2OnDemand is at maxvCpus: 32 running jobs (128 vCPUs) hold 128 of its 128: "
        "it starts when they finish, or raise maxvCpus"
    )
    # Running jobs not read: at maxvCpus, held by what runs, and the fact named.
    unread = env("botocore-p2ondemand-ec2", desired_vcpus=128)
    assert one(judge(needs("cfn-nvidia-smi"), [unread]), Verdict.WAITING) == (
        "P2OnDemand is at maxvCpus (128 of 128), held by its running jobs "
        "(batch:ListJobs jobStatus=RUNNING not read): it starts when they finish, or raise maxvCpus"
    )
    # A second environment with room takes the job: it fits.
    both = judge(needs("cfn-nvidia-smi"), [full, env("botocore-p2ondemand-ec2", running_jobs=0)])
    assert both.verdict is Verdict.FITS


def test_waiting_while_scaling():
    # P2OnDemand as described (desired 48 vCPUs); scenario: no job runs yet, for 10 minutes.
    ce = env(
        "botocore-p2ondemand-ec2", running_jobs=0, running_vcpus=Decimal(0), scaling_for_seconds=600
    )
    reason = one(judge(needs("cfn-nvidia-smi"), [ce]), Verdict.WAITING)
    assert reason.startswith("P2OnDemand is scaling up for 10 min: desired 48 vCPUs, 0 held")


def test_unknown_names_the_fact_that_could_not_be_read():
    denied = "ec2:DescribeInstanceTypes denied (UnauthorizedOperation)"
    ce = EnvironmentFacts.from_describe(
        answer("compute_environments", "botocore-p2ondemand-ec2")
    ).with_facts(unread={"instance_types": denied})
    placement = judge(needs("cfn-nvidia-smi"), [ce])
    assert (
        one(placement, Verdict.UNKNOWN) == f"P2OnDemand: its instance types are unknown: {denied}"
    )
    # UNKNOWN beats the NEVER of another environment: it might still run there.
    mixed = judge(needs("cfn-nvidia-smi"), [env("tf-docs-fargate"), ce])
    assert mixed.verdict is Verdict.UNKNOWN and mixed.constraint is None
    unmanaged = EnvironmentFacts.from_describe(
        answer("compute_environments", "cdk-unmanaged-maximal")
    )
    assert "its instances' types are unknown" in one(
        judge(needs("cfn-nvidia-smi"), [unmanaged]), Verdict.UNKNOWN
    )


def test_unmanaged_environment_judged_on_its_instances_types():
    # Scenario: the owner launched m4.large instances into the environment's cluster.
    m4 = tuple(t for t in TYPES if t.name == "m4.large")
    ce = EnvironmentFacts.from_describe(
        answer("compute_environments", "cdk-unmanaged-maximal")
    ).with_facts(instance_types=m4)
    assert judge(needs("docs-fetch-and-run"), [ce]).verdict is Verdict.FITS
    assert (
        codes(judge(needs("docs-multicontainer-ecs-ec2"), [ce]))[0]
        is Constraint.VCPU_ABOVE_INSTANCE_TYPES
    )


# --- Batch's own reason, and the analysis -------------------------------------------------
def reason_text(code: str) -> str:
    """A blocked reason as Batch's user guide quotes it (tests/data/reason_corpus.json)."""
    return next(r["text"] for r in REASONS if r["code"] == code and not r["by_time_limit"])


def test_blocked_cause_keeps_batch_reason_and_fills_undetermined():
    never = judge(needs("cdk-ec2-secrets-efs"), [env("botocore-p2ondemand-ec2")])
    fits = judge(needs("docs-fetch-and-run"), [env("cdk-ec2-optimal-bfp")])
    capacity = reason_text("CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY")
    assert blocked_cause(capacity, fits) == f'Batch says "{capacity}"'
    undetermined = reason_text("UNDETERMINED")
    cause = blocked_cause(undetermined, never)
    assert cause.startswith(f'Batch says "{undetermined}"; the analysis: ')
    assert "p2.16xlarge gives 64 vCPUs" in cause
    max_resource = reason_text("MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE")
    assert "maxvCpus of P2OnDemand is 128" in blocked_cause(max_resource, never)
    assert blocked_cause(None, never) == never.summary
