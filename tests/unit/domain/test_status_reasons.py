"""statusReason classes: the same cause gets the same name and hint in smoke and JOB_FAILURES."""

from __future__ import annotations

import pytest

from batch_health.domain.status_reasons import (
    HintContext,
    ReasonClass,
    classify_job,
    classify_reason,
    reason_hint,
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
            ReasonClass.IMAGE_PULL,
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
            ReasonClass.LOG_CONFIG,
        ),
        (
            "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE - CE(s) associated with the job "
            "queue cannot meet the CPU requirement of the job.",
            None,
            None,
            ReasonClass.RESOURCES,
        ),
        (
            "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY - Service cannot fulfill the capacity",
            None,
            None,
            ReasonClass.RESOURCES,
        ),
        (
            "Essential container in task exited",
            "OutOfMemoryError: Container killed due to memory usage",
            137,
            ReasonClass.RESOURCES,
        ),
        ("Essential container in task exited", None, 2, ReasonClass.EXIT_CODE),
        (None, None, 1, ReasonClass.EXIT_CODE),
        ("Host EC2 (instance i-0123) terminated.", None, None, ReasonClass.HOST_TERMINATION),
        ("Job attempt duration exceeded timeout", None, None, ReasonClass.TIMEOUT),
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
    assert reason.describe().startswith("essential container exit code (exit code 3)")


@pytest.mark.parametrize(
    ("reason", "must_name"),
    [
        (
            classify_reason("CannotPullContainerError: x"),
            [CTX.image, CTX.execution_role, "ecr:BatchGetImage", "VPC endpoints"],
        ),
        (
            classify_reason("ResourceInitializationError: failed to validate logger args"),
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
