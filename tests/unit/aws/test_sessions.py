"""AwsSessions (aws/sessions.py): `prepare` makes a run's clients in order on a background
thread; `client()` waits for one being made ahead, never makes it out of turn, and reads a
made one without the lock; what making a client loads, and what its sessions share."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import Future
from types import SimpleNamespace
from typing import Any

import pytest
from botocore.paginate import Paginator
from support.accounts import EXTERNAL_ID, ROLE_ARN

from batch_health.aws import sessions as aws
from batch_health.aws.sessions import AwsSessions, ClientKey
from batch_health.demo import REGION

WAIT_S = 10  # bound on every wait: a broken lock or order fails the test, never hangs it


class MakeFailed(Exception):
    """What a failing `_make` raises."""


class Recording(AwsSessions):
    """AwsSessions that records every client it makes (key and thread), can hold the making
    of a service until released, and can fail it once."""

    def __init__(self) -> None:
        super().__init__()
        self.made: list[ClientKey] = []
        self.made_by: list[str] = []
        self.entered: dict[str, threading.Event] = {}
        self.released: dict[str, threading.Event] = {}
        self.fail_once: set[str] = set()

    def hold(self, service: str) -> tuple[threading.Event, threading.Event]:
        """Making `service` waits for the second event; the first is set when it starts."""
        self.entered[service], self.released[service] = threading.Event(), threading.Event()
        return self.entered[service], self.released[service]

    def release_all(self) -> None:
        for event in self.released.values():
            event.set()

    def _make(self, key: ClientKey) -> Any:
        self.made.append(key)
        self.made_by.append(threading.current_thread().name)
        if key.service in self.released:
            self.entered[key.service].set()
            assert self.released[key.service].wait(WAIT_S)
        if key.service in self.fail_once:
            self.fail_once.discard(key.service)
            raise MakeFailed(f"cannot make {key.service}")
        return super()._make(key)

    def get(self, service: str, region: str | None = None) -> Any:
        """`client()` from another thread, bounded: a client never made fails, not hangs."""
        return bounded(lambda: self.client(service, region))


@pytest.fixture
def sessions() -> Iterator[Recording]:
    made = Recording()
    yield made
    made.release_all()  # never leave a maker thread waiting


@pytest.fixture
def waiting(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Set when a thread starts waiting for a client being made ahead."""
    started = threading.Event()

    class WatchedFuture(Future):
        def result(self, timeout: float | None = None) -> Any:
            started.set()
            return super().result(timeout)

    monkeypatch.setattr(aws, "Future", WatchedFuture)
    return started


def in_thread(call: Any) -> tuple[threading.Thread, dict[str, Any]]:
    """Start `call` on a thread; its result or exception lands in the returned dict."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["result"] = call()
        except Exception as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def bounded(call: Any) -> Any:
    """`call()`, failing the test if it has not returned within WAIT_S."""
    thread, outcome = in_thread(call)
    thread.join(WAIT_S)
    assert not thread.is_alive(), f"still waiting after {WAIT_S}s"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


def here(service: str) -> ClientKey:
    return ClientKey(service, REGION)


# --- AwsSessions.prepare / client ----------------------------------------------------------


def test_prepare_makes_the_clients_in_the_order_given(sessions):
    wanted = [ClientKey("iam"), ClientKey("batch"), ClientKey("sts")]
    sessions.prepare(wanted)
    # Asked for in the reverse order: the last one is still made last, not out of turn.
    clients = {k.service: sessions.get(k.service) for k in reversed(wanted)}
    assert sessions.made == [here("iam"), here("batch"), here("sts")]
    assert len(set(sessions.made_by)) == 1  # by the prepare thread
    assert threading.current_thread().name not in sessions.made_by
    for service, client in clients.items():
        assert client.meta.service_model.service_name == service
        assert sessions.client(service) is client
        assert sessions.client(service, REGION) is client
    assert len(sessions.made) == 3


def test_a_client_being_made_ahead_is_waited_for_not_made_by_the_caller(sessions, waiting):
    entered, release = sessions.hold("iam")
    sessions.prepare([ClientKey("iam"), ClientKey("batch")])
    assert entered.wait(WAIT_S)
    caller, outcome = in_thread(lambda: sessions.client("batch"))
    assert waiting.wait(WAIT_S), "the caller did not wait for the client made ahead"
    assert sessions.made == [here("iam")]  # batch waits its turn
    release.set()
    caller.join(WAIT_S)
    assert not caller.is_alive()
    assert outcome["result"] is sessions.client("batch")
    assert outcome["result"].meta.service_model.service_name == "batch"
    assert sessions.made == [here("iam"), here("batch")]
    # Both made by the prepare thread, none by the caller.
    assert len(set(sessions.made_by)) == 1
    assert caller.name not in sessions.made_by


def test_an_error_making_a_client_ahead_goes_to_its_caller_and_the_next_call_makes_it(
    sessions, waiting
):
    sessions.fail_once.add("batch")
    entered, release = sessions.hold("batch")
    sessions.prepare([ClientKey("batch")])
    assert entered.wait(WAIT_S)
    caller, outcome = in_thread(lambda: sessions.client("batch"))
    assert waiting.wait(WAIT_S)
    release.set()
    caller.join(WAIT_S)
    assert not caller.is_alive()
    assert isinstance(outcome.get("error"), MakeFailed), outcome
    assert str(outcome["error"]) == "cannot make batch"
    # Not kept as failed: asked again, it is made again.
    client = sessions.get("batch")
    assert client.meta.service_model.service_name == "batch"
    assert sessions.client("batch") is client
    assert sessions.made == [here("batch"), here("batch")]


@pytest.mark.parametrize("made_by", ["prepare", "another caller"])
def test_reading_a_made_client_does_not_wait_for_another_being_made(sessions, made_by):
    batch = sessions.client("batch")
    entered, release = sessions.hold("sts")
    if made_by == "prepare":
        sessions.prepare([ClientKey("sts")])
    else:
        in_thread(lambda: sessions.client("sts"))
    assert entered.wait(WAIT_S)
    assert sessions._lock.locked()  # sts is being made under the lock
    reader, outcome = in_thread(lambda: sessions.client("batch"))
    reader.join(WAIT_S)
    assert not reader.is_alive(), "reading a made client waited for the lock"
    assert outcome["result"] is batch
    release.set()
    assert sessions.get("sts").meta.service_model.service_name == "sts"


def test_prepare_skips_clients_already_made_or_being_made(sessions, monkeypatch):
    # Prepare threads start their work only when let go, so the second prepare comes while
    # the first one's clients are still to be made (a client is made holding the lock,
    # which prepare takes too).
    go = threading.Event()

    class Gated(threading.Thread):
        def run(self) -> None:
            assert go.wait(WAIT_S)
            super().run()

    monkeypatch.setattr(aws, "threading", SimpleNamespace(Thread=Gated, Lock=threading.Lock))
    batch = sessions.client("batch")
    # The default region and None name the same client; a repeated key is made once.
    sessions.prepare([ClientKey("batch"), ClientKey("sts", REGION), ClientKey("sts")])
    sessions.prepare([ClientKey("sts"), ClientKey("batch", REGION), ClientKey("iam")])
    assert sessions.made == [here("batch")]
    go.set()
    assert sessions.get("sts").meta.service_model.service_name == "sts"
    assert sessions.get("iam").meta.service_model.service_name == "iam"
    sessions.prepare([ClientKey("batch"), ClientKey("sts"), ClientKey("iam")])
    for service in ("batch", "sts", "iam"):
        sessions.get(service)
    assert sessions.client("batch") is batch
    assert Counter(k.service for k in sessions.made) == {"batch": 1, "sts": 1, "iam": 1}


def test_without_a_thread_to_spare_prepare_makes_the_clients_itself(sessions, monkeypatch):
    class NoThread(threading.Thread):
        def start(self) -> None:
            raise RuntimeError("can't start new thread")

    monkeypatch.setattr(aws, "threading", SimpleNamespace(Thread=NoThread, Lock=threading.Lock))
    sessions.prepare([ClientKey("logs"), ClientKey("sts")])
    # Made before prepare returned, on this thread, in order.
    assert sessions.made == [here("logs"), here("sts")]
    assert sessions.made_by == [threading.current_thread().name] * 2
    assert sessions.client("logs").meta.service_model.service_name == "logs"
    assert sessions.client("sts").meta.service_model.service_name == "sts"
    assert len(sessions.made) == 2


# --- what making a client loads ------------------------------------------------------------


def test_assumed_role_sessions_share_the_base_sessions_data_loader(aws):
    sessions = AwsSessions()
    own = sessions.client("sts")
    assumed = sessions.client("sts", role_arn=ROLE_ARN)
    with_id = sessions.client("sts", role_arn=ROLE_ARN, external_id=EXTERNAL_ID)
    base = sessions._session(None)
    loader = base._session.get_component("data_loader")
    for role, external_id in ((ROLE_ARN, None), (ROLE_ARN, EXTERNAL_ID)):
        session = sessions._session(role, external_id)
        assert session is not base
        assert session._session.get_component("data_loader") is loader
    # Each boto3 session adds boto3's data directory to its loader: the shared one has it once.
    assert len(loader.search_paths) == len(set(loader.search_paths))
    # The shared loader serves working clients, each with its own credentials.
    assert own.get_caller_identity()["Account"] == "123456789012"
    for client in (assumed, with_id):
        arn = client.get_caller_identity()["Arn"]
        assert arn.startswith("arn:aws:sts::111122223333:assumed-role/batch-health-target/")


def list_services_spy(sessions: AwsSessions, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every `list_available_services` (a scan of botocore's data directory) of the
    sessions' loader."""
    loader = sessions._session(None)._session.get_component("data_loader")
    scans: list[str] = []
    original = loader.list_available_services

    def spy(type_name: str) -> Any:
        scans.append(type_name)
        return original(type_name)

    monkeypatch.setattr(loader, "list_available_services", spy)
    return scans


def paginate_at_once(client: Any, threads: int = 8) -> list[Any]:
    """`get_paginator` from `threads` threads released together."""
    start = threading.Barrier(threads)

    def paginate() -> Any:
        start.wait(WAIT_S)
        return client.get_paginator("describe_job_queues")

    runs = [in_thread(paginate) for _ in range(threads)]
    for thread, _ in runs:
        thread.join(WAIT_S)
        assert not thread.is_alive()
    return [outcome.get("result", outcome.get("error")) for _, outcome in runs]


def test_a_made_client_has_its_pagination_loaded_so_paginating_threads_scan_nothing(
    monkeypatch,
):
    sessions = AwsSessions()
    client = sessions.client("batch")
    assert "page_config" in client._cache
    scans = list_services_spy(sessions, monkeypatch)
    paginators = paginate_at_once(client)
    assert all(isinstance(p, Paginator) for p in paginators), paginators
    assert scans == []


def test_the_scan_spy_sees_a_client_made_without_loading_pagination(monkeypatch):
    # The control for the test above: the spy does see the scans it says are gone.
    monkeypatch.setattr(aws, "_load_pagination", lambda client: None)
    sessions = AwsSessions()
    client = sessions.client("batch")
    assert "page_config" not in client._cache
    scans = list_services_spy(sessions, monkeypatch)
    paginate_at_once(client)
    assert "paginators-1" in scans
