"""One check run on a target dict, and AWS answers moto never gives.

What the checks' tests share: a plain target and the ARNs AWS gives its resources; running
the suite for one check; a TargetView read replaced by an answer (INVALID statuses,
UPDATING queues, missing fields) or an error; botocore's Stubber for error codes on the
real client path; what every FAIL/WARN owes its reader; the two log checks run together;
jobs listed in a queue (moto cannot hold jobs in RUNNABLE or give them reasons).
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from batch_health.aws.inventory import TargetView
from batch_health.aws.sessions import AwsSessions
from batch_health.demo import CE, JOBDEF, QUEUE, REGION
from batch_health.domain.job_definition import JobDefinitionView
from batch_health.models import CheckResult, Report
from support.suite import run_target, run_targets

ACCOUNT = "123456789012"
QUEUE_ARN = f"arn:aws:batch:{REGION}:{ACCOUNT}:job-queue/{QUEUE}"
CE_ARN = f"arn:aws:batch:{REGION}:{ACCOUNT}:compute-environment/{CE}"
JOBDEF_ARN = f"arn:aws:batch:{REGION}:{ACCOUNT}:job-definition/{JOBDEF}"
PLAIN_TARGET = {"name": "video", "region": REGION, "job_queue": QUEUE, "job_definition": JOBDEF}


def run(
    target: dict[str, Any], checks: list[str], sessions: AwsSessions | None = None, **options: Any
) -> Report:
    return run_targets([target], sessions, checks=checks, **options).reports[0]


def result(report: Report, name: str) -> CheckResult:
    found = report.result(name)
    assert found is not None, f"{name} missing from {[c.name for c in report.checks]}"
    return found


def check(target: dict[str, Any], name: str, **options: Any) -> CheckResult:
    return result(run(target, [name], **options), name)


def patch_view(monkeypatch: pytest.MonkeyPatch, **answers: Any) -> None:
    """Replace TargetView reads: a value is returned, an exception raised, a callable called.
    A job definition answer is parsed, as the view parses DescribeJobDefinitions' answer."""
    for method, answer in answers.items():
        if method == "job_definition" and isinstance(answer, dict):
            answer = JobDefinitionView.parse(answer)

        def fake(self: TargetView, *args: Any, _answer: Any = answer) -> Any:
            if isinstance(_answer, BaseException):
                raise _answer
            return _answer(*args) if callable(_answer) else _answer

        monkeypatch.setattr(TargetView, method, fake)


def client_error(code: str, op: str, message: str = "denied") -> Exception:
    return ClientError({"Error": {"Code": code, "Message": message}}, op)


def stubbed(service: str) -> tuple[AwsSessions, Stubber]:
    sessions = AwsSessions()
    stub = Stubber(sessions.client(service, REGION))
    stub.activate()
    return sessions, stub


def assert_explained(res: CheckResult) -> None:
    """Every FAIL/WARN has a one-line detail and at least one concrete hint."""
    assert res.detail and "\n" not in res.detail
    assert res.hints and all(h.strip() for h in res.hints)


def queue(**overrides: Any) -> dict[str, Any]:
    """A DescribeJobQueues answer for the plain target's queue, with these fields changed."""
    base = {
        "jobQueueName": QUEUE,
        "jobQueueArn": QUEUE_ARN,
        "state": "ENABLED",
        "status": "VALID",
        "priority": 1,
        "computeEnvironmentOrder": [{"order": 1, "computeEnvironment": CE_ARN}],
    }
    base.update(overrides)
    return base


# --- the two log checks ----------------------------------------------------------------

BOTH = ["LOG_GROUP_CHECK", "LOG_CONTENT_CHECK"]


def run_logs(target: dict[str, Any], checks: list[str] = BOTH) -> Report:
    return run_target(target, checks=checks)


def deny_describe_log_groups(monkeypatch: pytest.MonkeyPatch, code: str) -> None:
    """logs:DescribeLogGroups answers `code` (an AccessDenied of some spelling)."""

    def log_group(self: TargetView, name: str) -> Any:
        raise ClientError(
            {
                "Error": {
                    "Code": code,
                    "Message": "not authorized to perform logs:DescribeLogGroups",
                }
            },
            "DescribeLogGroups",
        )

    monkeypatch.setattr(TargetView, "log_group", log_group)


# --- jobs in a queue ----------------------------------------------------------------------


def ago(minutes: float) -> int:
    """An AWS timestamp (epoch milliseconds) `minutes` ago."""
    return int((time.time() - minutes * 60) * 1000)


def job(job_id: str, minutes_ago: float, name: str = "transcode", **fields: Any) -> dict[str, Any]:
    return {"jobId": job_id, "jobName": name, "createdAt": ago(minutes_ago), **fields}


def listed(monkeypatch: pytest.MonkeyPatch, **by_status: list[dict[str, Any]]) -> None:
    """list_jobs answers (moto cannot hold jobs in RUNNABLE or give them reasons)."""
    monkeypatch.setattr(
        TargetView, "jobs", lambda self, status, max_items=500: by_status.get(status, [])
    )
