"""AWS's request-rate quotas for the APIs the suite calls, and AWS's answer past them.

The latency proxy enforces these with a token bucket per API (per account and Region; IAM's
per account): a request over its quota gets the service's own throttling error, in its
protocol's shape, so botocore's retry logic sees a real throttle. Independent of the
library's own table (batch_health/aws/pacing.py): the bench checks the monitor against what
AWS documents, not against itself.

Numbers are the defaults for the bench's Region (ap-northeast-2) as documented at the URL
next to each. Burst: none of these APIs documents one; a bucket holds one second of its
rate (IAM and STS describe theirs as "a bucket of virtual tokens ... refilled every second").
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass
from urllib.parse import parse_qs

LOGS = "https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/cloudwatch_limits_cwl.html"
SSM = "https://docs.aws.amazon.com/general/latest/gr/ssm.html#limits_ssm"
STS = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html"
BATCH = "https://docs.aws.amazon.com/batch/latest/userguide/service_limits.html"
BATCH_KC = "https://repost.aws/knowledge-center/aws-batch-requests-error"
IAM_KC = "https://repost.aws/knowledge-center/iam-sts-throttling-error"

STS_SHARED = (
    "AssumeRole",
    "DecodeAuthorizationMessage",
    "GetAccessKeyInfo",
    "GetCallerIdentity",
    "GetFederationToken",
    "GetSessionToken",
)
IAM_READS = (
    "GetRole",
    "ListAttachedRolePolicies",
    "ListRolePolicies",
    "GetRolePolicy",
    "GetPolicy",
    "GetPolicyVersion",
    "SimulatePrincipalPolicy",
)
BATCH_APIS = (
    "DescribeJobQueues",
    "DescribeComputeEnvironments",
    "DescribeJobDefinitions",
    "DescribeJobs",
    "ListJobs",
    "SubmitJob",
    "TerminateJob",
)


@dataclass(frozen=True)
class Quota:
    service: str
    operations: tuple[str, ...]  # sharing one bucket
    per_second: float
    url: str
    note: str = ""

    @property
    def name(self) -> str:
        ops = "+".join(self.operations) if len(self.operations) <= 3 else "(shared)"
        return f"{self.service}:{ops}"


QUOTAS: tuple[Quota, ...] = (
    # "DescribeLogGroups throttle limit in transactions per second: 10 per second" (adjustable)
    Quota("logs", ("DescribeLogGroups",), 10, LOGS),
    # "DescribeLogStreams throttle limit in transactions per second: 25 per second"
    Quota("logs", ("DescribeLogStreams",), 25, LOGS),
    # "GetLogEvents ...: Each of the other supported Regions: 25 per second" (10 in us-west-2,
    # eu-west-1, eu-central-1 and a few more; not adjustable)
    Quota("logs", ("GetLogEvents",), 25, LOGS),
    # "FilterLogEvents ...: us-east-1: 25 ... Each of the other supported Regions: 10" (unused)
    Quota("logs", ("FilterLogEvents",), 10, LOGS),
    # Parameter Store "Default throughput: 40 (Shared by the following API actions:
    # GetParameter, GetParameters, GetParametersByPath)"; AWS's own copy of that table was not
    # reachable here, the figure is as quoted from it by public sources.
    Quota("ssm", ("GetParameter", "GetParameters", "GetParametersByPath"), 40, SSM),
    # "the default request quota is 600 requests per second, per account, per Region. The
    # following AWS STS operations share this quota: AssumeRole, ..., GetCallerIdentity, ..."
    Quota("sts", STS_SHARED, 600, STS),
    # "Maximum number of transactions per second (TPS) for each account for SubmitJob
    # operations: 50"; "AWS Batch API quotas typically apply to every API, including the
    # DescribeJobs and SubmitJob API calls ... is 50. This is a fixed limit." (BATCH_KC):
    # read as 50 a second for each Batch API.
    *(Quota("batch", (op,), 50, BATCH if op == "SubmitJob" else BATCH_KC) for op in BATCH_APIS),
    # IAM documents no request rate: "IAM and AWS STS independently implement a token bucket
    # algorithm ... The number of tokens that a bucket holds and the refill rate depends on
    # the API", and its rate quotas "can't be increased" (IAM_KC). Assumed: 10 a second per
    # API, the lowest documented describe rate of the services read here.
    *(Quota("iam", (op,), 10, IAM_KC, "assumed") for op in IAM_READS),
)
# IAM is one endpoint for the account: its buckets are not per Region.
GLOBAL_SERVICES = frozenset({"iam"})
BURST_S = 1.0
BY_OPERATION = {(q.service, op): q for q in QUOTAS for op in q.operations}


class Bucket:
    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst = rate, burst
        self.tokens, self.last = burst, time.monotonic()

    def take(self, now: float) -> bool:
        self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
        self.last = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True

    def full_in(self, now: float) -> float:
        tokens = self.tokens + (now - self.last) * self.rate
        return max(0.0, (self.burst - tokens) / self.rate)


class Enforcer:
    """One bucket per (region, quota); `admit` says whether a request is under its quota."""

    def __init__(self, quotas: tuple[Quota, ...] = QUOTAS) -> None:
        self._by_operation = {(q.service, op): q for q in quotas for op in q.operations}
        self._buckets: dict[tuple[str, str], Bucket] = {}
        self._lock = threading.Lock()
        self.throttled: dict[str, int] = {}
        self.admitted: dict[str, int] = {}

    def admit(self, service: str, operation: str, region: str) -> bool:
        quota = self._by_operation.get((service, operation))
        api = f"{service}:{operation}"
        with self._lock:
            if quota is None:
                ok = True
            else:
                key = ("" if service in GLOBAL_SERVICES else region, quota.name)
                bucket = self._buckets.get(key)
                if bucket is None:
                    bucket = Bucket(quota.per_second, quota.per_second * BURST_S)
                    self._buckets[key] = bucket
                ok = bucket.take(time.monotonic())
            counts = self.admitted if ok else self.throttled
            counts[api] = counts.get(api, 0) + 1
        return ok

    def full_in(self) -> float:
        now = time.monotonic()
        with self._lock:
            return max((b.full_in(now) for b in self._buckets.values()), default=0.0)


# --- which API a raw request calls -----------------------------------------------------
def _rest_routes() -> dict[tuple[str, str], tuple[str, str]]:
    """(method, path) -> (service, operation) for the REST services the suite calls."""
    import botocore.session

    session = botocore.session.get_session()
    routes = {}
    for service in ("batch",):
        model = session.get_service_model(service)
        for name in model.operation_names:
            http = model.operation_model(name).http
            routes[http["method"], http["requestUri"].split("?")[0]] = (service, name)
    return routes


class Classifier:
    """(service, operation, region, protocol) of a SigV4-signed request."""

    def __init__(self) -> None:
        self._routes = _rest_routes()

    def classify(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[str, str, str, str]:
        scope = headers.get("authorization", "").split("Credential=", 1)[-1].split(",")[0]
        parts = scope.split("/")  # AKID/date/region/service/aws4_request
        region, service = (parts[2], parts[3]) if len(parts) >= 5 else ("", "")
        target = headers.get("x-amz-target")
        if target:
            return service, target.rsplit(".", 1)[-1], region, "json"
        if service in ("iam", "sts"):
            action = parse_qs(body.decode("utf-8", "replace")).get("Action", [""])[0]
            return service, action, region, "query"
        routed = self._routes.get((method, path.split("?")[0]))
        if routed is not None:
            return routed[0], routed[1], region, "rest-json"
        return service, "", region, ""


# --- the throttling answer, as each protocol gives it ------------------------------------
_XMLNS = {
    "iam": "https://iam.amazonaws.com/doc/2010-05-08/",
    "sts": "https://sts.amazonaws.com/doc/2011-06-15/",
}


def throttled_response(service: str, protocol: str) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of AWS's throttling error for this service."""
    request_id = str(uuid.uuid4())
    if protocol == "query":
        body = (
            f'<ErrorResponse xmlns="{_XMLNS.get(service, "")}"><Error><Type>Sender</Type>'
            "<Code>Throttling</Code><Message>Rate exceeded</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        )
        return 400, {"Content-Type": "text/xml", "x-amzn-RequestId": request_id}, body.encode()
    if protocol == "rest-json":
        # Batch: "Too Many Requests (Service: AWSBatch; Status Code: 429; Error Code:
        # TooManyRequestsException)" (BATCH_KC).
        headers = {
            "Content-Type": "application/json",
            "x-amzn-ErrorType": "TooManyRequestsException",
            "x-amzn-RequestId": request_id,
        }
        return 429, headers, json.dumps({"message": "Too Many Requests"}).encode()
    headers = {"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": request_id}
    body = json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"})
    return 400, headers, body.encode()
