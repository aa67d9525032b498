"""Local IAM evaluation: the decisions IAM_CHECK relies on when the simulator is unavailable."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest

from batch_health.domain.iam_policy import (
    Decision,
    PolicyDocument,
    evaluate,
    parse_document,
    trusted_services,
    wildcard_match,
)

GROUP = "/aws/batch/academy-video-worker"
STREAM_ARN = f"arn:aws:logs:ap-northeast-2:123456789012:log-group:{GROUP}:log-stream:*"


def policy(*statements: dict[str, Any], source: str = "inline policy p") -> PolicyDocument:
    return PolicyDocument(source, {"Version": "2012-10-17", "Statement": list(statements)})


def allow(action: Any, resource: Any, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: Any, resource: Any, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        ("logs:*", "logs:PutLogEvents", True),
        ("logs:Put*", "logs:PutLogEvents", True),
        ("logs:?utLogEvents", "logs:PutLogEvents", True),
        ("logs:?LogEvents", "logs:PutLogEvents", False),
        ("logs:Create*", "logs:PutLogEvents", False),
        ("a.b", "axb", False),  # regex characters are literal
        ("*", "anything:at/all", True),
    ],
)
def test_wildcards(pattern, value, expected):
    assert wildcard_match(pattern, value) is expected


def test_actions_match_case_insensitively_resources_do_not():
    doc = policy(allow("LOGS:putlogevents", f"arn:aws:logs:*:*:log-group:{GROUP.upper()}:*"))
    assert evaluate([doc], "logs:PutLogEvents", STREAM_ARN).decision is Decision.IMPLICIT_DENY
    doc = policy(allow("LOGS:putlogevents", f"arn:aws:logs:*:*:log-group:{GROUP}:*"))
    assert evaluate([doc], "logs:PutLogEvents", STREAM_ARN).decision is Decision.ALLOWED


@pytest.mark.parametrize(
    "resource",
    [
        f"arn:aws:logs:ap-northeast-2:123456789012:log-group:{GROUP}:*",  # the common grant
        "arn:aws:logs:*:*:*",
        "*",
        ["arn:aws:s3:::bucket/*", f"arn:aws:logs:ap-northeast-2:*:log-group:{GROUP}:log-stream:*"],
    ],
)
def test_grants_that_cover_the_log_stream_arn(resource):
    result = evaluate(
        [policy(allow(["logs:CreateLogStream"], resource))], "logs:CreateLogStream", STREAM_ARN
    )
    assert result.decision is Decision.ALLOWED
    assert result.deciding == ("inline policy p statement 0",)


@pytest.mark.parametrize(
    "resource",
    [
        # The group ARN without `:*` does not cover its streams.
        f"arn:aws:logs:ap-northeast-2:123456789012:log-group:{GROUP}",
        "arn:aws:logs:ap-northeast-2:123456789012:log-group:/aws/batch/other:*",
        f"arn:aws:logs:us-east-1:123456789012:log-group:{GROUP}:*",
    ],
)
def test_grants_that_do_not_cover_it(resource):
    result = evaluate([policy(allow("logs:*", resource))], "logs:PutLogEvents", STREAM_ARN)
    assert result.decision is Decision.IMPLICIT_DENY


def test_explicit_deny_wins_over_any_allow():
    docs = [
        policy(allow("*", "*"), source="managed policy Admin"),
        policy(deny("logs:PutLogEvents", "*", Sid="NoLogs"), source="inline policy guard"),
    ]
    result = evaluate(docs, "logs:PutLogEvents", STREAM_ARN)
    assert result.decision is Decision.EXPLICIT_DENY
    assert result.deciding == ("inline policy guard statement NoLogs",)


def test_not_action_allows_everything_else():
    doc = policy({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})
    assert evaluate([doc], "logs:PutLogEvents", STREAM_ARN).decision is Decision.ALLOWED
    assert evaluate([doc], "iam:PassRole", "*").decision is Decision.IMPLICIT_DENY


def test_not_action_deny_denies_everything_else():
    docs = [policy(allow("*", "*"), {"Effect": "Deny", "NotAction": "s3:*", "Resource": "*"})]
    assert evaluate(docs, "logs:PutLogEvents", STREAM_ARN).decision is Decision.EXPLICIT_DENY


def test_not_resource():
    doc = policy(
        {
            "Effect": "Allow",
            "Action": "logs:*",
            "NotResource": "arn:aws:logs:*:*:log-group:/secret:*",
        }
    )
    assert evaluate([doc], "logs:PutLogEvents", STREAM_ARN).decision is Decision.ALLOWED
    secret = "arn:aws:logs:ap-northeast-2:1:log-group:/secret:log-stream:*"
    assert evaluate([doc], "logs:PutLogEvents", secret).decision is Decision.IMPLICIT_DENY


def test_condition_makes_an_allow_undetermined():
    cond = {"StringEquals": {"aws:SourceVpc": "vpc-1"}}
    result = evaluate(
        [policy(allow("logs:*", "*", Condition=cond))], "logs:PutLogEvents", STREAM_ARN
    )
    assert result.decision is Decision.UNDETERMINED


def test_conditional_deny_makes_an_allow_undetermined():
    cond = {"Bool": {"aws:SecureTransport": "false"}}
    docs = [policy(allow("logs:*", "*"), deny("logs:*", "*", Condition=cond))]
    assert evaluate(docs, "logs:PutLogEvents", STREAM_ARN).decision is Decision.UNDETERMINED


def test_policy_variables_are_undetermined():
    doc = policy(allow("logs:*", "arn:aws:logs:*:*:log-group:/${aws:username}/*"))
    result = evaluate([doc], "logs:PutLogEvents", "arn:aws:logs:r:1:log-group:/x/y")
    assert result.decision is Decision.UNDETERMINED


def test_no_policies_allow_nothing():
    assert evaluate([], "logs:PutLogEvents", STREAM_ARN).decision is Decision.IMPLICIT_DENY
    empty = PolicyDocument("inline policy empty", {"Version": "2012-10-17", "Statement": []})
    assert evaluate([empty], "logs:PutLogEvents", STREAM_ARN).decision is Decision.IMPLICIT_DENY


def test_single_statement_object_and_string_action():
    doc = PolicyDocument("p", {"Statement": allow("logs:PutLogEvents", "*")})
    assert evaluate([doc], "logs:PutLogEvents", STREAM_ARN).decision is Decision.ALLOWED


def test_url_encoded_documents_are_parsed():
    doc = {"Version": "2012-10-17", "Statement": [allow("s3:GetObject", "*")]}
    assert parse_document(quote(json.dumps(doc))) == doc
    assert parse_document(json.dumps(doc)) == doc
    with pytest.raises(ValueError):
        parse_document("[1, 2]")


@pytest.mark.parametrize(
    ("trust", "expected"),
    [
        (
            {
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ]
            },
            {"ecs-tasks.amazonaws.com"},
        ),
        (
            {
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {
                            "Service": ["lambda.amazonaws.com", "ecs-tasks.amazonaws.com"]
                        },
                        "Action": ["sts:AssumeRole", "sts:TagSession"],
                    }
                ]
            },
            {"lambda.amazonaws.com", "ecs-tasks.amazonaws.com"},
        ),
        (
            {
                "Statement": [
                    {
                        "Effect": "Deny",
                        "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ]
            },
            set(),
        ),
        (
            {
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                        "Action": "sts:AssumeRoleWithWebIdentity",
                    }
                ]
            },
            set(),
        ),
        (
            {
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": "arn:aws:iam::1:root"},
                        "Action": "sts:*",
                    }
                ]
            },
            set(),
        ),
        (None, set()),
    ],
)
def test_trusted_services(trust, expected):
    assert trusted_services(trust) == expected
