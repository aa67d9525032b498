"""Client-side pacing: each AWS API is called at most at (a bit under) its request quota.

AWS throttles every API per account and Region (IAM: per account) with a token bucket. A
run that calls faster is answered "Rate exceeded", retries with backoff and, after a few
attempts, fails the check. Instead every request takes a token from its API's bucket here
first (a botocore `before-send` hook on every client the sessions make, so retries count
too) and waits its turn without holding a work slot: a run of many targets takes as long as
its busiest API's quota allows, and no throttle reaches a check.

`DEFAULT_QUOTAS` is the one place the numbers live, each with where AWS documents it; a
deployment overrides entries with BATCH_HEALTH_API_QUOTAS ("logs:DescribeLogStreams=50,
iam:GetRole=20": the bucket holding that operation gets that many requests a second).
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from batch_health.aws.concurrency import slot_released

# Share of each quota the monitor uses: the rest is left to whatever else calls the same APIs
# in the account (the console, the CLI, the monitor's other functions).
PACE = 0.9
# Requests a bucket may save up, in seconds of its rate. AWS documents no burst for these
# APIs; IAM and STS describe theirs as "a bucket of virtual tokens ... refilled every second".
BURST_S = 1.0
ENV_OVERRIDES = "BATCH_HEALTH_API_QUOTAS"

LOGS_QUOTAS = "https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/cloudwatch_limits_cwl.html"
SSM_QUOTAS = "https://docs.aws.amazon.com/general/latest/gr/ssm.html#limits_ssm"
STS_QUOTAS = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html"
BATCH_QUOTAS = "https://docs.aws.amazon.com/batch/latest/userguide/service_limits.html"
BATCH_ALL_APIS = "https://repost.aws/knowledge-center/aws-batch-requests-error"
IAM_THROTTLING = "https://repost.aws/knowledge-center/iam-sts-throttling-error"
EC2_THROTTLING = "https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html"
SERVICE_QUOTAS_QUOTAS = (
    "https://docs.aws.amazon.com/servicequotas/latest/userguide/reference_limits.html"
)

# GetLogEvents and FilterLogEvents differ by Region (LOGS_QUOTAS); elsewhere the default.
_GET_LOG_EVENTS_REGIONS = {
    **dict.fromkeys(
        (
            "us-west-2",
            "ap-northeast-3",
            "ap-southeast-3",
            "ca-west-1",
            "eu-central-1",
            "eu-west-1",
            "il-central-1",
        ),
        10.0,
    ),
    "eu-west-3": 30.0,
}
_FILTER_LOG_EVENTS_REGIONS = {
    "us-east-1": 25.0,
    **dict.fromkeys(
        ("ap-northeast-3", "ap-southeast-3", "ca-west-1", "eu-central-1", "il-central-1"), 5.0
    ),
}


@dataclass(frozen=True)
class Quota:
    """Requests a second that `operations` of `service` may make together, per account and
    Region (`global_`: per account), as documented at `source`."""

    service: str
    operations: tuple[str, ...]
    per_second: float
    source: str
    by_region: Mapping[str, float] = field(default_factory=dict)
    global_: bool = False

    @property
    def name(self) -> str:
        return f"{self.service}:{'+'.join(self.operations)}"

    def rate(self, region: str | None) -> float:
        return self.by_region.get(region or "", self.per_second)


def _iam(operation: str) -> Quota:
    # IAM publishes no request rate: it throttles each API with token buckets whose sizes
    # "depend on the API", and rate quotas "can't be increased" (IAM_THROTTLING). 10 a second
    # is assumed: the lowest rate documented for a describe call of the services read here
    # (logs:DescribeLogGroups), and IAM is one endpoint for the whole account.
    return Quota("iam", (operation,), 10.0, IAM_THROTTLING, global_=True)


def _batch(operation: str) -> Quota:
    # 50 a second is documented for SubmitJob (BATCH_QUOTAS); AWS's knowledge center says the
    # Batch quotas apply to every API, DescribeJobs included, at that fixed 50 (BATCH_ALL_APIS).
    return Quota(
        "batch", (operation,), 50.0, BATCH_QUOTAS if operation == "SubmitJob" else BATCH_ALL_APIS
    )


DEFAULT_QUOTAS: tuple[Quota, ...] = (
    Quota("logs", ("DescribeLogGroups",), 10.0, LOGS_QUOTAS),
    Quota("logs", ("DescribeLogStreams",), 25.0, LOGS_QUOTAS),
    Quota("logs", ("GetLogEvents",), 25.0, LOGS_QUOTAS, _GET_LOG_EVENTS_REGIONS),
    Quota("logs", ("FilterLogEvents",), 10.0, LOGS_QUOTAS, _FILTER_LOG_EVENTS_REGIONS),
    # Parameter Store's default ("standard") throughput, shared by its three reads.
    Quota("ssm", ("GetParameter", "GetParameters", "GetParametersByPath"), 40.0, SSM_QUOTAS),
    # One quota shared by every STS call made with AWS credentials.
    Quota(
        "sts",
        (
            "AssumeRole",
            "DecodeAuthorizationMessage",
            "GetAccessKeyInfo",
            "GetCallerIdentity",
            "GetFederationToken",
            "GetSessionToken",
        ),
        600.0,
        STS_QUOTAS,
    ),
    *map(
        _batch,
        (
            "DescribeJobQueues",
            "DescribeComputeEnvironments",
            "DescribeJobDefinitions",
            "DescribeJobs",
            "ListJobs",
            "SubmitJob",
            "TerminateJob",
            "CancelJob",
            "GetJobQueueSnapshot",
        ),
    ),
    # EC2's non-mutating (Describe*) actions: a bucket of 100 requests refilled at 20 a
    # second, each API its own bucket (EC2_THROTTLING).
    *(
        Quota("ec2", (operation,), 20.0, EC2_THROTTLING)
        for operation in (
            "DescribeInstanceTypes",
            "DescribeSubnets",
            "DescribeInstanceTypeOfferings",
        )
    ),
    # "GetServiceQuota requests per second: 5", not adjustable (SERVICE_QUOTAS_QUOTAS).
    Quota("service-quotas", ("GetServiceQuota",), 5.0, SERVICE_QUOTAS_QUOTAS),
    *map(
        _iam,
        (
            "GetRole",
            "ListAttachedRolePolicies",
            "ListRolePolicies",
            "GetRolePolicy",
            "GetPolicy",
            "GetPolicyVersion",
            "SimulatePrincipalPolicy",
        ),
    ),
)


def with_overrides(quotas: Iterable[Quota], overrides: str) -> tuple[Quota, ...]:
    """`quotas` with "service:Operation=per_second" entries (comma-separated) applied to the
    quota holding each operation (every Region); an unknown operation raises ValueError."""
    result = list(quotas)
    for entry in filter(None, (e.strip() for e in overrides.split(","))):
        what, _, value = entry.partition("=")
        service, _, operation = what.strip().partition(":")
        index = next(
            (i for i, q in enumerate(result) if q.service == service and operation in q.operations),
            None,
        )
        if index is None or not value:
            raise ValueError(f"{ENV_OVERRIDES}: {entry!r} names no paced API (service:Operation=N)")
        result[index] = replace(result[index], per_second=float(value), by_region={})
    return tuple(result)


class TokenBucket:
    """`rate` tokens a second, at most `burst` saved up. A request reserves the next token and
    is told how long to wait for it: requests are served in the order they ask, evenly spaced,
    however many wait at once."""

    def __init__(self, rate: float, burst: float, clock: Callable[[], float]) -> None:
        self.rate, self.burst = rate, max(1.0, burst)
        self._clock = clock
        self._tokens = self.burst
        self._last = clock()
        self._lock = threading.Lock()

    def reserve(self) -> float:
        """Take a token; seconds until it is there (0: now)."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
            self._last = now
            self._tokens -= 1
            return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

    def full_in(self) -> float:
        """Seconds until the bucket is full again, if nothing is taken meanwhile."""
        with self._lock:
            tokens = self._tokens + (self._clock() - self._last) * self.rate
            return max(0.0, (self.burst - tokens) / self.rate)


class Pacer:
    """Token buckets per (account, Region, quota), and the hook that makes requests wait for
    them. Shared by every client of one AwsSessions, so across a process's runs too."""

    def __init__(
        self,
        quotas: Iterable[Quota] = DEFAULT_QUOTAS,
        *,
        pace: float = PACE,
        burst_s: float = BURST_S,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.pace, self.burst_s = pace, burst_s
        self._clock, self._sleep = clock, sleep
        self._quotas = {(q.service, op): q for q in quotas for op in q.operations}
        self._buckets: dict[tuple[Hashable, str | None, str], TokenBucket] = {}
        self._lock = threading.Lock()
        self.waits: Counter[str] = Counter()  # requests that waited, per "service:Operation"
        self.waited_s = 0.0

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> Pacer:
        return cls(with_overrides(DEFAULT_QUOTAS, environ.get(ENV_OVERRIDES, "")))

    def quota(self, service: str, operation: str) -> Quota | None:
        return self._quotas.get((service, operation))

    def _bucket(self, account: Hashable, region: str | None, quota: Quota) -> TokenBucket:
        key = (account, None if quota.global_ else region, quota.name)
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                rate = quota.rate(region) * self.pace
                bucket = self._buckets[key] = TokenBucket(rate, rate * self.burst_s, self._clock)
            return bucket

    def delay(self, account: Hashable, region: str | None, service: str, operation: str) -> float:
        """Reserve one request of `service:operation`; seconds it must wait (0: send now)."""
        quota = self.quota(service, operation)
        if quota is None:
            return 0.0  # an API without a known quota is not paced
        return self._bucket(account, region, quota).reserve()

    def wait(self, account: Hashable, region: str | None, service: str, operation: str) -> None:
        """Wait for this request's turn, without holding a work slot meanwhile."""
        seconds = self.delay(account, region, service, operation)
        if seconds <= 0:
            return
        with self._lock:
            self.waits[f"{service}:{operation}"] += 1
            self.waited_s += seconds
        with slot_released():
            self._sleep(seconds)

    def full_in(self) -> float:
        """Seconds until every bucket is full (a run started then is paced as a first one)."""
        with self._lock:
            buckets = list(self._buckets.values())
        return max((b.full_in() for b in buckets), default=0.0)

    def install(self, client: Any, account: Hashable) -> None:
        """Pace every request `client` sends (each attempt: a retry takes a token too)."""
        service = client.meta.service_model.service_name
        region = client.meta.region_name

        def before_send(event_name: str = "", **_: Any) -> None:
            self.wait(account, region, service, event_name.rsplit(".", 1)[-1])

        client.meta.events.register("before-send", before_send, unique_id="batch-health-pacer")
