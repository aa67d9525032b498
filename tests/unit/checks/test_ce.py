"""CE_CHECK: each compute environment of the queue: disabled, INVALID with its reason, unable
to scale (maxvCpus 0, desired above max), updating or missing (UNMANAGED ones:
test_ce_types.py); and what it names when the queue itself is missing or unreadable."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from support.checks import (
    ACCOUNT,
    PLAIN_TARGET,
    assert_explained,
    check,
    client_error,
    patch_view,
    queue,
    result,
    run,
)

from batch_health.demo import CE, QUEUE, REGION
from batch_health.domain.reason_hints import HintContext, reason_hint
from batch_health.domain.status_reasons import ReasonClass, classify_ce_reason
from batch_health.models import Status

# Real INVALID compute environments' statusReasons, each with its public source.
CE_REASONS = [
    e
    for e in json.loads(
        (Path(__file__).resolve().parents[2] / "data" / "reason_corpus.json").read_text()
    )
    if e["field"] == "compute environment statusReason"
]


def ce(name: str = CE, **overrides: Any) -> dict[str, Any]:
    resources = overrides.pop("computeResources", {})
    base = {
        "computeEnvironmentName": name,
        "computeEnvironmentArn": f"arn:aws:batch:{REGION}:{ACCOUNT}:compute-environment/{name}",
        "type": "MANAGED",
        "state": "ENABLED",
        "status": "VALID",
        "computeResources": {"type": "EC2", "minvCpus": 0, "maxvCpus": 32, "desiredvCpus": 0}
        | resources,
    }
    base.update(overrides)
    return base


def patch_ces(monkeypatch: pytest.MonkeyPatch, *ces: dict[str, Any] | str) -> None:
    """A queue with these CEs attached in order; a plain string is a CE that does not exist."""
    names = [c if isinstance(c, str) else c["computeEnvironmentName"] for c in ces]
    by_name = {c["computeEnvironmentName"]: c for c in ces if isinstance(c, dict)}
    order = [{"order": i + 1, "computeEnvironment": n} for i, n in enumerate(names)]
    lookup: Callable[[str], dict[str, Any] | None] = by_name.get
    patch_view(
        monkeypatch, job_queue=queue(computeEnvironmentOrder=order), compute_environment=lookup
    )


def test_ce_ok_on_the_seed_world(seed_world):
    res = check(seed_world, "CE_CHECK")
    assert res.status is Status.OK
    assert res.detail == f"CE {CE} state=ENABLED status=VALID type=MANAGED (EC2) maxvCpus=32"


def test_ce_disabled(seed_world):
    boto3.client("batch").update_compute_environment(computeEnvironment=CE, state="DISABLED")
    res = check(seed_world, "CE_CHECK")
    assert res.status is Status.FAIL
    assert_explained(res)
    assert res.detail == f"CE {CE} is DISABLED"
    assert f"--compute-environment {CE} --state ENABLED" in res.hints[0]


def test_ce_invalid_reports_each_ces_status_reason(aws, monkeypatch):
    reason = "CLIENT_ERROR - The service role academy-batch-service-role does not exist"
    patch_ces(
        monkeypatch,
        ce("ce-spot", status="INVALID", statusReason=reason),
        ce("ce-ondemand"),
        ce("ce-old", status="INVALID", statusReason="INTERNAL_ERROR - subnet deleted"),
    )
    res = check(PLAIN_TARGET, "CE_CHECK")
    assert res.status is Status.FAIL
    assert_explained(res)
    assert res.detail == (
        f"CE ce-spot status=INVALID: {reason}; CE ce-old status=INVALID: "
        "INTERNAL_ERROR - subnet deleted"
    )
    assert len(res.hints) == 2 and "ce-spot" in res.hints[0] and "ce-old" in res.hints[1]
    by_name = {f["ce"]: f for f in res.data["compute_environments"]}
    assert by_name["ce-spot"]["statusReason"] == reason
    assert by_name["ce-ondemand"]["status"] == "VALID"


@pytest.mark.parametrize("entry", CE_REASONS, ids=lambda e: f"{e['class']}-{CE_REASONS.index(e)}")
def test_ce_invalid_names_the_class_of_its_reason_and_its_fix(aws, monkeypatch, entry):
    patch_ces(monkeypatch, ce("ce-spot", status="INVALID", statusReason=entry["text"]))
    res = check(PLAIN_TARGET, "CE_CHECK")
    kind = ReasonClass[entry["class"]]
    assert res.status is Status.FAIL
    assert_explained(res)
    assert res.detail == f"CE ce-spot status=INVALID: {entry['text']}"
    [facts] = res.data["compute_environments"]
    assert facts["reason_class"] == kind.value
    context = HintContext(region=REGION, job_queue=QUEUE, compute_environments=("ce-spot",))
    assert res.hints == [reason_hint(classify_ce_reason(entry["text"]), context)]
    assert "ce-spot" in res.hints[0]


def test_ce_invalid_for_a_reason_it_does_not_know_still_says_what_to_fix(aws, monkeypatch):
    patch_ces(monkeypatch, ce("ce-old", status="INVALID", statusReason=""))
    res = check(PLAIN_TARGET, "CE_CHECK")
    assert res.status is Status.FAIL
    assert res.data["compute_environments"][0]["reason_class"] == ReasonClass.CE_INVALID.value
    [hint] = res.hints
    assert "statusReason of ce-old" in hint and "update the compute environment" in hint


def test_ce_being_changed_is_not_classified(aws, monkeypatch):
    patch_ces(
        monkeypatch, ce(status="CREATING", statusReason="ComputeEnvironment is being created")
    )
    res = check(PLAIN_TARGET, "CE_CHECK")
    assert res.status is Status.WARN
    assert "reason_class" not in res.data["compute_environments"][0]


def test_ce_max_vcpus_zero_is_a_warning(world, tmp_path):
    world.queue_with_ce(max_vcpus=0)
    res = check(PLAIN_TARGET, "CE_CHECK")
    assert res.status is Status.WARN
    assert_explained(res)
    assert res.detail == f"CE {CE} maxvCpus=0: no job can ever be placed"
    assert "maxvCpus=<n>" in res.hints[0]


def test_ce_desired_above_max_is_a_warning(aws, monkeypatch):
    patch_ces(monkeypatch, ce(computeResources={"maxvCpus": 16, "desiredvCpus": 64}))
    res = check(PLAIN_TARGET, "CE_CHECK")
    assert res.status is Status.WARN
    assert_explained(res)
    assert res.detail == f"CE {CE} desiredvCpus=64 > maxvCpus=16"


def test_ce_being_updated_is_a_warning(aws, monkeypatch):
    patch_ces(monkeypatch, ce(status="UPDATING"))
    res = check(PLAIN_TARGET, "CE_CHECK")
    assert res.status is Status.WARN
    assert res.detail == f"CE {CE} status=UPDATING"


def test_ce_missing(aws, monkeypatch):
    patch_ces(monkeypatch, ce("ce-ok"), "academy-video-batch-ce-deleted")
    res = check(PLAIN_TARGET, "CE_CHECK")
    assert res.status is Status.FAIL
    assert_explained(res)
    assert res.detail == "CE academy-video-batch-ce-deleted not found"
    assert "academy-video-batch-ce-deleted" in res.hints[0]


def test_ce_alone_names_a_missing_queue_not_a_missing_ce(aws):
    res = check({**PLAIN_TARGET, "job_queue": "no-such-queue"}, "CE_CHECK")
    assert res.status is Status.FAIL
    assert_explained(res)
    assert res.detail.startswith(f"job queue no-such-queue does not exist in {REGION}")


def test_ce_alone_names_the_queue_permission_when_the_queue_read_is_denied(aws, monkeypatch):
    patch_view(monkeypatch, job_queue=client_error("AccessDeniedException", "DescribeJobQueues"))
    res = check(PLAIN_TARGET, "CE_CHECK")
    assert res.status is Status.FAIL
    assert "batch:DescribeJobQueues" in res.hints[0]


def test_ce_describe_denied_names_describe_compute_environments(aws, monkeypatch):
    patch_view(
        monkeypatch,
        job_queue=queue(),
        compute_environment=client_error("AccessDeniedException", "DescribeComputeEnvironments"),
    )
    res = check(PLAIN_TARGET, "CE_CHECK")
    assert res.status is Status.FAIL
    assert "batch:DescribeComputeEnvironments" in res.hints[0]


def test_ce_with_missing_fields_is_reported_not_crashed(aws, monkeypatch):
    patch_ces(monkeypatch, {"computeEnvironmentName": CE})
    res = check(PLAIN_TARGET, "CE_CHECK")
    assert res.status is Status.FAIL
    assert f"CE {CE} is UNKNOWN" in res.detail


def test_ce_skipped_when_the_queue_fails(seed_world):
    report = run({**seed_world, "job_queue": "nope"}, ["QUEUE_CHECK", "CE_CHECK"])
    res = result(report, "CE_CHECK")
    assert res.status is Status.SKIP
    assert res.detail.startswith("QUEUE_CHECK is FAIL: job queue nope does not exist")
