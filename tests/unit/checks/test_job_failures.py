"""JOB_FAILURES_CHECK: FAILED jobs in the window, grouped by the class of their reason, as a
count and a share of the finished ones."""

from __future__ import annotations

from typing import Any

from support.checks import ago, check, job, listed

from batch_health.aws.inventory import TargetView
from batch_health.demo import JOBDEF, QUEUE
from batch_health.models import Status

PULL = "CannotPullContainerError: failed to resolve ref academy-video-worker:latest: not found"


def finished(job_id: str, minutes_ago: float, **fields: Any) -> dict[str, Any]:
    return job(job_id, minutes_ago + 5, stoppedAt=ago(minutes_ago), **fields)


def test_failures_are_grouped_by_reason_class(queue_target, monkeypatch):
    listed(
        monkeypatch,
        FAILED=[
            finished("f1", 10, statusReason="Task failed to start", container={"reason": PULL}),
            finished("f2", 20, statusReason=PULL),
            finished(
                "f3",
                30,
                statusReason="Essential container in task exited",
                container={"exitCode": 2, "reason": "exit"},
            ),
        ],
        SUCCEEDED=[finished(f"s{i}", 15) for i in range(7)],
    )
    result = check(queue_target, "JOB_FAILURES_CHECK")
    assert result.status is Status.WARN  # 3 of 10 is below the default 50 % fail ratio
    assert result.detail.startswith(
        f"3 FAILED of 10 finished job(s) in {QUEUE} in the last 60 min (30%)"
    )
    assert (
        "image or tag not found x2 (e.g. transcode: Task failed to start; "
        "CannotPullContainerError" in result.detail
    )
    assert "application exit code x1" in result.detail
    assert result.data["by_class"]["image or tag not found"]["count"] == 2
    assert any("academy-video-worker" in h and "tag that exists" in h for h in result.hints)
    assert any("exited with code 2" in h for h in result.hints)


def test_failure_ratio_fails(queue_target, monkeypatch):
    listed(
        monkeypatch,
        FAILED=[finished("f1", 10, statusReason=PULL), finished("f2", 12, statusReason=PULL)],
        SUCCEEDED=[finished("s1", 5)],
    )
    result = check(queue_target, "JOB_FAILURES_CHECK")
    assert result.status is Status.FAIL
    assert "(67%)" in result.detail


def test_failures_outside_the_window_and_smoke_jobs_are_ignored(queue_target, monkeypatch):
    listed(
        monkeypatch,
        FAILED=[
            finished("old", 90, statusReason=PULL),
            finished("smoke", 5, name="health-smoke-20260222T101500Z", statusReason=PULL),
        ],
        SUCCEEDED=[finished("s1", 5)],
    )
    result = check(queue_target, "JOB_FAILURES_CHECK")
    assert result.status is Status.OK
    assert result.detail == f"no FAILED job in {QUEUE} in the last 60 min"


def test_failure_thresholds_are_configurable(queue_target, monkeypatch):
    listed(
        monkeypatch,
        FAILED=[finished("f1", 10, statusReason=PULL)],
        SUCCEEDED=[finished(f"s{i}", 5) for i in range(9)],
    )
    lenient = {**queue_target, "thresholds": {"job_failures_warn_count": 2}}
    assert check(lenient, "JOB_FAILURES_CHECK").status is Status.OK
    strict = {**queue_target, "thresholds": {"job_failures_fail_ratio": 0.1}}
    assert check(strict, "JOB_FAILURES_CHECK").status is Status.FAIL


def test_failed_jobs_from_the_emulator_are_counted(queue_target, world, monkeypatch):
    batch = world.client("batch")
    for i in range(3):
        batch.submit_job(jobName=f"ok-{i}", jobQueue=QUEUE, jobDefinition=JOBDEF)
    monkeypatch.setenv("MOTO_SIMPLE_BATCH_FAIL_AFTER", "0")
    batch.submit_job(jobName="broken", jobQueue=QUEUE, jobDefinition=JOBDEF)
    batch.submit_job(jobName="health-smoke-20260222T101500Z", jobQueue=QUEUE, jobDefinition=JOBDEF)
    result = check(queue_target, "JOB_FAILURES_CHECK")
    assert result.status is Status.WARN
    assert result.data["failed"] == 1 and result.data["succeeded"] == 3
    assert "1 FAILED of 4 finished job(s)" in result.detail


def test_a_queue_without_failures_does_not_list_its_succeeded_jobs(queue_target, monkeypatch):
    asked: list[str] = []

    def jobs(self, status, max_items=500):
        asked.append(status)
        return [finished("s1", 5)] if status == "SUCCEEDED" else []

    monkeypatch.setattr(TargetView, "jobs", jobs)
    result = check(queue_target, "JOB_FAILURES_CHECK")
    assert result.status is Status.OK
    assert "FAILED" in asked and "SUCCEEDED" not in asked


# Array and multi-node jobs. ListJobs on a queue lists the jobs, and a parent's children only
# when asked by arrayJobId or multiNodeJobId
# (https://docs.aws.amazon.com/batch/latest/APIReference/API_ListJobs.html); a parent's
# summary carries arrayProperties (size, statusSummary) or nodeProperties (numNodes)
# (https://docs.aws.amazon.com/batch/latest/APIReference/API_JobSummary.html); DescribeJobs
# of a child's ID `<parent>:<index>` or `<parent>#<node>` gives its own reason
# (https://docs.aws.amazon.com/batch/latest/APIReference/API_DescribeJobs.html).
OOM = "OutOfMemoryError: Container killed due to memory usage"
EXITED = "Essential container in task exited"


def described_as(monkeypatch, children: dict[str, dict[str, Any]]) -> list[tuple[str, ...]]:
    calls: list[tuple[str, ...]] = []

    def describe_jobs(self, job_ids):
        calls.append(job_ids)
        return [{"jobId": i, **children[i]} for i in job_ids if i in children]

    monkeypatch.setattr(TargetView, "describe_jobs", describe_jobs)
    return calls


def failed_child(job_id: str, reason: str, exit_code: int, **fields: Any) -> dict[str, Any]:
    container = {"reason": reason, "exitCode": exit_code} if reason else {"exitCode": exit_code}
    return {"status": "FAILED", "statusReason": EXITED, "container": container, **fields}


def test_an_array_job_counts_once_with_its_childrens_reasons(queue_target, monkeypatch):
    summary = {"size": 8, "statusSummary": {"SUCCEEDED": 5, "FAILED": 3}}
    listed(
        monkeypatch,
        FAILED=[finished("arr", 10, name="render", arrayProperties=summary)],
        SUCCEEDED=[finished("s1", 5)],
    )
    calls = described_as(
        monkeypatch,
        {
            "arr:2": failed_child("", OOM, 137, arrayProperties={"index": 2}),
            "arr:5": failed_child("", OOM, 137, arrayProperties={"index": 5}),
            "arr:7": failed_child("", "", 1, arrayProperties={"index": 7}),
            "arr:0": {"status": "SUCCEEDED", "arrayProperties": {"index": 0}},
        },
    )
    result = check(queue_target, "JOB_FAILURES_CHECK")
    assert result.data["failed"] == 1  # one job, not three children
    assert result.detail.startswith(f"1 FAILED of 2 finished job(s) in {QUEUE}")
    assert (
        "out of memory x1 (e.g. render: array job, 3 of 8 children failed: "
        "2 out of memory, 1 application exit code" in result.detail
    )
    assert result.data["by_class"]["out of memory"]["count"] == 1
    assert len(calls) == 1 and "arr:7" in calls[0]  # one DescribeJobs, within its 100 IDs


def test_a_multi_node_job_counts_once_and_listed_nodes_fold_into_it(queue_target, monkeypatch):
    nodes = [
        finished(f"mpi#{i}", 10, nodeProperties={"nodeIndex": i, "isMainNode": i == 0}, **r)
        for i, r in (
            (0, {"statusReason": EXITED, "container": {"exitCode": 1, "reason": "x"}}),
            (3, {"statusReason": OOM}),
            (6, {"statusReason": OOM}),
        )
    ]
    parent = finished("mpi", 10, name="train", nodeProperties={"numNodes": 8})
    listed(monkeypatch, FAILED=[parent, *nodes], SUCCEEDED=[])
    described_as(monkeypatch, {})
    result = check(queue_target, "JOB_FAILURES_CHECK")
    assert result.data["failed"] == 1
    assert "multi-node job, 3 of 8 nodes failed: 2 out of memory, 1 application exit code" in (
        result.detail
    )


def test_plain_failures_beside_a_family_are_each_one_job(queue_target, monkeypatch):
    summary = {"size": 4, "statusSummary": {"FAILED": 4}}
    listed(
        monkeypatch,
        FAILED=[
            finished("arr", 10, arrayProperties=summary, statusReason=PULL),
            finished("f1", 12, statusReason=PULL),
            finished("f2", 14, statusReason=PULL),
        ],
        SUCCEEDED=[],
    )
    described_as(monkeypatch, {})
    result = check(queue_target, "JOB_FAILURES_CHECK")
    assert result.data["failed"] == 3
    assert result.data["by_class"]["image or tag not found"]["count"] == 3
