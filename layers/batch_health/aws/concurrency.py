"""Shared fetches for concurrent checks: compute once, batch keys, wait without a work slot.

The engine runs many tasks at once and bounds how many of them work at a time (its work
slots). A task that needs data another task is fetching waits without holding its slot;
a prefetch (`prefetching()`) does not wait at all: it raises `Pending`, and the engine
resumes it when the data is in. So waiting for shared data never keeps a fetch from running.
`PriorityPool` runs the tasks, most urgent first, each holding a work slot while it works.
Waiting for AWS is waiting for data too: a request in flight, or paced to its API's quota,
holds no slot (`slot_released`, used by the sessions' clients). `fan_out` makes independent
reads of one fetch side by side.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import threading
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextvars import ContextVar, copy_context
from typing import Any, TypeVar

T = TypeVar("T")

# How long a batched lookup waits for keys still being discovered (log groups named by job
# definitions being described) without any producer delivering, before it fetches without
# them. Producers paced by a quota keep delivering, so their keys still go in one batch.
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


@contextlib.contextmanager
def slot_released() -> Iterator[None]:
    """Within: the caller's work slot, if it holds one, is free for another task (the caller
    waits: for another task's data, for AWS's answer, for its API's pace); taken back after."""
    slots = _work_slots.get()
    if slots is None:
        yield
        return
    token = _work_slots.set(None)  # given up once, however deeply nested
    slots.release()
    try:
        yield
    finally:
        slots.acquire()
        _work_slots.reset(token)


def _await(fut: Future[Any], timeout: float | None = None) -> None:
    """Wait for `fut` (another task's fetch) without holding a work slot meanwhile."""
    if fut.done():
        return
    if _prefetching.get():
        raise Pending(fut)
    with slot_released():
        wait([fut], timeout)


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


def fan_out(calls: Sequence[Callable[[], T]]) -> list[T]:
    """Each call's result, in order, the calls made side by side: the first here, the others
    on threads of their own (each in a copy of this context). Reads that need only what the
    caller already knows need not wait for one another. The first error, in call order, is
    raised once every call is done."""
    if len(calls) <= 1:
        return [call() for call in calls]
    futures: list[Future[T]] = [Future() for _ in calls]
    for fut, call in zip(futures[1:], calls[1:], strict=True):
        threading.Thread(target=copy_context().run, args=(_settle, fut, call), daemon=True).start()
    _settle(futures[0], calls[0])
    with slot_released():
        wait(futures)
    return [fut.result() for fut in futures]


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
    expected producer has delivered (or none has for PRODUCER_WAIT_S) a `get` waits, so the
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
            if not release and self._timer is not None and not self._released:
                self._timer.cancel()  # one delivered: wait PRODUCER_WAIT_S more for the rest
                self._timer = self._start_timer()
        if release:
            self._stop_waiting()

    def _start_timer(self) -> threading.Timer:
        timer = threading.Timer(PRODUCER_WAIT_S, self._stop_waiting)
        timer.daemon = True
        timer.start()
        return timer

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
                self._timer = self._start_timer()
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


class PriorityPool:
    """A thread pool that runs the most urgent task first (lowest priority tuple, then first
    submitted), at most `slots` at a time.

    Every task runs in a copy of the context the pool was made in (not in whatever a reused
    pool thread was left with), holding a work slot it gives up while it waits for data or
    for AWS (`slot_released`).
    """

    def __init__(self, slots: int, threads: int, thread_name_prefix: str = "task") -> None:
        self.slots = threading.Semaphore(slots)
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix=thread_name_prefix)
        self._context = copy_context()
        self._lock = threading.Lock()
        self._heap: list[tuple[tuple[int, ...], int, Callable[[], None]]] = []
        self._order = itertools.count()
        self._closed = False

    def submit(self, priority: tuple[int, ...], task: Callable[[], None]) -> None:
        with self._lock:
            if self._closed:
                return
            heapq.heappush(self._heap, (priority, next(self._order), task))
            self._pool.submit(self._run_next)

    def _run_next(self) -> None:
        with self.slots:
            with self._lock:
                if not self._heap:
                    return
                _, _, task = heapq.heappop(self._heap)
            self._context.copy().run(self._run, task)

    def _run(self, task: Callable[[], None]) -> None:
        with in_work_slot(self.slots):
            task()

    def close(self, wait: bool) -> None:
        """Drop tasks not started; `wait`: let running ones finish first."""
        with self._lock:
            self._closed = True
            self._heap.clear()
        self._pool.shutdown(wait=wait, cancel_futures=True)
