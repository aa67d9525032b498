"""AWS answers put in botocore's way: an error in the service's wire protocol (throttling
among them), and which operation and attempt a request is. For hooks on `before-send`
(answering instead of the endpoint, so botocore retries as it would) and `before-call`."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from typing import Any

from botocore.awsrequest import AWSPreparedRequest, AWSResponse

# (service model, request) -> a response that replaces the endpoint's, or None to send it.
SendHook = Callable[[Any, AWSPreparedRequest], AWSResponse | None]


class Body(io.BytesIO):
    """The raw body botocore reads a response from (`stream()`)."""

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.getvalue()


def error_response(service_model: Any, request: AWSPreparedRequest, code: str, status: int = 400):
    """An AWS error answer in the service's wire protocol."""
    message = "Rate exceeded"
    protocol = service_model.protocol
    if protocol == "query":
        body = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code>"
            f"<Message>{message}</Message></Error><RequestId>fault</RequestId></ErrorResponse>"
        ).encode()
        headers = {"Content-Type": "text/xml"}
    elif protocol == "ec2":  # EC2's own XML error answer
        body = (
            f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message>"
            f"</Error></Errors><RequestID>fault</RequestID></Response>"
        ).encode()
        headers = {"Content-Type": "text/xml;charset=UTF-8"}
    elif protocol == "rest-json":
        body = json.dumps({"message": message}).encode()
        headers = {"x-amzn-errortype": code, "Content-Type": "application/json"}
    else:  # json
        body = json.dumps({"__type": code, "message": message}).encode()
        headers = {"Content-Type": "application/x-amz-json-1.1"}
    return AWSResponse(request.url, status, headers, Body(body))


# EC2 throttles with RequestLimitExceeded (https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html)
THROTTLE_CODES = {
    "batch": "TooManyRequestsException",
    "sts": "Throttling",
    "iam": "Throttling",
    "ec2": "RequestLimitExceeded",
}


def throttling(service_model: Any, request: AWSPreparedRequest) -> AWSResponse:
    code = THROTTLE_CODES.get(service_model.service_name, "ThrottlingException")
    status = 429 if service_model.protocol == "rest-json" else 400
    return error_response(service_model, request, code, status)


def operation(request: AWSPreparedRequest, service_model: Any) -> str:
    """The operation a request calls (from the headers botocore sets for each protocol)."""
    target = request.headers.get("X-Amz-Target", b"")
    if target:
        return (target.decode() if isinstance(target, bytes) else target).rsplit(".", 1)[-1]
    body = request.body if isinstance(request.body, bytes | str) else b""
    body = body.decode() if isinstance(body, bytes) else body
    if "Action=" in body:
        return body.split("Action=", 1)[1].split("&", 1)[0]
    path = request.url.split("?", 1)[0].rsplit("/", 1)[-1]  # rest-json: /v1/describejobqueues
    return {op.lower(): op for op in service_model.operation_names}.get(path, path)


def first_attempt(request: AWSPreparedRequest) -> bool:
    header = request.headers.get("amz-sdk-request", b"attempt=1")
    header = header.decode() if isinstance(header, bytes) else header
    return header.startswith("attempt=1;") or header == "attempt=1"


# (operation model, params) -> (HTTP response, parsed answer) replacing the whole call.
CallHook = Callable[[Any, dict[str, Any]], tuple[AWSResponse, dict[str, Any]] | None]
