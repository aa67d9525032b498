"""boto3 sessions and clients: retry mode, timeouts, cross-account roles, request counting,
and each API paced to its quota (aws/pacing.py).

Clients honour the standard AWS_* environment (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL,
AWS_MAX_ATTEMPTS, AWS_RETRY_MODE) because boto3 does; we only add defaults and counters.
A request waiting for AWS's answer, or for its turn under its API's quota, holds no work
slot of the engine (concurrency.slot_released): the slots bound the work, the quotas the
request rate.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import Future
from typing import Any, Literal, NamedTuple, cast

import boto3
import botocore.session
from botocore import xform_name
from botocore.config import Config
from botocore.credentials import AssumeRoleCredentialFetcher, DeferredRefreshableCredentials
from botocore.exceptions import NoCredentialsError

from batch_health import __version__
from batch_health.aws.concurrency import slot_released
from batch_health.aws.pacing import Pacer
from batch_health.domain.arns import arn_account

SESSION_NAME = "batch-health-monitor"


class ClientKey(NamedTuple):
    """Which client: a service, in a region, with the base credentials or a role's."""

    service: str
    region: str | None = None
    role_arn: str | None = None
    external_id: str | None = None
    # For a call that must not run twice (lambda:Invoke runs the function again): one
    # attempt, no SDK retry, and a read timeout of SINGLE_ATTEMPT_READ_TIMEOUT_S.
    single_attempt: bool = False


DEFAULT_MAX_ATTEMPTS = 4  # total attempts per call, the first included
SINGLE_ATTEMPT_READ_TIMEOUT_S = 20


def client_config(
    max_pool_connections: int = 64,
    *,
    retry_mode: str | None = None,
    max_attempts: int | None = None,
) -> Config:
    """Client defaults: botocore's standard retry mode (backoff on throttling and transient
    errors) unless AWS_RETRY_MODE / AWS_MAX_ATTEMPTS (or the profile) say otherwise; connect
    and read timeouts so one slow endpoint cannot eat the run's time budget."""
    mode: Literal["standard", "adaptive"] = "adaptive" if retry_mode == "adaptive" else "standard"
    return Config(
        retries={"mode": mode, "total_max_attempts": max_attempts or DEFAULT_MAX_ATTEMPTS},
        connect_timeout=5,
        read_timeout=15,
        max_pool_connections=max_pool_connections,
        # In botocore since 1.31; its type stubs do not know the argument yet.
        user_agent_appid=f"batch-health-{__version__}",  # type: ignore[call-arg]
    )


def _load_pagination(client: Any) -> None:
    """Load the client's pagination config now, while it is made under the lock.

    botocore loads it on the first `get_paginator` and caches it on the client, but without
    a lock: threads paginating with a new client at once would each load it, and each load
    scans botocore's whole data directory (tens of ms of CPU, under the GIL).
    """
    operations = client.meta.service_model.operation_names
    if operations:
        client.can_paginate(xform_name(operations[0]))


class RequestStats:
    """Counts API calls and HTTP attempts (attempts - calls = retries), thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls: Counter[str] = Counter()
        self.attempts = 0

    def on_call(self, model: Any = None, **_: Any) -> None:
        with self._lock:
            self.calls[f"{model.service_model.service_name}:{model.name}" if model else "?"] += 1

    def on_send(self, **_: Any) -> None:
        with self._lock:
            self.attempts += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "aws_calls": sum(self.calls.values()),
                "aws_http_attempts": self.attempts,
                "aws_retries": max(0, self.attempts - sum(self.calls.values())),
            }


class _SlotFreeSender:
    """A client's HTTP sender that gives up the caller's work slot while AWS answers."""

    def __init__(self, sender: Any) -> None:
        self._sender = sender

    def send(self, request: Any) -> Any:
        with slot_released():
            return self._sender.send(request)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sender, name)


def pace_and_free_slot(client: Any, pacer: Pacer, account: str) -> None:
    """Every request of `client` waits for its API's quota, and holds no work slot while it
    waits for that, for the answer, or for its retry's backoff. botocore has no public hook
    around the send itself, nor around the backoff."""
    pacer.install(client, account)
    endpoint = client._endpoint
    if not isinstance(endpoint.http_session, _SlotFreeSender):
        endpoint.http_session = _SlotFreeSender(endpoint.http_session)
    _back_off_without_a_slot(client)


def _back_off_without_a_slot(client: Any) -> None:
    """botocore sleeps a retry's backoff (up to 20 s in standard mode) itself, after its
    retry handler (`needs-retry.<service>`, unique id `retry-config-<service>`) returns the
    delay: the handler is wrapped to sleep that delay with the slot given up, and to tell
    botocore to sleep 0."""
    service = client.meta.service_model.service_id.hyphenize()
    unique_id = f"retry-config-{service}"
    emitter = getattr(client.meta.events, "_emitter", None)
    registered = getattr(emitter, "_unique_id_handlers", {}).get(unique_id)
    if not registered or getattr(registered["handler"], "_slot_free", False):
        return
    decide = registered["handler"]

    def needs_retry(**kwargs: Any) -> Any:
        delay = decide(**kwargs)
        if delay:
            with slot_released():
                time.sleep(delay)
            return 0
        return delay

    needs_retry._slot_free = True  # type: ignore[attr-defined]
    client.meta.events.unregister(f"needs-retry.{service}", unique_id=unique_id)
    client.meta.events.register(f"needs-retry.{service}", needs_retry, unique_id=unique_id)


def quota_account(role_arn: str | None) -> str:
    """Whose quotas a client's requests count against: the role's account, "" for the base
    credentials (their account is not known without asking)."""
    return arn_account(role_arn) if role_arn else ""


class AwsSessions:
    """One boto3 session per (region, role) and one client per (session, service).

    boto3 sessions are not thread-safe but clients are, so both are created under a lock
    and then shared by the check threads. Kept across runs (the monitor function's warm
    invocations), they also keep what runs learn: the pacer's buckets, and which roles the
    IAM simulator answered for (`simulator_answered`).
    """

    def __init__(
        self,
        default_region: str | None = None,
        *,
        base_session: boto3.Session | None = None,
        endpoint_url: str | None = None,
        config: Config | None = None,
        pacer: Pacer | None = None,
    ) -> None:
        self._base = base_session or boto3.Session()
        self.default_region = default_region or self._base.region_name
        self._endpoint_url = endpoint_url
        # botocore resolves these from AWS_RETRY_MODE / AWS_MAX_ATTEMPTS or the profile; an
        # explicit Config would otherwise override them, so pass them through.
        self._config = config or client_config(
            retry_mode=self._base._session.get_config_variable("retry_mode"),
            max_attempts=self._base._session.get_config_variable("max_attempts"),
        )
        self._lock = threading.Lock()
        self._sessions: dict[tuple[str, str | None], boto3.Session] = {}
        self._clients: dict[ClientKey, Any] = {}
        self._making: dict[ClientKey, Future[Any]] = {}
        self.stats = RequestStats()
        self.pacer = pacer or Pacer.from_environment()
        # Execution roles whose iam:SimulatePrincipalPolicy answered last time: their policies
        # are then not read ahead in case the simulator fails (inventory).
        self.simulator_answered: set[str] = set()

    @property
    def profile(self) -> str | None:
        return self._base._session.profile

    def region_for(self, region: str | None) -> str | None:
        return region or self.default_region

    def _session(self, role_arn: str | None, external_id: str | None = None) -> boto3.Session:
        if role_arn is None:
            return self._base
        if (role_arn, external_id) not in self._sessions:
            self._sessions[role_arn, external_id] = self._assumed_session(role_arn, external_id)
        return self._sessions[role_arn, external_id]

    def _assumed_session(self, role_arn: str, external_id: str | None = None) -> boto3.Session:
        """A session whose credentials come from sts:AssumeRole, refreshed near expiry."""
        source = self._base._session
        source_credentials = source.get_credentials()
        if source_credentials is None:
            raise NoCredentialsError()
        endpoint = {"endpoint_url": self._endpoint_url} if self._endpoint_url else {}

        def create_sts_client(service: str, **kwargs: Any) -> Any:
            client = source.create_client(service, **{**endpoint, **kwargs})
            self._count(client)  # the AssumeRole calls are the run's calls too
            # They count against the base credentials' account's STS quota.
            pace_and_free_slot(client, self.pacer, quota_account(None))
            return client

        fetcher = AssumeRoleCredentialFetcher(
            client_creator=create_sts_client,
            source_credentials=source_credentials,
            role_arn=role_arn,
            extra_args={"RoleSessionName": SESSION_NAME}
            | ({"ExternalId": external_id} if external_id else {}),
        )
        assumed = botocore.session.Session()
        # One loader for every session: botocore reads and caches its data files (models,
        # endpoints) per loader, and scans its whole data directory once per file type.
        loader = source.get_component("data_loader")
        assumed.register_component("data_loader", loader)
        # botocore has no public way to give a session refreshable credentials.
        assumed._credentials = DeferredRefreshableCredentials(  # type: ignore[attr-defined]
            method="assume-role", refresh_using=fetcher.fetch_credentials
        )
        session = boto3.Session(botocore_session=assumed, region_name=self._base.region_name)
        # boto3 adds its own data directory to the loader's search path per session: once
        # is enough (the caller holds the lock).
        loader.search_paths[:] = list(dict.fromkeys(loader.search_paths))
        return session

    def client(
        self,
        service: str,
        region: str | None = None,
        role_arn: str | None = None,
        external_id: str | None = None,
        *,
        single_attempt: bool = False,
    ) -> Any:
        key = ClientKey(service, self.region_for(region), role_arn, external_id, single_attempt)
        # A client, once made, never changes: reading it (or waiting for it to be made
        # ahead) needs no lock, so a check never waits while another client is made.
        client = self._clients.get(key)
        if client is None:
            # Being made ahead (`prepare`): wait for it; its error, if any, is raised here.
            making = self._making.get(key)
            if making is not None:
                return making.result()
            with self._lock:
                client = self._clients.get(key)
                making = self._making.get(key)
                if client is None and making is None:
                    client = self._make(key)
        if client is None:
            assert making is not None  # being made ahead, by the check above
            return making.result()
        return client

    def prepare(self, wanted: Iterable[ClientKey]) -> None:
        """Make these clients now, in this order, on a background thread.

        A run asks for this at its start: the clients are made while its first answers are
        awaited, instead of on the path of a chain of calls. Making a client is CPU work
        (tens of ms), so the order matters: a thread that wants one of these waits for it
        rather than making it out of turn.
        """
        with self._lock:
            keys = list(
                dict.fromkeys(
                    k
                    for k in (w._replace(region=self.region_for(w.region)) for w in wanted)
                    if k not in self._clients and k not in self._making
                )
            )
            for key in keys:
                self._making[key] = Future()
        if not keys:
            return
        maker = threading.Thread(target=self._make_ahead, args=(keys,), daemon=True)
        try:
            maker.start()
        except RuntimeError:  # no thread to spare: make them here, before the run starts
            self._make_ahead(keys)

    def _make_ahead(self, keys: list[ClientKey]) -> None:
        for key in keys:
            with self._lock:
                future = self._making[key]
                try:
                    self._make(key)
                except BaseException as exc:  # raised to the thread that wants this client
                    future.set_exception(exc)
                else:
                    future.set_result(self._clients[key])
                finally:
                    del self._making[key]  # a failed one is made again when asked for

    def _make(self, key: ClientKey) -> Any:
        """Make and keep a client; the caller holds the lock (boto3 sessions are not
        thread-safe)."""
        session = self._session(key.role_arn, key.external_id)
        config = self._config
        if key.single_attempt:
            once = Config(
                retries={"mode": "standard", "total_max_attempts": 1},
                read_timeout=SINGLE_ATTEMPT_READ_TIMEOUT_S,
            )
            config = config.merge(once)
        kwargs: dict[str, Any] = {"config": config}
        if self._endpoint_url:
            kwargs["endpoint_url"] = self._endpoint_url
        # boto3's type stubs know each service by a literal name; this one is a variable.
        client = cast(Any, session).client(key.service, region_name=key.region, **kwargs)
        _load_pagination(client)
        self._count(client)
        pace_and_free_slot(client, self.pacer, quota_account(key.role_arn))
        self._clients[key] = client
        return client

    def _count(self, client: Any) -> None:
        client.meta.events.register("before-call", self.stats.on_call)
        # First, so an earlier handler that answers the request itself (a test stub)
        # cannot hide the attempt from the count.
        client.meta.events.register_first("before-send", self.stats.on_send)
