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


def test_a_lookup_keeps_waiting_while_its_producers_keep_delivering(monkeypatch):
    # Producers paced by a quota deliver one by one, for longer than PRODUCER_WAIT_S in
    # all: each delivery restarts the wait, so their keys still go in one batch.
    monkeypatch.setattr(concurrency, "PRODUCER_WAIT_S", 0.3)
    lookup, batches = recording_lookup()
    names = [f"/g{i}" for i in range(6)]
    for name in names:
        lookup.expect(name)

    def produce() -> None:
        for name in names:
            time.sleep(0.1)
            lookup.produced(name, [name])

    producer = threading.Thread(target=produce)
    producer.start()
    assert lookup.get("/g0") == "/G0"
    producer.join()
    assert batches == [sorted(names)]


# --- fan_out ---------------------------------------------------------------------------------
def test_fan_out_makes_the_calls_side_by_side_and_keeps_their_order():
    barrier = threading.Barrier(3, timeout=5)  # each call waits for the other two

    def call(n: int) -> int:
        barrier.wait()
        return n * 10

    assert concurrency.fan_out([lambda n=n: call(n) for n in range(3)]) == [0, 10, 20]
    assert concurrency.fan_out([]) == []
    assert concurrency.fan_out([lambda: "alone"]) == ["alone"]


def test_fan_out_raises_the_first_error_in_call_order_once_all_are_done():
    finished: list[str] = []

    def slow_failure() -> None:
        time.sleep(0.05)
        finished.append("slow")
        raise KeyError("first")

    def quick_failure() -> None:
        finished.append("quick")
        raise ValueError("second")

    try:
        concurrency.fan_out([slow_failure, quick_failure])
    except KeyError:
        pass
    else:
        raise AssertionError("the first call's error was not raised")
    assert sorted(finished) == ["quick", "slow"]


def test_slot_released_gives_the_slot_up_once_however_deeply_nested():
    slots = threading.Semaphore(1)
    with slots, concurrency.in_work_slot(slots):
        # The inner one finds the slot already given up: it is not released twice.
        with concurrency.slot_released(), concurrency.slot_released():
            assert slots.acquire(blocking=False)
            assert not slots.acquire(blocking=False)
            slots.release()
        assert not slots.acquire(blocking=False)  # taken back by the outer one
