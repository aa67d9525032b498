"""The confirmation of an incident from Batch's events: the check that owns its cause,
run for its target in the monitor function, so the message says what that check finds now.
The monitor has the read permissions; the events function only invokes it.

lambda:Invoke is not idempotent (a retried Invoke runs the monitor again), so it is made
once, without SDK retries, with a read timeout of SINGLE_ATTEMPT_READ_TIMEOUT_S; and only
while the events function has that much time left and RESERVE_S more to publish the
incident: with less, the message says the check was not run now (the scheduled run runs
it). With ReserveConcurrency=true the monitor's one slot may be taken by a scheduled run:
Lambda throttles the Invoke, and the message says so.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from batch_health.aws.errors import AWS_ERRORS, ErrorKind, classify
from batch_health.aws.sessions import SINGLE_ATTEMPT_READ_TIMEOUT_S

# (target name, check name) -> one line saying what the check found, run now.
Confirmer = Callable[[str, str], str]
# Seconds kept, after a confirmation, for counting and publishing the incident.
RESERVE_S = 10.0


def monitor_confirmer(
    sessions: Any, function_name: str, remaining_s: Callable[[], float] | None = None
) -> Confirmer:
    """Runs one check for one target in the monitor function (synchronously), so the
    incident says what that check finds now; `remaining_s`: the events function's time
    left (Lambda's context), None when unbounded."""

    def confirm(target: str, check: str) -> str:
        left = remaining_s() if remaining_s is not None else None
        if left is not None and left < SINGLE_ATTEMPT_READ_TIMEOUT_S + RESERVE_S:
            return (
                f"{check} not run now: {left:.0f} s of this function's time left, too little "
                f"to wait for it (the scheduled run checks it)"
            )
        client = sessions.client("lambda", single_attempt=True)
        payload = {"targets": [target], "checks": [check], "notify": False}
        try:
            response = client.invoke(FunctionName=function_name, Payload=json.dumps(payload))
            body = json.loads(response["Payload"].read() or b"{}")
        except (*AWS_ERRORS, ValueError) as exc:
            return f"{check} could not be run: {failure(exc)}"
        if response.get("FunctionError"):
            return f"{check} could not be run: {body.get('errorMessage', 'function error')}"
        return describe_confirmation(body, check)

    return confirm


def failure(exc: BaseException) -> str:
    if isinstance(exc, ValueError):
        return str(exc)
    failed = classify(exc)
    summary = failed.summary
    if isinstance(exc, ClientError) and failed.kind is ErrorKind.THROTTLED:
        return (
            f"{summary} (the monitor function is busy: with ReserveConcurrency its one "
            "instance may be running a scheduled run, which checks it)"
        )
    return summary


def describe_confirmation(report: dict[str, Any], check: str) -> str:
    """The check's verdict in the monitor's JSON report, on one line."""
    reports = report.get("reports") or [report]
    for result in reports[0].get("checks", []) if reports else []:
        if result.get("name") == check:
            status = result.get("status", "?")
            detail = result.get("detail", "")
            if status == "OK":
                return f"{check} passes now: {detail} (the cause is gone or comes and goes)"
            return f"{check} {status}: {detail}"
    return f"{check} did not run ({report.get('reason') or 'no result in the report'})"
