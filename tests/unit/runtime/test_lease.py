"""Runs of a kind never overlap, without reserved concurrency: a lease in the incident table.

A new account's concurrency quota can be as low as 10, too little to reserve anything
("You can reserve up to the Unreserved account concurrency value minus 100"), so the
stack reserves nothing by default and a conditional write keeps a second scheduled run, or
a second smoke run, from running while one holds the lease.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from batch_health.cli.invoke import LocalContext
from batch_health.runtime import monitor
from batch_health.runtime.lease import LeaseState, RunLease, lease_name
from batch_health.runtime.observability import metrics
from batch_health.runtime.settings import MonitorSettings

TABLE = "batch-health-incidents"
T0 = datetime(2025, 6, 1, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
SCHEDULED = {"detail-type": "Scheduled Event", "source": "aws.scheduler", "detail": {}}
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")


@pytest.fixture
def table(aws: None) -> Any:
    client = boto3.client("dynamodb")
    client.create_table(
        TableName=TABLE,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return client


def test_the_first_run_gets_the_lease_and_a_second_is_told_who_holds_it(table):
    first = RunLease(table, TABLE, "suite", "request-1")
    assert first.acquire(T0, HOUR).state is LeaseState.ACQUIRED
    second = RunLease(table, TABLE, "suite", "request-2").acquire(T0 + timedelta(minutes=5), HOUR)
    assert second.state is LeaseState.HELD
    assert second.holder == "request-1" and second.until == "2025-06-01T10:00:00Z"
    assert "held by run request-1 until 2025-06-01T10:00:00Z" in second.describe("suite")


def test_a_released_lease_is_free_again(table):
    first = RunLease(table, TABLE, "suite", "request-1")
    first.acquire(T0, HOUR)
    assert first.release() is None
    assert RunLease(table, TABLE, "suite", "request-2").acquire(T0, HOUR).state is (
        LeaseState.ACQUIRED
    )


def test_a_lease_whose_holder_died_expires_with_its_time_limit(table):
    RunLease(table, TABLE, "suite", "crashed").acquire(T0, HOUR)
    later = RunLease(table, TABLE, "suite", "request-2")
    assert later.acquire(T0 + timedelta(minutes=59), HOUR).state is LeaseState.HELD
    assert later.acquire(T0 + timedelta(minutes=61), HOUR).state is LeaseState.ACQUIRED


def test_a_run_never_releases_a_lease_it_no_longer_holds(table):
    slow = RunLease(table, TABLE, "suite", "slow")
    slow.acquire(T0, timedelta(minutes=1))
    RunLease(table, TABLE, "suite", "next").acquire(T0 + timedelta(minutes=2), HOUR)
    assert slow.release() is None  # its lease expired and was taken: nothing to give back
    held = RunLease(table, TABLE, "suite", "third").acquire(T0 + timedelta(minutes=3), HOUR)
    assert held.holder == "next"


def test_kinds_have_their_own_leases(table):
    assert RunLease(table, TABLE, "suite", "a").acquire(T0, HOUR).state is LeaseState.ACQUIRED
    assert RunLease(table, TABLE, "smoke", "b").acquire(T0, HOUR).state is LeaseState.ACQUIRED


def test_an_unreachable_table_is_said_not_taken_for_a_holder():
    client = boto3.client("dynamodb", region_name="ap-northeast-2")
    with Stubber(client) as stub:
        stub.add_client_error("put_item", "AccessDeniedException", "not allowed")
        outcome = RunLease(client, TABLE, "suite", "me").acquire(T0, HOUR)
    assert outcome.state is LeaseState.UNAVAILABLE
    assert "access denied" in outcome.reason
    assert "running anyway" in outcome.describe("suite")


@pytest.mark.parametrize(
    ("trigger", "smoke", "lease"),
    [
        ("schedule", False, "suite"),
        ("schedule", True, "smoke"),
        ("manual", True, "smoke"),
        ("manual", False, None),
    ],
)
def test_which_runs_take_which_lease(trigger, smoke, lease):
    assert lease_name(trigger, smoke) == lease


# --- through the handler ----------------------------------------------------------------------


def settings(seed_world: dict[str, Any]) -> MonitorSettings:
    return MonitorSettings.from_env(
        {
            "AWS_REGION": "ap-northeast-2",
            "JOB_QUEUE": seed_world["job_queue"],
            "JOB_DEFINITION": seed_world["job_definition"],
            "TARGET_NAME": "academy-video",
            "INCIDENT_TABLE_NAME": TABLE,
        }
    )


def handle(event: dict[str, Any], seed_world: dict[str, Any], request: str) -> dict[str, Any]:
    context = LocalContext(region="ap-northeast-2", aws_request_id=request)
    try:
        return monitor.handle(event, context, settings(seed_world), rt=monitor.Runtime())
    finally:
        metrics.flush_metrics()


def test_a_scheduled_run_while_another_holds_the_lease_does_nothing(table, seed_world, capsys):
    RunLease(table, TABLE, "suite", "earlier-run").acquire(datetime.now(UTC), HOUR)
    capsys.readouterr()
    result = handle(SCHEDULED, seed_world, "late-run")
    assert (
        result
        == {
            "skipped": True,
            "reason": result["reason"],
        }
        and "held by run earlier-run" in result["reason"]
    )
    out = capsys.readouterr().out
    assert "CheckFailed" not in out  # the holder emits the checks' metrics
    # ... but the heartbeat says this invocation ran: a run that outlasts two periods of a
    # 1- or 2-minute schedule, its later runs skipped, is no HEARTBEAT alarm.
    beats = [json.loads(x) for x in out.splitlines() if '"SuiteRun"' in x]
    assert [b["SuiteRun"] for b in beats] == [[1.0]]


def test_a_scheduled_run_takes_and_gives_back_its_lease(table, seed_world):
    result = handle(SCHEDULED, seed_world, "run-1")
    assert result["overall"] == "FAIL"
    assert "Item" not in table.get_item(TableName=TABLE, Key={"pk": {"S": "lease#suite"}})


def test_a_manual_check_is_never_kept_waiting(table, seed_world):
    RunLease(table, TABLE, "suite", "scheduled-run").acquire(datetime.now(UTC), HOUR)
    result = handle({"checks": ["QUEUE_CHECK"], "notify": False}, seed_world, "operator")
    assert [c["status"] for c in result["checks"]] == ["OK"]
