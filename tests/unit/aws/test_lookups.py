"""Batched reads (aws/lookups.py): the describes that accept lists are asked once for every
target of an account and region, counted with the botocore hook behind RequestStats."""

from __future__ import annotations

import math
import threading
from collections import Counter
from typing import Any

import pytest
from support.suite import run_targets

from batch_health.aws.sessions import AwsSessions
from batch_health.demo import WorldBuilder, suffixed_target
from batch_health.models import Status, SuiteReport


def build_targets(
    world: WorldBuilder, count: int, log_folders: tuple[str, ...] = ("/aws/batch",)
) -> list[dict[str, Any]]:
    """`count` healthy workloads, each with its own queue, CE, job definition, roles,
    SSM settings and log group (named by the job definition, not configured)."""
    targets = []
    for i in range(count):
        suffix = f"-{i:02d}"
        group = f"{log_folders[i % len(log_folders)]}/video{suffix}"
        world.queue_with_ce(suffix=suffix)
        world.job_definition(
            command=["python", "-m", "worker"], attempts=3, log_group=group, suffix=suffix
        )
        world.api_settings(suffix=suffix)
        world.log_group(group, messages=["worker started"])
        targets.append(suffixed_target(suffix))
    return targets


def counted_run(targets: list[dict[str, Any]], **options: Any) -> tuple[SuiteReport, Counter]:
    sessions = AwsSessions()
    return run_targets(targets, sessions, **options), sessions.stats.calls


def failures(suite: SuiteReport) -> list[str]:
    return [
        f"{r.target} {c.name}: {c.detail}"
        for r in suite.reports
        for c in r.checks
        if c.status is Status.FAIL
    ]


@pytest.mark.parametrize("count", [1, 4, 11])
def test_describes_that_take_lists_are_one_call_for_all_targets(world, count):
    suite, calls = counted_run(build_targets(world, count))
    assert failures(suite) == []
    assert all(r.result("LOG_GROUP_CHECK").status is Status.OK for r in suite.reports)
    assert calls["sts:GetCallerIdentity"] == 1
    assert calls["batch:DescribeJobQueues"] == 1
    assert calls["batch:DescribeComputeEnvironments"] == 1
    # Log groups named by job definitions still share one describe_log_groups.
    assert calls["logs:DescribeLogGroups"] == 1
    # Two SSM names per target, ten per get_parameters.
    assert calls["ssm:GetParameters"] == math.ceil(2 * count / 10)
    # "Latest ACTIVE revision" has no list form: one describe per job definition.
    assert calls["batch:DescribeJobDefinitions"] == count


def test_a_missing_log_group_among_batched_ones_is_reported_without_another_call(world):
    targets = build_targets(world, 4)
    world.client("logs").delete_log_group(logGroupName="/aws/batch/video-02")
    suite, calls = counted_run(targets)
    groups = {r.target: r.result("LOG_GROUP_CHECK") for r in suite.reports}
    assert groups["video-02"].status is Status.FAIL
    assert groups["video-02"].detail.startswith("log group missing: /aws/batch/video-02")
    assert {t: g.status for t, g in groups.items() if t != "video-02"} == dict.fromkeys(
        ["video-00", "video-01", "video-03"], Status.OK
    )
    assert calls["logs:DescribeLogGroups"] == 1


def test_log_groups_without_a_common_folder_are_looked_up_one_by_one(world):
    # "/" is all they share: listing by it would read every group of the account.
    targets = build_targets(world, 2, log_folders=("/aws/batch", "/ecs"))
    suite, calls = counted_run(targets)
    assert failures(suite) == []
    assert calls["logs:DescribeLogGroups"] == 2


def test_targets_sharing_a_job_definition_share_its_role_reads(world):
    targets = build_targets(world, 1)
    targets += [{**targets[0], "name": "video-copy"}, {**targets[0], "name": "video-again"}]
    suite, calls = counted_run(targets)
    assert failures(suite) == []
    assert calls["iam:GetRole"] == 2  # the execution role and the job role, once each
    # the job definition's roles, and the CE's service role (CE_CHECK), once for all three
    assert calls["iam:ListRolePolicies"] == 2
    assert calls["batch:DescribeJobDefinitions"] == 1


def test_one_work_slot_still_finishes_every_target(world):
    # Waiting for another task's fetch must not hold the only slot (or the run would hang).
    targets = build_targets(world, 3)
    outcome: dict[str, Any] = {}
    runner = threading.Thread(
        target=lambda: outcome.update(run=counted_run(targets, concurrency=1)), daemon=True
    )
    runner.start()
    runner.join(timeout=120)
    assert not runner.is_alive(), "the run did not finish"
    suite, calls = outcome["run"]
    assert failures(suite) == []
    assert calls["batch:DescribeJobQueues"] == 1
    assert calls["logs:DescribeLogGroups"] == 1
