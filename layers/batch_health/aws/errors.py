"""AWS errors classified once, centrally, so every check names the same root causes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    CredentialRetrievalError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ReadTimeoutError,
    SSOError,
    TokenRetrievalError,
)
from botocore.retries.standard import ThrottledRetryableChecker

# What a call to AWS raises when AWS (or the way to it) says no: catch these, classify them.
AWS_ERRORS = (ClientError, BotoCoreError)


class ErrorKind(StrEnum):
    NO_CREDENTIALS = "no credentials"
    INVALID_CREDENTIALS = "invalid credentials"
    EXPIRED_TOKEN = "expired token"
    ACCESS_DENIED = "access denied"
    NOT_FOUND = "not found"
    THROTTLED = "throttled"
    ENDPOINT_UNREACHABLE = "endpoint unreachable"
    NO_REGION = "no region"
    INVALID_REQUEST = "invalid request"
    OTHER = "error"


# botocore's standard retry mode: the error codes it retries as throttling.
THROTTLING_CODES: tuple[str, ...] = tuple(
    getattr(ThrottledRetryableChecker, "_THROTTLED_ERROR_CODES", ())
) or ("Throttling", "ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded")

_CODES: dict[str, ErrorKind] = {
    # moto's auth mode denies with the HTTP status as the code.
    "403": ErrorKind.ACCESS_DENIED,
    "AccessDenied": ErrorKind.ACCESS_DENIED,
    "AccessDeniedException": ErrorKind.ACCESS_DENIED,
    "UnauthorizedOperation": ErrorKind.ACCESS_DENIED,
    "UnauthorizedAccess": ErrorKind.ACCESS_DENIED,
    "AuthorizationError": ErrorKind.ACCESS_DENIED,
    "ExpiredToken": ErrorKind.EXPIRED_TOKEN,
    "ExpiredTokenException": ErrorKind.EXPIRED_TOKEN,
    "RequestExpired": ErrorKind.EXPIRED_TOKEN,
    "TokenRefreshRequired": ErrorKind.EXPIRED_TOKEN,
    "InvalidClientTokenId": ErrorKind.INVALID_CREDENTIALS,
    "UnrecognizedClientException": ErrorKind.INVALID_CREDENTIALS,
    "SignatureDoesNotMatch": ErrorKind.INVALID_CREDENTIALS,
    "InvalidSignatureException": ErrorKind.INVALID_CREDENTIALS,
    "IncompleteSignature": ErrorKind.INVALID_CREDENTIALS,
    "ResourceNotFoundException": ErrorKind.NOT_FOUND,
    "NoSuchEntity": ErrorKind.NOT_FOUND,
    "NoSuchEntityException": ErrorKind.NOT_FOUND,
    "ParameterNotFound": ErrorKind.NOT_FOUND,
    "NotFound": ErrorKind.NOT_FOUND,
    "NotFoundException": ErrorKind.NOT_FOUND,
    # botocore's own list of the codes its standard retry mode treats as throttling
    # (DynamoDB's ProvisionedThroughputExceededException, EC2's RequestLimitExceeded, ...).
    **dict.fromkeys(THROTTLING_CODES, ErrorKind.THROTTLED),
    "ValidationError": ErrorKind.INVALID_REQUEST,
    "ValidationException": ErrorKind.INVALID_REQUEST,
    "InvalidParameterException": ErrorKind.INVALID_REQUEST,
    "ClientException": ErrorKind.INVALID_REQUEST,
}

_HINTS: dict[ErrorKind, str] = {
    ErrorKind.NO_CREDENTIALS: (
        "No AWS credentials found: set AWS_PROFILE (and run `aws sso login` if it is an SSO "
        "profile) or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
    ),
    ErrorKind.INVALID_CREDENTIALS: (
        "The credentials are not valid for this account/partition: check AWS_PROFILE and the "
        "access key, then run `aws sts get-caller-identity`"
    ),
    ErrorKind.EXPIRED_TOKEN: (
        "The session token has expired: refresh it (`aws sso login --profile <profile>` or "
        "request new temporary credentials)"
    ),
    ErrorKind.THROTTLED: (
        "AWS throttled the calls even after retries: lower the check frequency or the "
        "concurrency, or request a quota increase"
    ),
    ErrorKind.ENDPOINT_UNREACHABLE: (
        "The AWS endpoint is unreachable: check network/VPC endpoints, proxy settings and "
        "AWS_ENDPOINT_URL"
    ),
    ErrorKind.NO_REGION: "No region configured: pass --region or set AWS_REGION",
}


@dataclass(frozen=True)
class AwsFailure:
    """A classified AWS error: what kind, the raw code and message, which call."""

    kind: ErrorKind
    code: str
    message: str
    operation: str = ""

    @property
    def summary(self) -> str:
        where = f" on {self.operation}" if self.operation else ""
        return f"{self.kind.value}{where}: {self.code}: {self.message}".rstrip(": ")

    def hint(self, action: str = "", resource: str = "") -> str:
        """A concrete next step for this kind of failure."""
        if self.kind is ErrorKind.ACCESS_DENIED:
            what = action or self.operation or "this call"
            on = f" on {resource}" if resource else ""
            return f"Grant the monitor's identity `{what}`{on} (the call was denied: {self.code})"
        if self.kind is ErrorKind.NOT_FOUND:
            return f"{resource or 'The resource'} does not exist in this account/region"
        return _HINTS.get(self.kind, f"AWS answered {self.code}: {self.message}")


_XML_MESSAGE = re.compile(r"<Message>(.*?)</Message>", re.DOTALL)


def _unwrap_xml_message(message: str) -> str:
    """The text of an XML error document that arrived as the message (moto, some proxies)."""
    if message.lstrip().startswith("<"):
        found = _XML_MESSAGE.search(message)
        if found:
            return found.group(1).strip()
    return message


def classify(exc: BaseException) -> AwsFailure:
    """Map any boto3/botocore exception to an AwsFailure."""
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {}) or {}
        code = str(
            err.get("Code") or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or ""
        )
        message = _unwrap_xml_message(str(err.get("Message") or ""))
        kind = _CODES.get(code, ErrorKind.OTHER)
        if kind is ErrorKind.OTHER and "expired" in message.lower() and "token" in message.lower():
            kind = ErrorKind.EXPIRED_TOKEN
        return AwsFailure(kind, code, message, getattr(exc, "operation_name", "") or "")
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return AwsFailure(ErrorKind.NO_CREDENTIALS, type(exc).__name__, str(exc))
    if isinstance(exc, SSOError | TokenRetrievalError):
        # An expired or missing SSO login: `aws sso login` is the fix, as for an expired token.
        return AwsFailure(ErrorKind.EXPIRED_TOKEN, type(exc).__name__, str(exc))
    if isinstance(exc, CredentialRetrievalError):
        kind = (
            ErrorKind.EXPIRED_TOKEN if "expired" in str(exc).lower() else ErrorKind.NO_CREDENTIALS
        )
        return AwsFailure(kind, type(exc).__name__, str(exc))
    if isinstance(exc, NoRegionError):
        return AwsFailure(ErrorKind.NO_REGION, type(exc).__name__, str(exc))
    if isinstance(
        exc,
        EndpointConnectionError | ConnectTimeoutError | ReadTimeoutError | ConnectionClosedError,
    ):
        return AwsFailure(ErrorKind.ENDPOINT_UNREACHABLE, type(exc).__name__, str(exc))
    if isinstance(exc, BotoCoreError):
        return AwsFailure(ErrorKind.OTHER, type(exc).__name__, str(exc))
    return AwsFailure(ErrorKind.OTHER, type(exc).__name__, str(exc))
