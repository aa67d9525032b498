"""Client-side pacing (aws/pacing.py): token buckets per API and account, the documented
quotas as defaults, overrides, and the hook every client's requests wait in. Every clock
here is a fake one: nothing sleeps."""

from __future__ import annotations

import threading

import pytest

from batch_health.aws.concurrency import in_work_slot
from batch_health.aws.pacing import (
    DEFAULT_QUOTAS,
    ENV_OVERRIDES,
    PACE,
    Pacer,
    Quota,
    TokenBucket,
    with_overrides,
)
from batch_health.aws.sessions import AwsSessions
from batch_health.demo import REGION


class FakeClock:
    """time.monotonic and time.sleep: sleeping moves the clock on at once."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def pacer(clock: FakeClock, *quotas: Quota, pace: float = 1.0) -> Pacer:
    return Pacer(quotas, pace=pace, clock=clock, sleep=clock.sleep)


LOGS = Quota("logs", ("DescribeLogStreams",), 10.0, "https://example.invalid/logs")


# --- the bucket ------------------------------------------------------------------------
def test_a_full_bucket_lets_a_burst_through_then_spaces_requests_at_its_rate(clock):
    bucket = TokenBucket(rate=10.0, burst=3.0, clock=clock)
    assert [bucket.reserve() for _ in range(3)] == [0.0, 0.0, 0.0]
    # Reservations queue up: each later one waits a tenth of a second more.
    assert [round(bucket.reserve(), 6) for _ in range(3)] == [0.1, 0.2, 0.3]


def test_the_bucket_refills_while_idle_but_never_beyond_its_burst(clock):
    bucket = TokenBucket(rate=10.0, burst=2.0, clock=clock)
    bucket.reserve(), bucket.reserve()
    assert bucket.full_in() == pytest.approx(0.2)
    clock.now += 60
    assert bucket.full_in() == 0.0
    assert [bucket.reserve() for _ in range(2)] == [0.0, 0.0]
    assert bucket.reserve() == pytest.approx(0.1)


# --- the pacer -------------------------------------------------------------------------
def test_requests_over_the_quota_wait_their_turn(clock):
    p = pacer(clock, LOGS)
    for _ in range(13):
        p.wait("", REGION, "logs", "DescribeLogStreams")
    # One second of burst (10 requests) at once, then one every 0.1 s.
    assert clock.slept == [0.1, 0.1, 0.1]
    assert p.waits == {"logs:DescribeLogStreams": 3}
    assert p.waited_s == pytest.approx(0.3)


def test_it_paces_a_bit_under_the_quota(clock):
    p = pacer(clock, LOGS, pace=PACE)
    delays = [p.delay("", REGION, "logs", "DescribeLogStreams") for _ in range(11)]
    assert delays[:9] == [0.0] * 9  # 9 saved up: one second at 90% of 10
    assert delays[9] == pytest.approx(1 / 9)
    assert delays[10] == pytest.approx(2 / 9)


def test_apis_without_a_known_quota_are_not_paced(clock):
    p = pacer(clock, LOGS)
    assert [p.delay("", REGION, "sns", "Publish") for _ in range(1000)] == [0.0] * 1000


def test_operations_that_share_a_quota_share_one_bucket(clock):
    sts = Quota("sts", ("AssumeRole", "GetCallerIdentity"), 2.0, "https://example.invalid/sts")
    p = pacer(clock, sts)
    assert p.delay("", REGION, "sts", "GetCallerIdentity") == 0.0
    assert p.delay("", REGION, "sts", "AssumeRole") == 0.0
    assert p.delay("", REGION, "sts", "GetCallerIdentity") == pytest.approx(0.5)


def test_each_account_and_region_has_its_own_buckets_but_iam_is_one_per_account(clock):
    iam = Quota("iam", ("GetRole",), 1.0, "https://example.invalid/iam", global_=True)
    p = pacer(clock, LOGS, iam)
    for _ in range(10):
        p.delay("", REGION, "logs", "DescribeLogStreams")
    assert p.delay("", REGION, "logs", "DescribeLogStreams") > 0
    assert p.delay("", "us-east-1", "logs", "DescribeLogStreams") == 0.0
    assert p.delay("111122223333", REGION, "logs", "DescribeLogStreams") == 0.0
    assert p.delay("", REGION, "iam", "GetRole") == 0.0
    assert p.delay("", "us-east-1", "iam", "GetRole") == pytest.approx(1.0)


def test_regional_quotas_apply_in_their_region(clock):
    events = next(q for q in DEFAULT_QUOTAS if q.operations == ("GetLogEvents",))
    assert events.rate("us-east-1") == 25.0
    assert events.rate("us-west-2") == 10.0
    assert events.rate("eu-west-3") == 30.0
    p = pacer(clock, events)
    west = [p.delay("", "us-west-2", "logs", "GetLogEvents") for _ in range(11)]
    assert west[:10] == [0.0] * 10 and west[10] == pytest.approx(0.1)


def test_every_api_the_suite_calls_has_a_documented_or_stated_quota():
    paced = {(q.service, op) for q in DEFAULT_QUOTAS for op in q.operations}
    suite_calls = {
        ("sts", "GetCallerIdentity"),
        ("sts", "AssumeRole"),
        ("ssm", "GetParameters"),
        ("logs", "DescribeLogGroups"),
        ("logs", "DescribeLogStreams"),
        ("logs", "GetLogEvents"),
        *(
            ("batch", op)
            for op in (
                "DescribeJobQueues",
                "DescribeComputeEnvironments",
                "DescribeJobDefinitions",
                "DescribeJobs",
                "ListJobs",
                "SubmitJob",
                "TerminateJob",
                "CancelJob",
                "GetJobQueueSnapshot",
            )
        ),
        ("ec2", "DescribeInstanceTypes"),
        ("ec2", "DescribeSubnets"),
        ("ec2", "DescribeInstanceTypeOfferings"),
        ("service-quotas", "GetServiceQuota"),
        *(
            ("iam", op)
            for op in (
                "GetRole",
                "ListAttachedRolePolicies",
                "ListRolePolicies",
                "GetRolePolicy",
                "GetPolicy",
                "GetPolicyVersion",
                "SimulatePrincipalPolicy",
            )
        ),
    }
    assert suite_calls <= paced
    assert all(q.source.startswith("https://") and q.per_second > 0 for q in DEFAULT_QUOTAS)


# --- overrides -------------------------------------------------------------------------
def test_overrides_change_the_quota_holding_the_operation_in_every_region():
    quotas = with_overrides(DEFAULT_QUOTAS, "logs:GetLogEvents=50, ssm:GetParameter=1000")
    events = next(q for q in quotas if q.operations == ("GetLogEvents",))
    assert events.rate("us-west-2") == events.rate("us-east-1") == 50.0
    ssm = next(q for q in quotas if q.service == "ssm")
    assert ssm.per_second == 1000.0 and "GetParameters" in ssm.operations


@pytest.mark.parametrize("bad", ["logs:PutLogEvents=5", "nonsense", "iam:GetRole="])
def test_an_override_naming_no_paced_api_is_refused(bad):
    with pytest.raises(ValueError, match=ENV_OVERRIDES):
        with_overrides(DEFAULT_QUOTAS, bad)


def test_the_pacer_reads_its_overrides_from_the_environment():
    p = Pacer.from_environment({ENV_OVERRIDES: "iam:GetRole=100"})
    quota = p.quota("iam", "GetRole")
    assert quota is not None and quota.per_second == 100.0
    default = Pacer.from_environment({}).quota("iam", "GetRole")
    assert default is not None and default.per_second == 10.0


# --- the hook every client gets --------------------------------------------------------
def test_every_request_of_a_sessions_client_is_paced_retries_included(aws, clock):
    sts = Quota("sts", ("GetCallerIdentity",), 1.0, "https://example.invalid/sts")
    sessions = AwsSessions(REGION, pacer=pacer(clock, sts))
    client = sessions.client("sts")
    for _ in range(3):
        client.get_caller_identity()
    assert clock.slept == [1.0, 1.0]
    assert sessions.stats.attempts == 3


def test_waiting_for_the_quota_frees_the_work_slot(clock):
    slots = threading.Semaphore(1)
    free_while_waiting: list[bool] = []

    def sleep(seconds: float) -> None:
        free_while_waiting.append(slots.acquire(blocking=False))
        slots.release()
        clock.sleep(seconds)

    p = Pacer((LOGS,), pace=1.0, clock=clock, sleep=sleep)
    with slots, in_work_slot(slots):
        for _ in range(11):
            p.wait("", REGION, "logs", "DescribeLogStreams")
        assert not slots.acquire(blocking=False)  # taken back after the wait
    assert free_while_waiting == [True]
