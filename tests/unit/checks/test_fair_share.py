"""SMOKE_SUBMIT_CHECK on a fair-share queue: the job carries a share identifier (configured,
a share of the queue's scheduling policy, a prefix share completed, or the built-in one) and
the lowest scheduling priority; a queue without a scheduling policy gets neither.

The scheduling policies are the shapes corpus's (tests/data/batch_shapes.json, Terraform's
acceptance tests, each with its source); moto with the Batch answer layer (support.shapes)
holds them and, like AWS, refuses a fair-share submit without a share identifier and a FIFO
submit with one.
"""

from __future__ import annotations

from typing import Any

import pytest
from support.checks import client_error, patch_view
from support.shapes_data import answer, entry
from support.suite import light_queue, run_target

from batch_health.demo import JOBDEF, QUEUE, WORKER_COMMAND, WorldBuilder
from batch_health.models import CheckResult, Status

TARGET = {"name": "academy-video", "job_queue": QUEUE, "job_definition": JOBDEF}


@pytest.fixture
def world(shapes_aws) -> WorldBuilder:
    return WorldBuilder(None)


def fair_share_queue(world: WorldBuilder, policy_id: str, **changes: Any) -> str:
    """The target's queue under the corpus's scheduling policy `policy_id` (its
    fairsharePolicy changed by `changes`), on an UNMANAGED CE; the policy's ARN."""
    policy = answer("scheduling_policies", policy_id)
    fairshare = {**policy["fairsharePolicy"], **changes}
    batch = world.client("batch")
    arn = batch.create_scheduling_policy(name=policy["name"], fairsharePolicy=fairshare)["arn"]
    light_queue(world, arn)
    world.job_definition(command=WORKER_COMMAND)
    return arn


def smoke(target: dict[str, Any], **smoke_config: Any) -> CheckResult:
    target = {**target, "smoke": smoke_config} if smoke_config else target
    report = run_target(target, checks=["SMOKE_SUBMIT_CHECK"], allow_test_submit=True)
    result = report.result("SMOKE_SUBMIT_CHECK")
    assert result is not None
    return result


def submitted_job(world: WorldBuilder, result: CheckResult) -> dict[str, Any]:
    return world.client("batch").describe_jobs(jobs=[result.data["job_id"]])["jobs"][0]


def test_the_corpus_policies_are_cited():
    for policy_id in ("tf-jq-fairshare-policy-a1", "tf-sched-policy-two-shares"):
        assert entry("scheduling_policies", policy_id)["source"].startswith("https://")


def test_a_prefix_share_is_completed_to_an_identifier_it_matches(world):
    # The policy's only share is the prefix A1* (any identifier starting A1).
    fair_share_queue(world, "tf-jq-fairshare-policy-a1")
    result = smoke(TARGET)
    assert result.status is Status.OK, result.detail
    job = submitted_job(world, result)
    assert (job["shareIdentifier"], job["schedulingPriority"]) == ("A1healthsmoke", 0)
    assert result.data["share_identifier"] == "A1healthsmoke"
    assert result.data["share_source"].startswith(
        "scheduling policy tf-acc-test-8675309-sp1, prefix A1*"
    )
    assert "share A1healthsmoke (scheduling policy tf-acc-test-8675309-sp1, prefix A1*" in (
        result.detail
    )
    assert "scheduling priority 0 (lowest" in result.detail


def test_the_share_the_policy_weighs_least_is_taken(world):
    # A1* weighs 0.1, A2 0.2: a higher weightFactor gets less of the compute, so the smoke
    # job takes A2's share rather than crowd the favoured one.
    fair_share_queue(world, "tf-sched-policy-two-shares")
    result = smoke(TARGET)
    assert result.status is Status.OK, result.detail
    assert submitted_job(world, result)["shareIdentifier"] == "A2"
    assert result.data["share_source"] == (
        "scheduling policy tf-acc-test-8675309-sp2, share A2 (weightFactor 0.2)"
    )


def test_a_configured_share_and_priority_win(world):
    fair_share_queue(world, "tf-sched-policy-two-shares")
    result = smoke(TARGET, share_identifier="A1ops", scheduling_priority=5)
    assert result.status is Status.OK, result.detail
    job = submitted_job(world, result)
    assert (job["shareIdentifier"], job["schedulingPriority"]) == ("A1ops", 5)
    assert result.data["share_source"] == "configured (smoke.share_identifier)"
    assert result.data["scheduling_priority_source"] == "configured (smoke.scheduling_priority)"


def test_a_configured_share_needs_no_policy_read(world, monkeypatch):
    fair_share_queue(world, "tf-sched-policy-two-shares")
    patch_view(monkeypatch, scheduling_policy=AssertionError("the policy was read"))
    result = smoke(TARGET, share_identifier="A2")
    assert result.status is Status.OK, result.detail
    assert result.data["scheduling_priority"] == 0


def test_a_policy_without_distribution_gets_the_built_in_share(world):
    # FairsharePolicy.shareDistribution is optional; an unlisted share weighs 1.0.
    fair_share_queue(world, "tf-sched-policy-two-shares", shareDistribution=[])
    result = smoke(TARGET)
    assert result.status is Status.OK, result.detail
    assert submitted_job(world, result)["shareIdentifier"] == "healthsmoke"
    assert result.data["share_source"].startswith("built-in default: scheduling policy")


def test_a_priority_queue_gets_no_share_even_when_one_is_configured(world):
    light_queue(world)  # FIFO: no scheduling policy
    world.job_definition(command=WORKER_COMMAND)
    result = smoke(TARGET, share_identifier="A2", scheduling_priority=5)
    assert result.status is Status.OK, result.detail
    job = submitted_job(world, result)
    assert "shareIdentifier" not in job
    assert "share_identifier" not in result.data
    assert "share " not in result.detail


def test_a_policy_that_cannot_be_read_is_named_and_nothing_is_sent(world, monkeypatch):
    arn = fair_share_queue(world, "tf-sched-policy-two-shares")
    patch_view(
        monkeypatch,
        scheduling_policy=client_error("AccessDeniedException", "DescribeSchedulingPolicies"),
    )
    result = smoke(TARGET)
    assert result.status is Status.FAIL
    assert result.detail.startswith(
        f"job queue {QUEUE} is fair-share (policy tf-acc-test-8675309-sp2) and its scheduling "
        "policy could not be read: access denied"
    )
    assert "nothing was submitted" in result.detail
    assert "batch:DescribeSchedulingPolicies" in result.hints[0]
    assert "smoke.share_identifier" in result.hints[1]
    assert result.data["scheduling_policy"] == arn
    batch = world.client("batch")
    assert batch.list_jobs(jobQueue=QUEUE, jobStatus="SUCCEEDED")["jobSummaryList"] == []


def test_a_policy_the_describe_does_not_know_falls_back_to_the_built_in_share(world):
    arn = fair_share_queue(world, "tf-sched-policy-two-shares")
    world.client("batch").delete_scheduling_policy(arn=arn)
    result = smoke(TARGET)
    assert result.status is Status.OK, result.detail
    assert result.data["share_identifier"] == "healthsmoke"
    assert result.data["share_source"] == f"built-in default: scheduling policy {arn} not found"


def test_a_quota_share_policy_needs_a_configured_share(world, monkeypatch):
    fair_share_queue(world, "tf-sched-policy-two-shares")
    # SchedulingPolicyDetail holds fairsharePolicy or quotaSharePolicy (API reference,
    # https://docs.aws.amazon.com/batch/latest/APIReference/API_SchedulingPolicyDetail.html).
    patch_view(
        monkeypatch,
        scheduling_policy={
            "name": "quota",
            "arn": "arn:aws:batch:ap-northeast-2:123456789012:scheduling-policy/quota",
            "quotaSharePolicy": {"idleResourceAssignmentStrategy": "FIFO"},
        },
    )
    result = smoke(TARGET)
    assert result.status is Status.SKIP
    assert "quota-share scheduling policy" in result.detail
    assert "smoke.share_identifier" in result.detail


def test_the_policy_is_read_ahead():
    from batch_health.checks import get_check

    assert "scheduling_policy" in get_check("SMOKE_SUBMIT_CHECK").needs
