"""statusReason classes: the same cause gets the same name and hint in smoke and JOB_FAILURES.
(Every real reason text, with its source, is tested in test_reason_corpus.py.)"""

from __future__ import annotations

import pytest

from batch_health.domain.reason_hints import HintContext, reason_hint
from batch_health.domain.status_reasons import (
    ReasonClass,
    classify_ce_reason,
    classify_job,
    classify_reason,
)

CTX = HintContext(
    region="ap-northeast-2",
    job_queue="academy-video-batch-queue",
    job_definition="academy-video-batch-jobdef",
    image="123456789012.dkr.ecr.ap-northeast-2.amazonaws.com/academy-video-worker:latest",
    execution_role="academy-batch-ecs-task-execution-role",
    log_group="/aws/batch/academy-video-worker",
    compute_environments=("academy-video-batch-ce-v3",),
    job_id="job-1",
)


@pytest.mark.parametrize(
    ("status_reason", "container_reason", "exit_code", "expected"),
    [
        (
            "Task failed to start",
            "CannotPullContainerError: pull image manifest has been retried 5 time(s): "
            "failed to resolve ref academy-video-worker:latest: not found",
            None,
            ReasonClass.IMAGE_NOT_FOUND,
        ),
        (
            "CannotPullContainerError: inspect image has been retried",
            None,
            None,
            ReasonClass.IMAGE_PULL,
        ),
        (
            "ResourceInitializationError: failed to validate logger args: create stream has "
            "been retried 1 times: failed to create Cloudwatch log stream: "
            "ResourceNotFoundException: The specified log group does not exist.",
            None,
            None,
            ReasonClass.LOG_GROUP_MISSING,
        ),
        (
            "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE - CE(s) associated with the job "
            "queue cannot meet the CPU requirement of the job.",
            None,
            None,
            ReasonClass.CE_MAX_RESOURCE,
        ),
        (
            "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY - Service cannot fulfill the capacity",
            None,
            None,
            ReasonClass.INSUFFICIENT_CAPACITY,
        ),
        (
            "Essential container in task exited",
            "OutOfMemoryError: Container killed due to memory usage",
            137,
            ReasonClass.OUT_OF_MEMORY,
        ),
        ("Essential container in task exited", None, 2, ReasonClass.EXIT_CODE),
        (None, None, 1, ReasonClass.EXIT_CODE),
        ("Host EC2 (instance i-0123) terminated.", None, None, ReasonClass.HOST_INTERRUPTED),
        ("Job attempt duration exceeded timeout", None, None, ReasonClass.ATTEMPT_TIMEOUT),
        ("Dependent Job failed", None, None, ReasonClass.OTHER),
        (None, None, None, ReasonClass.OTHER),
    ],
)
def test_classify_reason(status_reason, container_reason, exit_code, expected):
    assert classify_reason(status_reason, container_reason, exit_code).kind is expected


def test_classify_job_reads_the_last_attempt():
    job = {
        "status": "FAILED",
        "statusReason": "Task failed to start",
        "attempts": [
            {"container": {"reason": "Host EC2 (instance i-1) terminated."}},
            {
                "container": {
                    "reason": "CannotPullContainerError: pull access denied",
                    "exitCode": None,
                }
            },
        ],
    }
    reason = classify_job(job)
    assert reason.kind is ReasonClass.IMAGE_PULL
    assert "pull access denied" in reason.describe()


def test_classify_job_summary_exit_code():
    job = {"statusReason": "Essential container in task exited", "container": {"exitCode": 3}}
    reason = classify_job(job)
    assert (reason.kind, reason.exit_code) == (ReasonClass.EXIT_CODE, 3)
    assert reason.describe().startswith("application exit code (exit code 3)")


@pytest.mark.parametrize(
    ("reason", "must_name"),
    [
        (
            classify_reason("CannotPullContainerError: x"),
            [CTX.image, CTX.execution_role, "ecr:BatchGetImage", "VPC endpoints"],
        ),
        (
            classify_reason(
                "ResourceInitializationError: failed to validate logger args: create stream has "
                "been retried 1 times: failed to create Cloudwatch log stream: "
                "ResourceNotFoundException: The specified log group does not exist."
            ),
            [f"aws logs create-log-group --log-group-name {CTX.log_group} --region ap-northeast-2"],
        ),
        (
            classify_reason("MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE - cannot meet"),
            ["academy-video-batch-ce-v3", "maxvCpus"],
        ),
        (
            classify_reason("CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY - no capacity"),
            ["academy-video-batch-ce-v3", "instance types", "Availability Zones"],
        ),
        (
            classify_reason("MISCONFIGURATION:SERVICE_ROLE_PERMISSIONS - denied"),
            ["service role", "academy-video-batch-ce-v3"],
        ),
        (classify_reason(None, "OutOfMemoryError: killed"), ["MEMORY", CTX.job_definition]),
        (classify_reason("Job attempt duration exceeded timeout"), ["attemptDurationSeconds"]),
        (classify_reason("Host EC2 (instance i-1) terminated."), ["evaluateOnExit", "Host EC2*"]),
        (classify_reason("Essential container in task exited", None, 2), ["code 2", CTX.log_group]),
        (classify_reason("Dependent Job failed"), ["aws batch describe-jobs --jobs job-1"]),
    ],
)
def test_hints_name_the_resources(reason, must_name):
    hint = reason_hint(reason, CTX)
    for text in must_name:
        assert text in hint


def test_a_cancelled_job_keeps_the_code_it_waited_for():
    reason = classify_reason(
        "Canceled by JobStateTimeLimit action due to reason: "
        "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY"
    )
    assert (reason.kind, reason.code, reason.by_time_limit) == (
        ReasonClass.INSUFFICIENT_CAPACITY,
        "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY",
        True,
    )
    assert reason.describe().startswith(
        "cancelled by its queue's JobStateTimeLimit action, EC2 capacity unavailable: Canceled"
    )
    assert "JobStateTimeLimit action cancelled it" in reason_hint(reason, CTX)


def test_the_fix_names_the_compute_environment_of_an_invalid_one():
    reason = classify_ce_reason(
        "CLIENT_ERROR - Launch Template UserData is not MIME multipart format"
    )
    hint = reason_hint(reason, HintContext(compute_environments=("academy-ce",)))
    assert reason.kind is ReasonClass.CE_LAUNCH_TEMPLATE
    assert "launch template of academy-ce" in hint


@pytest.mark.parametrize("text", [None, "", "CLIENT_ERROR - something new", "Healthy"])
def test_an_invalid_compute_environments_unknown_reason_is_still_its_own(text):
    assert classify_ce_reason(text).kind is ReasonClass.CE_INVALID


def test_a_jobs_reason_is_not_read_as_a_compute_environments():
    """The compute environment's rules (subnets, VPCs, launch templates) apply only to a
    compute environment's statusReason (CLIENT_ERROR, INVALIDATED)."""
    assert classify_reason("Job killed: subnet maintenance in the VPC").kind is ReasonClass.OTHER
    assert classify_reason("CLIENT_ERROR - subnet-0abc does not exist").kind is (
        ReasonClass.CE_NETWORK
    )


def test_a_long_reason_is_quoted_around_the_words_that_decide():
    prefix = "ResourceInitializationError: unable to pull secrets or registry auth: " * 4
    reason = classify_reason(f"{prefix}unable to retrieve secret from asm: retried")
    quote = reason.quote(80)
    assert reason.kind is ReasonClass.SECRET_MANAGER
    assert quote.startswith("…") and "unable to retrieve secret from asm" in quote
    assert len(quote) <= 80


def test_a_container_runtime_fix_retries_on_the_words_aws_wrote():
    reason = classify_reason(
        "Task failed to start",
        "CannotInspectContainerError: Could not transition to inspecting; timed out after "
        "waiting 30s",
    )
    assert reason.kind is ReasonClass.CONTAINER_RUNTIME
    assert "onReason 'CannotInspectContainerError*' action RETRY" in reason_hint(reason, CTX)
