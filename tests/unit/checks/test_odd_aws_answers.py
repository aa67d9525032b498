"""AWS answers with missing fields or odd values: every check says FAIL/WARN/OK/SKIP, none crashes.

Every registered check runs against a TargetView whose AWS answers come from a table (a
healthy workload's, tests/support/answer_view.py, then one oddity at a time). The derived
lookups (the queue's compute environments, the job definition's roles and log group) are
TargetView's own, so they meet the odd answers too. A result whose detail starts with
"check crashed" is the engine's crash isolation catching a KeyError/TypeError: that is a
failure of this test.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from support.answer_view import (
    CE_ARN,
    HOUR_MS,
    LOG_GROUP,
    NOW_MS,
    QUEUE,
    TARGET,
    AnswerView,
    FakeClock,
    healthy_answers,
    run_every_check,
)

from batch_health.checks import REGISTRY, CheckContext, RunOptions
from batch_health.checks.smoke_submit import SmokeSubmitCheck
from batch_health.engine import run_check
from batch_health.models import CheckResult, Status

# --- the oddities ------------------------------------------------------------------------

Oddity = Callable[[dict[str, Any]], None]


def _ce(a: dict[str, Any]) -> dict[str, Any]:
    return a["compute_environments"][CE_ARN]


def _container(a: dict[str, Any]) -> dict[str, Any]:
    return a["job_definition"]["containerProperties"]


def _set(key: str, value: Any) -> Oddity:
    return lambda a: a.__setitem__(key, value)


def _drop(get: Callable[[dict[str, Any]], dict[str, Any]], *keys: str) -> Oddity:
    def apply(a: dict[str, Any]) -> None:
        for key in keys:
            get(a).pop(key, None)

    return apply


def _update(get: Callable[[dict[str, Any]], dict[str, Any]], **values: Any) -> Oddity:
    return lambda a: get(a).update(values)


def _jobs(**by_status: list[dict[str, Any]]) -> Oddity:
    return lambda a: a["jobs"].update(by_status)


def _everything_empty(a: dict[str, Any]) -> None:
    for key, value in a.items():
        a[key] = type(value)() if isinstance(value, dict | list) else {}


OLD_MS = NOW_MS - 5 * HOUR_MS
ODDITIES: dict[str, Oddity] = {
    # job queue
    "queue without computeEnvironmentOrder": _drop(
        lambda a: a["job_queue"], "computeEnvironmentOrder"
    ),
    "queue with an empty computeEnvironmentOrder": _update(
        lambda a: a["job_queue"], computeEnvironmentOrder=[]
    ),
    "queue order entry without fields": _update(
        lambda a: a["job_queue"], computeEnvironmentOrder=[{}]
    ),
    "queue order entries without order numbers": _update(
        lambda a: a["job_queue"],
        computeEnvironmentOrder=[
            {"computeEnvironment": CE_ARN},
            {"order": 2, "computeEnvironment": "x"},
        ],
    ),
    "queue with unknown status": _update(lambda a: a["job_queue"], status="REBALANCING"),
    "queue with unknown state": _update(lambda a: a["job_queue"], state="PAUSED"),
    "queue without state, status, name or ARN": _drop(
        lambda a: a["job_queue"], "state", "status", "jobQueueName", "jobQueueArn"
    ),
    "queue answer empty": _set("job_queue", {}),
    "queue missing": _set("job_queue", None),
    # compute environments
    "CE without computeResources": _drop(_ce, "computeResources"),
    "CE with empty computeResources": _update(_ce, computeResources={}),
    "CE with unknown state, status and type": _update(
        _ce, state="HIBERNATING", status="REPAIRING", type="HYBRID"
    ),
    "CE without state, status, type or name": _drop(
        _ce, "state", "status", "type", "computeEnvironmentName"
    ),
    "CE answer empty": lambda a: a["compute_environments"].__setitem__(CE_ARN, {}),
    "CE not found": _set("compute_environments", {}),
    "CE with maxvCpus 0 and desired above max": _update(
        _ce, computeResources={"maxvCpus": 0, "desiredvCpus": 4}
    ),
    # job definition
    "job definition without containerProperties": _drop(
        lambda a: a["job_definition"], "containerProperties"
    ),
    "job definition with empty containerProperties": _update(
        lambda a: a["job_definition"], containerProperties={}
    ),
    "job definition of unknown type": _update(lambda a: a["job_definition"], type="multinode"),
    "job definition without type, revision, ARN or name": _drop(
        lambda a: a["job_definition"], "type", "revision", "jobDefinitionArn", "jobDefinitionName"
    ),
    "job definition without retryStrategy attempts": _update(
        lambda a: a["job_definition"], retryStrategy={}
    ),
    "job definition without parameters or platformCapabilities": _drop(
        lambda a: a["job_definition"], "parameters", "platformCapabilities"
    ),
    "job definition on Fargate without roles": lambda a: (
        a["job_definition"].update(platformCapabilities=["FARGATE"]),
        _container(a).pop("executionRoleArn"),
        _container(a).pop("jobRoleArn"),
    ),
    "log configuration without options": _update(
        _container, logConfiguration={"logDriver": "awslogs"}
    ),
    "log configuration of unknown driver": _update(
        _container, logConfiguration={"logDriver": "journald", "options": {}}
    ),
    "container without image or command": _drop(_container, "image", "command"),
    "role ARNs that are not ARNs": _update(
        _container, executionRoleArn="video-exec", jobRoleArn="arn:aws:iam::123:user/x"
    ),
    "job definition answer empty": _set("job_definition", {}),
    "job definition missing": _set("job_definition", None),
    # logs
    "log group without retention": _drop(lambda a: a["log_groups"][LOG_GROUP], "retentionInDays"),
    "log group answer empty": lambda a: a["log_groups"].__setitem__(LOG_GROUP, {}),
    "log group missing": _set("log_groups", {}),
    "no log streams": _set("log_streams", []),
    "log stream without name or timestamps": _set("log_streams", [{}]),
    "log events without timestamp or message": _set("log_events", {"worker/1": [{}, {}]}),
    "log events of a stream never listed": _set("log_events", {"other": [{"message": "ERROR"}]}),
    # jobs
    "jobs without createdAt or stoppedAt": _jobs(
        RUNNABLE=[{"jobId": "r-1", "jobName": "waiting"}],
        FAILED=[{"jobId": "f-1", "jobName": "failed"}],
        SUCCEEDED=[{"jobId": "s-1"}],
    ),
    "jobs without jobId or jobName": _jobs(
        RUNNABLE=[{"createdAt": OLD_MS}],
        FAILED=[{"createdAt": NOW_MS, "stoppedAt": NOW_MS}],
    ),
    "jobs with unknown status strings and reasons": _jobs(
        RUNNABLE=[{"jobId": "r-1", "status": "QUEUED_SOMEHOW", "createdAt": OLD_MS}],
        FAILED=[
            {
                "jobId": "f-1",
                "status": "KILLED",
                "statusReason": "SOMETHING_NEW: the service changed",
                "stoppedAt": NOW_MS,
                "container": {"exitCode": 137},
            }
        ],
    ),
    "failed jobs whose descriptions lack fields": lambda a: (
        _jobs(
            RUNNABLE=[{"jobId": "r-1", "createdAt": OLD_MS}],
            FAILED=[{"jobId": "f-1", "stoppedAt": NOW_MS}, {"jobId": "f-2", "stoppedAt": NOW_MS}],
        )(a),
        a.__setitem__(
            "described_jobs",
            [{"jobId": "f-1", "attempts": [{}], "container": {}}, {"jobId": "r-1", "attempts": []}],
        ),
    ),
    "jobs created in the future": _jobs(
        RUNNABLE=[{"jobId": "r-1", "createdAt": NOW_MS + 10 * HOUR_MS}],
        FAILED=[{"jobId": "f-1", "stoppedAt": NOW_MS + HOUR_MS}],
    ),
    # IAM
    "role without AssumeRolePolicyDocument": _drop(
        lambda a: a["roles"]["video-exec"], "AssumeRolePolicyDocument"
    ),
    "trust policy URL-encoded as IAM sends it": _update(
        lambda a: a["roles"]["video-job"],
        AssumeRolePolicyDocument="%7B%22Statement%22%3A%5B%5D%7D",
    ),
    "trust policy without statements": _update(
        lambda a: a["roles"]["video-exec"], AssumeRolePolicyDocument={"Version": "2012-10-17"}
    ),
    "role answer empty": lambda a: a["roles"].__setitem__("video-exec", {}),
    "roles missing": _set("roles", {}),
    "role without policies": _set("role_policies", {}),
    "policy statements without Effect, Action or Resource": _set(
        "role_policies", {"video-exec": {"inline policy odd": {"Statement": [{}, {"Sid": "x"}]}}}
    ),
    "simulator answers without fields": _set("simulation", [{}]),
    "simulator answers unknown decisions": _set(
        "simulation", [{"EvalActionName": "logs:PutLogEvents", "EvalDecision": "maybe"}]
    ),
    # identity, config sources
    "caller identity answer empty": _set("caller_identity", {}),
    "SSM parameters missing": _set("ssm", {}),
    # smoke submit
    "submit answer without jobId": _set("submit", {}),
    "polled job with unknown status": _set("poll", {"status": "PENDING_SOMETHING"}),
    "polled job answer empty": _set("poll", {}),
    "polled job missing": _set("poll", None),
    "polled job stuck RUNNABLE without reason": _set("poll", {"status": "RUNNABLE"}),
    "polled job FAILED without reasons": _set("poll", {"status": "FAILED", "attempts": [{}]}),
    # all at once
    "every answer empty": _everything_empty,
}


def answers_with(oddity: str) -> dict[str, Any]:
    answers = healthy_answers()
    ODDITIES[oddity](answers)
    return answers


def assert_clear(results: dict[str, CheckResult]) -> None:
    """No crash; a FAIL or WARN says what and what to do; the report renders as JSON."""
    assert list(results) == [c.name for c in REGISTRY]
    for name, result in results.items():
        assert not result.detail.startswith("check crashed"), (name, result.detail)
        assert result.status in set(Status), name
        assert result.detail, name
        if result.status in (Status.FAIL, Status.WARN):
            assert result.hints and all(h.strip() for h in result.hints), (name, result.detail)
        json.dumps(result.to_dict())  # what the JSON report and the log line hold


def test_healthy_answers_are_all_ok():
    results = run_every_check(healthy_answers())
    assert_clear(results)
    assert {n: r.status for n, r in results.items()} == dict.fromkeys(results, Status.OK), {
        n: r.detail for n, r in results.items() if r.status is not Status.OK
    }


@pytest.mark.parametrize("oddity", list(ODDITIES))
def test_every_check_gives_a_clear_answer(oddity):
    assert_clear(run_every_check(answers_with(oddity)))


def status_and_detail(oddity: str, check: str) -> tuple[Status, str]:
    result = run_every_check(answers_with(oddity))[check]
    return result.status, result.detail


@pytest.mark.parametrize(
    ("oddity", "check", "status", "says"),
    [
        (
            "queue without computeEnvironmentOrder",
            "QUEUE_CHECK",
            Status.FAIL,
            f"job queue {QUEUE} has no compute environment attached",
        ),
        (
            "queue without computeEnvironmentOrder",
            "CE_CHECK",
            Status.FAIL,
            f"job queue {QUEUE} has no compute environment",
        ),
        ("queue with unknown status", "QUEUE_CHECK", Status.WARN, "status=REBALANCING"),
        ("queue with unknown state", "QUEUE_CHECK", Status.FAIL, "is PAUSED"),
        ("queue without state, status, name or ARN", "QUEUE_CHECK", Status.FAIL, "is UNKNOWN"),
        ("CE with unknown state, status and type", "CE_CHECK", Status.FAIL, "status=REPAIRING"),
        ("CE not found", "CE_CHECK", Status.FAIL, f"CE {CE_ARN} not found"),
        (
            "job definition without containerProperties",
            "JOBDEF_CHECK",
            Status.FAIL,
            "no container: none of containerProperties",
        ),
        ("job definition of unknown type", "JOBDEF_CHECK", Status.FAIL, "type=multinode"),
        (
            "log configuration of unknown driver",
            "JOBDEF_CHECK",
            Status.WARN,
            "logDriver=journald: its output stays on the instance",
        ),
        ("log group without retention", "LOG_GROUP_CHECK", Status.WARN, "has no retention"),
        (
            "role without AssumeRolePolicyDocument",
            "IAM_CHECK",
            Status.FAIL,
            "execution role video-exec does not trust ecs-tasks.amazonaws.com",
        ),
        ("roles missing", "IAM_CHECK", Status.FAIL, "execution role video-exec does not exist"),
        ("SSM parameters missing", "CONFIG_MATCH_QUEUE", Status.FAIL, "does not exist"),
        ("polled job with unknown status", "SMOKE_SUBMIT_CHECK", Status.FAIL, "PENDING_SOMETHING"),
        ("submit answer without jobId", "SMOKE_SUBMIT_CHECK", Status.FAIL, "without a jobId"),
    ],
)
def test_odd_answers_are_named_in_the_result(oddity, check, status, says):
    got_status, detail = status_and_detail(oddity, check)
    assert got_status is status, detail
    assert says in detail


def test_a_smoke_job_with_an_unknown_status_is_terminated():
    answers = answers_with("polled job with unknown status")
    view = AnswerView(TARGET, answers)
    ctx = CheckContext(TARGET, view, RunOptions(allow_test_submit=True), time.monotonic() + 600, {})
    clock = FakeClock()
    result = run_check(SmokeSubmitCheck(sleep=clock.sleep, clock=clock), ctx)
    assert result.status is Status.FAIL and result.detail.endswith("terminated")
    assert view.batch.terminated == ["smoke-1"]


def test_the_smoke_check_waits_between_polls_without_its_work_slot():
    import threading

    from batch_health.aws import concurrency

    answers = answers_with("polled job with unknown status")
    view = AnswerView(TARGET, answers)
    ctx = CheckContext(TARGET, view, RunOptions(allow_test_submit=True), time.monotonic() + 600, {})
    clock = FakeClock()
    held: list[bool] = []

    def sleep(seconds: float) -> None:
        held.append(concurrency._work_slots.get() is not None)
        clock.sleep(seconds)

    slots = threading.Semaphore(1)
    with slots, concurrency.in_work_slot(slots):
        run_check(SmokeSubmitCheck(sleep=sleep, clock=clock), ctx)
    assert held and not any(held)  # every wait with the slot given up
