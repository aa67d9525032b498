"""IAM_CHECK's tests: its run, the job definitions they register, and the IAM simulator's
answer as AWS gives it today (botocore's own parser reads it)."""

from __future__ import annotations

from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.parsers import create_parser

from batch_health.demo import LOG_GROUP
from batch_health.models import CheckResult
from support.checks import check
from support.faults import Body

STREAM_ARN = f"arn:aws:logs:ap-northeast-2:123456789012:log-group:{LOG_GROUP}:log-stream:*"


def iam_check(target: dict[str, Any], **options: Any) -> CheckResult:
    return check(target, "IAM_CHECK", **options)


def register_container(world, name: str, **container: Any) -> None:
    """A one-vCPU container job definition `name` with these container properties."""
    world.client("batch").register_job_definition(
        jobDefinitionName=name,
        type="container",
        containerProperties={
            "command": ["true"],
            "resourceRequirements": [
                {"type": "VCPU", "value": "1"},
                {"type": "MEMORY", "value": "512"},
            ],
            **container,
        },
    )


# --- the simulator's answer as AWS gives it now ------------------------------------------
# One result per action: the top-level EvalResourceName is the ARN template of the resource
# type, and each resource asked about has its decision in ResourceSpecificResults.
LOG_STREAM_TEMPLATE = (
    "arn:${Partition}:logs:${Region}:${Account}:log-group:${LogGroupName}"
    ":log-stream:${LogStreamName}"
)


def _member(tag: str, fields: dict[str, str], matched: str = "") -> str:
    inner = "".join(f"<{k}>{v}</{k}>" for k, v in fields.items())
    statements = f"<MatchedStatements><member><SourcePolicyId>{matched}</SourcePolicyId>"
    statements += "<SourcePolicyType>IAM Policy</SourcePolicyType></member></MatchedStatements>"
    return f"<{tag}>{inner}{statements if matched else '<MatchedStatements/>'}</{tag}>"


def simulator_answer(
    decide: dict[Any, str], unanswered: tuple[str, ...] = (), before: Any = None
) -> Any:
    """A before-call handler answering SimulatePrincipalPolicy in today's shape, parsed by
    botocore's own query parser. `decide`: action, or (action, resource), -> decision
    (default allowed); `unanswered`: actions left out of the answer. Records the resources
    of every simulation asked for."""
    asked: list[list[str]] = []
    strictness = ["allowed", "implicitDeny", "explicitDeny"]

    def answer(model, params, **_):
        if before is not None:
            before()
        form = params["body"]
        actions = [v for k, v in sorted(form.items()) if k.startswith("ActionNames.member.")]
        resources = [v for k, v in sorted(form.items()) if k.startswith("ResourceArns.member.")]
        asked.append(resources)
        results = []
        for action in actions:
            if action in unanswered:
                continue
            decisions = {
                r: decide.get((action, r), decide.get(action, "allowed")) for r in resources
            }
            specific = "".join(
                _member(
                    "member",
                    {"EvalResourceName": r, "EvalResourceDecision": d},
                    "guard" if d == "explicitDeny" else "",
                )
                for r, d in decisions.items()
            )
            aggregate = max(decisions.values(), key=strictness.index)
            template = LOG_STREAM_TEMPLATE if action.startswith("logs:") else "*"
            top = _member(
                "member",
                {
                    "EvalActionName": action,
                    "EvalResourceName": template,
                    "EvalDecision": aggregate,
                    "ResourceSpecificResults": specific,
                },
                "guard" if aggregate == "explicitDeny" else "",
            )
            results.append(top)
        body = (
            '<SimulatePrincipalPolicyResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">'
            "<SimulatePrincipalPolicyResult><IsTruncated>false</IsTruncated>"
            f"<EvaluationResults>{''.join(results)}</EvaluationResults>"
            "</SimulatePrincipalPolicyResult>"
            "<ResponseMetadata><RequestId>r</RequestId></ResponseMetadata>"
            "</SimulatePrincipalPolicyResponse>"
        ).encode()
        http = {"body": body, "headers": {}, "status_code": 200}
        parsed = create_parser("query").parse(http, model.output_shape)
        return AWSResponse("https://iam.amazonaws.com/", 200, {}, Body(body)), parsed

    return answer, asked
