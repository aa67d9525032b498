"""What every part of a target's view shares: its target, its account's lookups and the
per-run cache. The reads are split by service (batch_health.aws.inventory for Batch,
iam_reads, log_reads); `TargetView` joins them."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

from batch_health.aws.lookups import AccountLookups
from batch_health.aws.sessions import ClientKey
from batch_health.config import Target
from batch_health.domain.job_definition import JobDefinitionView
from batch_health.domain.scope import DeploymentScope


class ViewBase:
    """A target, its account's batched lookups, and the run's fetch-once cache."""

    scope: DeploymentScope | None = None

    def __init__(
        self, target: Target, account: AccountLookups, scope: DeploymentScope | None = None
    ) -> None:
        self.target = target
        self._acct = account
        self.region = account.region
        self.profile = account.sessions.profile
        self.scope = scope

    def client_key(self, service: str) -> ClientKey:
        """Which client `client(service)` is (the account's: region, role, external id)."""
        return self._acct.client_key(service)

    def client(self, service: str) -> Any:
        return self._acct.client(service)

    def _once(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        return self._acct.once.get(key, compute)

    def job_definition(self) -> JobDefinitionView | None:
        raise NotImplementedError  # TargetView reads it (batch_health.aws.inventory)

    def compute_environments(self) -> list[tuple[dict[str, Any], dict[str, Any] | None]]:
        raise NotImplementedError  # TargetView reads them (batch_health.aws.inventory)

    def log_group_names(self) -> dict[str, tuple[str, ...]]:
        raise NotImplementedError  # TargetView knows them (batch_health.aws.inventory)
