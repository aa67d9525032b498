"""AWS errors are classified once: each root cause has its own kind and hint."""

from __future__ import annotations

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    CredentialRetrievalError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ReadTimeoutError,
    UnauthorizedSSOTokenError,
)

from batch_health.aws.errors import AWS_ERRORS, ErrorKind, classify


def client_error(code: str, message: str = "msg", op: str = "DescribeJobQueues", status=400):
    return ClientError(
        {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        op,
    )


@pytest.mark.parametrize(
    "exc",
    [NoCredentialsError(), PartialCredentialsError(provider="env", cred_var="AWS_SECRET_KEY")],
)
def test_no_credentials(exc):
    failure = classify(exc)
    assert failure.kind is ErrorKind.NO_CREDENTIALS
    assert "AWS_PROFILE" in failure.hint() and "aws sso login" in failure.hint()


@pytest.mark.parametrize("code", ["ExpiredToken", "ExpiredTokenException", "RequestExpired"])
def test_expired_token_codes(code):
    failure = classify(client_error(code, "The security token included in the request is expired"))
    assert failure.kind is ErrorKind.EXPIRED_TOKEN
    assert failure.code == code
    assert "expired" in failure.hint() and "aws sso login" in failure.hint()


def test_expired_token_recognised_from_the_message_when_the_code_is_unknown():
    failure = classify(client_error("InvalidToken", "The provided token has expired"))
    assert failure.kind is ErrorKind.EXPIRED_TOKEN


def test_expired_sso_login_is_an_expired_token():
    failure = classify(UnauthorizedSSOTokenError())
    assert failure.kind is ErrorKind.EXPIRED_TOKEN
    assert "aws sso login" in failure.hint()


def test_expired_credential_process_is_an_expired_token():
    failure = classify(CredentialRetrievalError(provider="sso", error_msg="token expired"))
    assert failure.kind is ErrorKind.EXPIRED_TOKEN


@pytest.mark.parametrize(
    "code", ["AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "403"]
)
def test_access_denied_codes_and_the_hint_names_the_action(code):
    failure = classify(client_error(code, "not authorized", status=403))
    assert failure.kind is ErrorKind.ACCESS_DENIED
    hint = failure.hint(action="batch:DescribeJobQueues", resource="academy-video-batch-queue")
    assert "batch:DescribeJobQueues" in hint
    assert "academy-video-batch-queue" in hint
    assert code in hint


def test_access_denied_hint_falls_back_to_the_operation():
    failure = classify(client_error("AccessDeniedException", op="DescribeLogGroups"))
    assert failure.operation == "DescribeLogGroups"
    assert "DescribeLogGroups" in failure.hint()


def test_moto_403_with_an_xml_body_reports_the_inner_message():
    body = (
        '<?xml version="1.0" encoding="utf-8"?>\n<ErrorResponse><Errors><Error>'
        "<Code>AccessDenied</Code><Message>User: arn:aws:iam::123456789012:user/mon is not "
        "authorized to perform: batch:describejobqueues</Message><Type>Sender</Type></Error>"
        "</Errors></ErrorResponse>"
    )
    failure = classify(client_error("403", body, status=403))
    assert failure.kind is ErrorKind.ACCESS_DENIED
    assert failure.message.startswith("User: arn:aws:iam::123456789012:user/mon is not authorized")
    assert "<" not in failure.summary


def test_http_status_is_the_code_when_the_body_has_none():
    exc = ClientError({"Error": {}, "ResponseMetadata": {"HTTPStatusCode": 403}}, "GetRole")
    failure = classify(exc)
    assert failure.code == "403"
    assert failure.kind is ErrorKind.ACCESS_DENIED


@pytest.mark.parametrize(
    "code", ["ResourceNotFoundException", "NoSuchEntity", "ParameterNotFound", "NotFoundException"]
)
def test_not_found(code):
    failure = classify(client_error(code))
    assert failure.kind is ErrorKind.NOT_FOUND
    assert failure.hint(resource="log group /aws/batch/x") == (
        "log group /aws/batch/x does not exist in this account/region"
    )


@pytest.mark.parametrize(
    "code",
    ["Throttling", "ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded"],
)
def test_throttled(code):
    failure = classify(client_error(code, "Rate exceeded"))
    assert failure.kind is ErrorKind.THROTTLED
    assert "throttled" in failure.hint()


@pytest.mark.parametrize(
    "exc",
    [
        EndpointConnectionError(endpoint_url="https://batch.ap-northeast-2.amazonaws.com"),
        ConnectTimeoutError(endpoint_url="https://batch.ap-northeast-2.amazonaws.com"),
        ReadTimeoutError(endpoint_url="https://batch.ap-northeast-2.amazonaws.com"),
    ],
)
def test_endpoint_unreachable(exc):
    failure = classify(exc)
    assert failure.kind is ErrorKind.ENDPOINT_UNREACHABLE
    assert failure.code == type(exc).__name__
    assert "AWS_ENDPOINT_URL" in failure.hint()
    assert "batch.ap-northeast-2.amazonaws.com" in failure.message


def test_no_region():
    failure = classify(NoRegionError())
    assert failure.kind is ErrorKind.NO_REGION
    assert "--region" in failure.hint() and "AWS_REGION" in failure.hint()


def test_invalid_credentials_are_not_called_expired_or_denied():
    failure = classify(client_error("InvalidClientTokenId", "The security token is invalid"))
    assert failure.kind is ErrorKind.INVALID_CREDENTIALS
    assert "sts get-caller-identity" in failure.hint()


def test_unknown_code_keeps_code_and_message_in_the_hint():
    failure = classify(client_error("WeirdError", "something odd"))
    assert failure.kind is ErrorKind.OTHER
    assert failure.hint() == "AWS answered WeirdError: something odd"


def test_summary_names_kind_operation_code_and_message():
    failure = classify(client_error("AccessDeniedException", "nope", op="DescribeJobQueues"))
    assert failure.summary == "access denied on DescribeJobQueues: AccessDeniedException: nope"


def test_non_aws_exceptions_are_other_and_not_aws_errors():
    failure = classify(ValueError("bad"))
    assert failure.kind is ErrorKind.OTHER and failure.code == "ValueError"
    assert not isinstance(ValueError("bad"), AWS_ERRORS)
    assert isinstance(client_error("Throttling"), AWS_ERRORS)
    assert isinstance(NoCredentialsError(), AWS_ERRORS)
