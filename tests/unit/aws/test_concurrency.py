"""Shared fetches for concurrent checks (aws/concurrency.py): a batched lookup fetches the keys
of one partition together and waits, bounded, for keys still being announced; a task waiting
for shared data gives its work slot to others."""

from __future__ import annotations

import threading
import time
from typing import Any

from batch_health.aws import concurrency
from batch_health.aws.concurrency import BatchedLookup, Once
from batch_health.aws.sessions import AwsSessions
from batch_health.checks import Check, CheckContext, RunOptions
from batch_health.config import SuiteConfig
from batch_health.demo import REGION
from batch_health.engine import run_suite
from batch_health.models import CheckResult, Status


def recording_lookup() -> tuple[BatchedLookup, list[list[str]]]:
    batches: list[list[str]] = []

    def fetch(keys: list[str]) -> dict[str, Any]:
        batches.append(sorted(keys))
        return {k: k.upper() for k in keys}

    return BatchedLookup(fetch, max_batch=50), batches


def test_a_partitioned_lookup_batches_only_keys_of_the_same_partition():
    batches: list[list[str]] = []

    def fetch(keys: list[str]) -> dict[str, Any]:
        batches.append(sorted(keys))
        return {k: k.upper() for k in keys}

    lookup = BatchedLookup(fetch, max_batch=50, partition=lambda key: key[0])
    lookup.register(["a1", "b1", "a2", "b2"])
    assert lookup.get("a2") == "A2"
    assert batches == [["a1", "a2"]]  # b's keys wait for a b asker
    assert lookup.get("b1") == "B1"
    assert lookup.get("a1") == "A1"  # fetched with a2: no new batch
    assert batches == [["a1", "a2"], ["b1", "b2"]]


def test_a_lookup_waits_for_announced_keys_and_fetches_them_together():
    lookup, batches = recording_lookup()
    lookup.expect("jobdef-a")
    lookup.expect("jobdef-b")
    lookup.produced("jobdef-a", ["/a"])
    threading.Timer(0.05, lambda: lookup.produced("jobdef-b", ["/b"])).start()
    assert lookup.get("/a") == "/A"
    assert lookup.get("/b") == "/B"
    assert batches == [["/a", "/b"]]


def test_a_lookup_stops_waiting_for_a_producer_that_never_delivers(monkeypatch):
    monkeypatch.setattr(concurrency, "PRODUCER_WAIT_S", 0.05)
    lookup, batches = recording_lookup()
    lookup.expect("jobdef-slow")
    lookup.register(["/a"])
    started = time.monotonic()
    assert lookup.get("/a") == "/A"
    assert time.monotonic() - started < 1.0
    assert batches == [["/a"]]


def check(name: str, run: Any) -> Check:
    cls = type(
        name,
        (Check,),
        {"name": name, "step": 9, "step_title": "FAKE", "title": name, "verifies": name},
    )
    cls.run = lambda self, ctx: CheckResult(name, run(ctx))
    return cls()


def test_a_check_waiting_for_shared_data_gives_its_work_slot_to_others():
    shared = Once()
    seen: dict[str, float] = {}

    def fetching(ctx: CheckContext) -> Status:
        shared.get("roles", lambda: time.sleep(0.4))
        seen["fetched"] = time.monotonic()
        return Status.OK

    def waiting(ctx: CheckContext) -> Status:
        time.sleep(0.05)
        shared.get("roles", lambda: None)  # the first check is fetching it
        return Status.OK

    def other(ctx: CheckContext) -> Status:
        seen["other_started"] = time.monotonic()
        return Status.OK

    registry = [check("FETCHING", fetching), check("WAITING", waiting), check("OTHER", other)]
    config = SuiteConfig.model_validate(
        {"targets": [{"name": "t", "region": REGION, "job_queue": "q", "job_definition": "j"}]}
    )
    suite = run_suite(config, RunOptions(concurrency=2), AwsSessions(), registry=registry)
    assert [c.status for c in suite.reports[0].checks] == [Status.OK] * 3
    # Two work slots, both taken; OTHER ran while WAITING waited, not after.
    assert seen["other_started"] < seen["fetched"]
