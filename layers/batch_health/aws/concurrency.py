"""Shared fetches for concurrent checks: compute once, batch keys, wait without a work slot.

The engine runs many tasks at once and bounds how many of them work at a time (its work
slots). A task that needs data another task is fetching waits without holding its slot;
a prefetch (`prefetching()`) does not wait at all: it raises `Pending`, and the engine
resumes it when the data is in. So waiting for shared data never keeps a fetch from running.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Hashable, Iterable, Iterator
from concurrent.futures import Future, wait
from contextvars import ContextVar
from typing import Any

# How long a batched lookup waits for keys still being discovered (log groups named by job
# definitions being described) before it fetches without them.
PRODUCER_WAIT_S = 1.0


class Pending(Exception):
    """Raised in a prefetch instead of waiting for data another task is fetching."""

    def __init__(self, future: Future[Any]) -> None:
        super().__init__("the data is being fetched by another task")
        self.future = future


_prefetching: ContextVar[bool] = ContextVar("batch_health_prefetching", default=False)
_work_slots: ContextVar[threading.Semaphore | None] = ContextVar(
    "batch_health_work_slots", default=None
)


@contextlib.contextmanager
def prefetching() -> Iterator[None]:
    """Within: waiting for another task's fetch raises `Pending` instead."""
    token = _prefetching.set(True)
    try:
        yield
    finally:
        _prefetching.reset(token)


@contextlib.contextmanager
def in_work_slot(slots: threading.Semaphore) -> Iterator[None]:
    """Within: the caller holds one of `slots`, and gives it up while it waits for data."""
    token = _work_slots.set(slots)
    try:
        yield
    finally:
        _work_slots.reset(token)


def _await(fut: Future[Any], timeout: float | None = None) -> None:
    """Wait for `fut` (another task's fetch) without holding a work slot meanwhile."""
    if fut.done():
        return
    if _prefetching.get():
        raise Pending(fut)
    slots = _work_slots.get()
    if slots is not None:
        slots.release()
    try:
        wait([fut], timeout)
    finally:
        if slots is not None:
            slots.acquire()


@contextlib.contextmanager
def _computing() -> Iterator[None]:
    # The task that owns a fetch finishes it: a nested lookup waits rather than raising
    # Pending, which would be cached as the fetch's error.
    token = _prefetching.set(False)
    try:
        yield
    finally:
        _prefetching.reset(token)


def _settle(fut: Future[Any], compute: Callable[[], Any]) -> None:
    with _computing():
        try:
            value = compute()
        except BaseException as exc:  # cached and re-raised to every caller
            fut.set_exception(exc)
        else:
            fut.set_result(value)


class Once:
    """Compute each key once; concurrent callers wait for the first; errors are cached too."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._futures: dict[Hashable, Future[Any]] = {}

    def get(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        with self._lock:
            fut = self._futures.get(key)
            owner = fut is None
            if owner:
                fut = self._futures[key] = Future()
        assert fut is not None
        if owner:
            _settle(fut, compute)
        else:
            _await(fut)
        return fut.result()


class BatchedLookup:
    """Keys registered up front are fetched together by the first `get` that needs one.

    Keys learnt during the run can join a batch too: `expect(producer)` up front announces
    that `producer` will name keys, `produced(producer, keys)` delivers them. Until every
    expected producer has delivered (or PRODUCER_WAIT_S has passed) a `get` waits, so the
    late keys are fetched in one call instead of one call each.

    `complete=False`: `fetch_many` may leave keys out of its answer when it could not tell;
    those are then fetched one by one (`fetch_many([key])` per key).

    `partition`: a batch holds only keys of the same partition as the key asked for, so the
    batches of different partitions are fetched by their own askers, side by side.
    """

    def __init__(
        self,
        fetch_many: Callable[[list[Any]], dict[Any, Any]],
        max_batch: int,
        *,
        complete: bool = True,
        partition: Callable[[Any], Hashable] | None = None,
    ) -> None:
        self._fetch_many = fetch_many
        self._max_batch = max_batch
        self._complete = complete
        self._partition = partition or (lambda _: None)
        self._lock = threading.Lock()
        self._pending: list[Hashable] = []
        self._futures: dict[Hashable, Future[dict[Any, Any]]] = {}
        self._singles = Once()
        self._expected: set[Hashable] = set()
        self._outstanding: set[Hashable] = set()
        self._all_produced: Future[None] = Future()
        self._released = False
        self._timer: threading.Timer | None = None

    def register(self, keys: Iterable[Hashable]) -> None:
        with self._lock:
            self._register(keys)

    def _register(self, keys: Iterable[Hashable]) -> None:
        for key in keys:
            if key not in self._futures and key not in self._pending:
                self._pending.append(key)

    def expect(self, producer: Hashable) -> None:
        with self._lock:
            if not self._released:
                self._expected.add(producer)
                self._outstanding.add(producer)

    def produced(self, producer: Hashable, keys: Iterable[Hashable] = ()) -> None:
        """`producer` is done; `keys` join the pending batch if it was expected."""
        with self._lock:
            if producer in self._expected:
                self._register(keys)
            self._outstanding.discard(producer)
            release = not self._outstanding
        if release:
            self._stop_waiting()

    def _stop_waiting(self) -> None:
        with self._lock:
            if self._released:
                return
            self._released = True
            self._outstanding.clear()
            timer = self._timer
        if timer is not None:
            timer.cancel()
        self._all_produced.set_result(None)

    def _producers_barrier(self) -> Future[None] | None:
        with self._lock:
            if not self._outstanding or self._released:
                return None
            if self._timer is None:
                self._timer = threading.Timer(PRODUCER_WAIT_S, self._stop_waiting)
                self._timer.daemon = True
                self._timer.start()
            return self._all_produced

    def get(self, key: Hashable) -> Any:
        with self._lock:
            known = key in self._futures
        if not known:
            barrier = self._producers_barrier()
            if barrier is not None:
                _await(barrier)
        with self._lock:
            fut = self._futures.get(key)
            batch: list[Hashable] = []
            if fut is None:
                part = self._partition(key)
                others = [k for k in self._pending if k != key and self._partition(k) == part]
                others = others[: self._max_batch - 1]
                batch = [key, *others]
                self._pending = [k for k in self._pending if k not in batch]
                fut = Future()
                for k in batch:
                    self._futures[k] = fut
        if batch:
            _settle(fut, lambda: self._fetch_many(batch))
        else:
            _await(fut)
        found = fut.result()
        if self._complete or key in found:
            return found.get(key)
        return self._singles.get(key, lambda: self._fetch_many([key]).get(key))
