"""The confirmation of an incident from Batch's events: the check that owns its cause,
run for its target in the monitor function, so the message says what that check finds now.
The monitor has the read permissions; the events function only invokes it."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from batch_health.aws.errors import AWS_ERRORS, classify

# (target name, check name) -> one line saying what the check found, run now.
Confirmer = Callable[[str, str], str]


def monitor_confirmer(sessions: Any, function_name: str) -> Confirmer:
    """Runs one check for one target in the monitor function (synchronously), so the
    incident says what that check finds now. The monitor has the read permissions."""

    def confirm(target: str, check: str) -> str:
        client = sessions.client("lambda")
        payload = {"targets": [target], "checks": [check], "notify": False}
        try:
            response = client.invoke(FunctionName=function_name, Payload=json.dumps(payload))
            body = json.loads(response["Payload"].read() or b"{}")
        except (*AWS_ERRORS, ValueError) as exc:
            summary = classify(exc).summary if not isinstance(exc, ValueError) else str(exc)
            return f"{check} could not be run: {summary}"
        if response.get("FunctionError"):
            return f"{check} could not be run: {body.get('errorMessage', 'function error')}"
        return describe_confirmation(body, check)

    return confirm


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
