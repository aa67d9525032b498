"""boto3 sessions and clients: retry mode, timeouts, cross-account roles, request counting.

Clients honour the standard AWS_* environment (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL,
AWS_MAX_ATTEMPTS, AWS_RETRY_MODE) because boto3 does; we only add defaults and counters.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import boto3
import botocore.session
from botocore.config import Config
from botocore.credentials import AssumeRoleCredentialFetcher, DeferredRefreshableCredentials
from botocore.exceptions import NoCredentialsError

from batch_health import __version__

SESSION_NAME = "batch-health-monitor"


DEFAULT_MAX_ATTEMPTS = 4  # total attempts per call, the first included


def client_config(
    max_pool_connections: int = 32,
    *,
    retry_mode: str | None = None,
    max_attempts: int | None = None,
) -> Config:
    """Client defaults: botocore's standard retry mode (backoff on throttling and transient
    errors) unless AWS_RETRY_MODE / AWS_MAX_ATTEMPTS (or the profile) say otherwise; connect
    and read timeouts so one slow endpoint cannot eat the run's time budget."""
    return Config(
        retries={
            "mode": retry_mode if retry_mode in ("standard", "adaptive") else "standard",
            "total_max_attempts": max_attempts or DEFAULT_MAX_ATTEMPTS,
        },
        connect_timeout=5,
        read_timeout=15,
        max_pool_connections=max_pool_connections,
        user_agent_appid=f"batch-health-{__version__}",
    )


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

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())

    @property
    def retries(self) -> int:
        return max(0, self.attempts - self.total_calls)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "aws_calls": sum(self.calls.values()),
                "aws_http_attempts": self.attempts,
                "aws_retries": max(0, self.attempts - sum(self.calls.values())),
            }


class AwsSessions:
    """One boto3 session per (region, role) and one client per (session, service).

    boto3 sessions are not thread-safe but clients are, so both are created under a lock
    and then shared by the check threads.
    """

    def __init__(
        self,
        default_region: str | None = None,
        *,
        base_session: boto3.Session | None = None,
        endpoint_url: str | None = None,
        config: Config | None = None,
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
        self._clients: dict[tuple[str | None, str | None, str | None, str], Any] = {}
        self.stats = RequestStats()

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
            return source.create_client(service, **{**endpoint, **kwargs})

        fetcher = AssumeRoleCredentialFetcher(
            client_creator=create_sts_client,
            source_credentials=source_credentials,
            role_arn=role_arn,
            extra_args={"RoleSessionName": SESSION_NAME}
            | ({"ExternalId": external_id} if external_id else {}),
        )
        assumed = botocore.session.Session()
        assumed._credentials = DeferredRefreshableCredentials(
            method="assume-role", refresh_using=fetcher.fetch_credentials
        )
        return boto3.Session(botocore_session=assumed, region_name=self._base.region_name)

    def client(
        self,
        service: str,
        region: str | None = None,
        role_arn: str | None = None,
        external_id: str | None = None,
    ) -> Any:
        region = self.region_for(region)
        key = (region, role_arn, external_id, service)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                session = self._session(role_arn, external_id)
                kwargs: dict[str, Any] = {"config": self._config}
                if self._endpoint_url:
                    kwargs["endpoint_url"] = self._endpoint_url
                client = session.client(service, region_name=region, **kwargs)
                client.meta.events.register("before-call", self.stats.on_call)
                # First, so an earlier handler that answers the request itself (a test stub)
                # cannot hide the attempt from the count.
                client.meta.events.register_first("before-send", self.stats.on_send)
                self._clients[key] = client
            return client
