"""The dependency depth of every AWS call a suite run makes: the critical-path lower bound.

A call's depth is 1 + the depth of the deepest call whose answer the issuing code had seen
when it made the call. "Seen" is tracked with a context variable:

- after a call returns (or fails), the task that made it has seen it;
- a value (or error) cached by the inventory carries the depth of the task that computed it,
  and every task that reads it has seen it (the inventory's `Future`s are swapped for
  depth-carrying ones while tracing);
- every engine task starts from nothing seen (the engine runs each task in a copy of the
  submitter's context), so waiting for another check to finish (a dependency gate) is not a
  data dependency: an engine that fetches ahead can hide it.

The longest chain is max(depth); times the injected latency it is a lower bound on the
wall time of the run. It is conservative in one way: calls made one after another by the
same task count as a chain even when the second did not need the first's answer.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from batch_health.aws import concurrency
from batch_health.aws.sessions import AwsSessions, ClientKey

# (depth, id of the call that set it) of the deepest answer the current task has seen.
_seen: ContextVar[tuple[int, int | None]] = ContextVar("bench_seen", default=(0, None))
_ids = itertools.count(1)


def _absorb(mark: tuple[int, int | None] | None) -> None:
    if mark is not None and mark[0] > _seen.get()[0]:
        _seen.set(mark)


@dataclass
class Call:
    id: int
    operation: str
    depth: int
    parent: int | None
    start: float
    end: float = 0.0


class CallLog:
    """Every call of a run with its depth and parent, thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls: dict[int, Call] = {}

    def before_call(self, model: Any, context: dict[str, Any], **_: Any) -> None:
        depth, parent = _seen.get()
        name = f"{model.service_model.service_name}:{model.name}"
        call = Call(next(_ids), name, depth + 1, parent, time.monotonic())
        with self._lock:
            self.calls[call.id] = call
        context["bench_call"] = call

    def after_call(self, context: dict[str, Any], **_: Any) -> None:
        call: Call | None = context.get("bench_call")
        if call is not None:
            call.end = time.monotonic()
            _absorb((call.depth, call.id))

    @property
    def depth(self) -> int:
        return max((c.depth for c in self.calls.values()), default=0)

    def depth_without(self, operations: frozenset[str]) -> int:
        """The longest chain of the other calls: the deepest call not of `operations` (those
        calls are leaves, so leaving them out shortens no other chain)."""
        return max(
            (c.depth for c in self.calls.values() if c.operation.split(":")[-1] not in operations),
            default=0,
        )

    def longest_chain(self) -> list[Call]:
        if not self.calls:
            return []
        call: Call | None = max(self.calls.values(), key=lambda c: (c.depth, -c.id))
        chain = []
        while call is not None:
            chain.append(call)
            call = self.calls.get(call.parent) if call.parent is not None else None
        return chain[::-1]


class TracingSessions(AwsSessions):
    """AwsSessions whose clients report every call to the current CallLog."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.log = CallLog()

    def _make(self, key: ClientKey) -> Any:
        client = super()._make(key)  # under the sessions' lock, once per client
        events = client.meta.events
        events.register("before-call", lambda **kw: self.log.before_call(**kw))
        events.register("after-call", lambda **kw: self.log.after_call(**kw))
        events.register("after-call-error", lambda **kw: self.log.after_call(**kw))
        return client


class _DepthFuture(Future):  # type: ignore[type-arg]
    """A Future that remembers what its producer had seen and hands it to every reader."""

    _mark: tuple[int, int | None] | None = None

    def set_result(self, result: Any) -> None:
        self._mark = _seen.get()
        super().set_result(result)

    def set_exception(self, exception: BaseException | None) -> None:
        self._mark = _seen.get()
        super().set_exception(exception)

    def result(self, timeout: float | None = None) -> Any:
        try:
            return super().result(timeout)
        finally:
            _absorb(self._mark)


@contextlib.contextmanager
def depth_carrying_inventory() -> Iterator[None]:
    """While active, values shared through the inventory carry their producer's depth."""
    saved = concurrency.Future
    concurrency.Future = _DepthFuture  # type: ignore[misc]
    try:
        yield
    finally:
        concurrency.Future = saved  # type: ignore[misc]
