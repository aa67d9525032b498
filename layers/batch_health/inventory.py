"""Every AWS read the checks make, fetched once per run and shared.

`Inventory` is created per suite run. Lookups that the API accepts as lists (job queues,
compute environments, SSM parameters, log groups by common prefix) are batched across all
targets that share credentials and region: the first target that needs its queue fetches
every registered queue in one call. Results and errors are both cached, so checks that need
the same resource see the same answer and the API is asked once.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Hashable, Iterable
from concurrent.futures import Future
from typing import Any

from batch_health.aws import AwsSessions
from batch_health.config import Target

QUEUE_BATCH = 100  # describe_job_queues / describe_compute_environments accept up to 100
SSM_BATCH = 10  # get_parameters accepts up to 10 names
LOG_PREFIX_MIN = 4  # below this a shared prefix would list the whole account
LOG_PREFIX_MAX_PAGES = 5


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
                fut = Future()
                self._futures[key] = fut
        assert fut is not None
        if owner:
            try:
                fut.set_result(compute())
            except BaseException as exc:  # cached and re-raised to every caller
                fut.set_exception(exc)
        return fut.result()


class BatchedLookup:
    """Keys registered up front are fetched together by the first `get` that needs one."""

    def __init__(self, fetch_many: Callable[[list[str]], dict[str, Any]], max_batch: int) -> None:
        self._fetch_many = fetch_many
        self._max_batch = max_batch
        self._lock = threading.Lock()
        self._pending: list[str] = []
        self._futures: dict[str, Future[dict[str, Any]]] = {}

    def register(self, keys: Iterable[str]) -> None:
        with self._lock:
            for key in keys:
                if key not in self._futures and key not in self._pending:
                    self._pending.append(key)

    def get(self, key: str) -> Any:
        with self._lock:
            fut = self._futures.get(key)
            batch: list[str] = []
            if fut is None:
                others = [k for k in self._pending if k != key][: self._max_batch - 1]
                batch = [key, *others]
                self._pending = [k for k in self._pending if k not in batch]
                fut = Future()
                for k in batch:
                    self._futures[k] = fut
        if batch:
            try:
                fut.set_result(self._fetch_many(batch))
            except BaseException as exc:
                fut.set_exception(exc)
        return fut.result().get(key)


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


class _Account:
    """Batched lookups for one (region, role): one set of credentials, one endpoint."""

    def __init__(self, sessions: AwsSessions, region: str | None, role_arn: str | None) -> None:
        self.sessions = sessions
        self.region = region
        self.role_arn = role_arn
        self.once = Once()
        self.queues = BatchedLookup(self._fetch_queues, QUEUE_BATCH)
        self.compute_envs = BatchedLookup(self._fetch_compute_envs, QUEUE_BATCH)
        self.ssm = BatchedLookup(self._fetch_ssm, SSM_BATCH)
        self.log_groups = BatchedLookup(self._fetch_log_groups, 50)

    def client(self, service: str) -> Any:
        return self.sessions.client(service, self.region, self.role_arn)

    def _fetch_queues(self, names: list[str]) -> dict[str, Any]:
        found: dict[str, Any] = {}
        pages = self.client("batch").get_paginator("describe_job_queues").paginate(jobQueues=names)
        for page in pages:
            for q in page.get("jobQueues", []):
                found[q.get("jobQueueName", "")] = q
                found[q.get("jobQueueArn", "")] = q
                # Compute environments of every fetched queue go into the next CE batch.
                self.compute_envs.register(
                    ce["computeEnvironment"]
                    for ce in q.get("computeEnvironmentOrder") or []
                    if isinstance(ce, dict) and ce.get("computeEnvironment")
                )
        return found

    def _fetch_compute_envs(self, names: list[str]) -> dict[str, Any]:
        found: dict[str, Any] = {}
        paginator = self.client("batch").get_paginator("describe_compute_environments")
        for page in paginator.paginate(computeEnvironments=names):
            for ce in page.get("computeEnvironments", []):
                found[ce.get("computeEnvironmentName", "")] = ce
                found[ce.get("computeEnvironmentArn", "")] = ce
        return found

    def _fetch_ssm(self, names: list[str]) -> dict[str, Any]:
        resp = self.client("ssm").get_parameters(Names=names, WithDecryption=True)
        return {p["Name"]: p.get("Value") for p in resp.get("Parameters", [])}

    def _fetch_log_groups(self, names: list[str]) -> dict[str, Any]:
        """Exact-name matches, found with as few describe_log_groups calls as possible."""
        found: dict[str, Any] = {}
        logs = self.client("logs")
        paginator = logs.get_paginator("describe_log_groups")
        prefix = os.path.commonprefix(names)  # noqa: RUF071 - a string prefix is what the API takes
        if len(names) > 1 and len(prefix) >= LOG_PREFIX_MIN:
            pages = paginator.paginate(
                logGroupNamePrefix=prefix,
                PaginationConfig={"MaxItems": 50 * LOG_PREFIX_MAX_PAGES, "PageSize": 50},
            )
            wanted = set(names)
            for page in pages:
                for group in page.get("logGroups", []):
                    if group.get("logGroupName") in wanted:
                        found[group["logGroupName"]] = group
                if wanted <= found.keys():
                    break
        for name in names:
            if name in found:
                continue
            # A prefix query with the exact name; a hit on a longer name is not a match.
            for page in paginator.paginate(logGroupNamePrefix=name):
                for group in page.get("logGroups", []):
                    if group.get("logGroupName") == name:
                        found[name] = group
                if name in found:
                    break
        return found


def awslogs_group(job_definition: dict[str, Any]) -> str | None:
    """The awslogs group a job definition's containers log to (Batch's default applies)."""
    container = job_definition.get("containerProperties") or {}
    log_config = container.get("logConfiguration") or {}
    if log_config.get("logDriver", "awslogs") != "awslogs":
        return None
    return (log_config.get("options") or {}).get("awslogs-group") or "/aws/batch/job"


class Inventory:
    """The shared, fetch-once view of AWS for one suite run."""

    def __init__(self, sessions: AwsSessions) -> None:
        self.sessions = sessions
        self._lock = threading.Lock()
        self._accounts: dict[tuple[str | None, str | None], _Account] = {}

    def account(self, target: Target) -> _Account:
        key = (self.sessions.region_for(target.region), target.role_arn)
        with self._lock:
            if key not in self._accounts:
                self._accounts[key] = _Account(self.sessions, *key)
            return self._accounts[key]

    def register(self, targets: Iterable[Target], ssm_names: Callable[[Target], list[str]]) -> None:
        """Tell the batch lookups what this run will ask for."""
        for t in targets:
            acct = self.account(t)
            acct.queues.register([t.job_queue])
            if t.log_group:
                acct.log_groups.register([t.log_group])
            acct.ssm.register(ssm_names(t))

    def view(self, target: Target) -> TargetView:
        return TargetView(target, self.account(target))


class TargetView:
    """What the checks of one target read; every method is cached per run."""

    def __init__(self, target: Target, account: _Account) -> None:
        self.target = target
        self._acct = account
        self.region = account.region
        self.profile = account.sessions.profile

    def client(self, service: str) -> Any:
        return self._acct.client(service)

    def _once(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        return self._acct.once.get(key, compute)

    # --- identity -------------------------------------------------------------------
    def caller_identity(self) -> dict[str, Any]:
        return self._once(("sts",), lambda: self.client("sts").get_caller_identity())

    # --- Batch ----------------------------------------------------------------------
    def job_queue(self) -> dict[str, Any] | None:
        return self._acct.queues.get(self.target.job_queue)

    def compute_environment(self, name_or_arn: str) -> dict[str, Any] | None:
        return self._acct.compute_envs.get(name_or_arn)

    def compute_environments(self) -> list[tuple[dict[str, Any], dict[str, Any] | None]]:
        """(order entry, CE or None when missing) for every CE attached to the queue."""
        queue = self.job_queue() or {}
        entries = [e for e in queue.get("computeEnvironmentOrder") or [] if isinstance(e, dict)]
        entries.sort(key=lambda e: e.get("order", 0))
        return [(e, self.compute_environment(e.get("computeEnvironment", ""))) for e in entries]

    def job_definition(self) -> dict[str, Any] | None:
        """The latest ACTIVE revision (or the exact revision when one is configured)."""
        return self._once(("jobdef", self.target.job_definition), self._fetch_job_definition)

    def _fetch_job_definition(self) -> dict[str, Any] | None:
        jd = self._describe_job_definition()
        if jd is not None and not self.target.log_group:
            group = awslogs_group(jd)
            if group:
                # Let this target's log group join the next batched describe_log_groups.
                self._acct.log_groups.register([group])
        return jd

    def _describe_job_definition(self) -> dict[str, Any] | None:
        ref = self.target.job_definition
        paginator = self.client("batch").get_paginator("describe_job_definitions")
        if ref.startswith("arn:") or ":" in ref:
            pages = paginator.paginate(jobDefinitions=[ref])
        else:
            pages = paginator.paginate(jobDefinitionName=ref, status="ACTIVE")
        revisions = [
            jd
            for page in pages
            for jd in page.get("jobDefinitions", [])
            if jd.get("status", "ACTIVE") == "ACTIVE"
        ]
        return max(revisions, key=lambda jd: jd.get("revision", 0), default=None)

    def log_group_name(self) -> str | None:
        """The configured log group, else the job definition's awslogs-group."""
        if self.target.log_group:
            return self.target.log_group
        jd = self.job_definition()
        return awslogs_group(jd) if jd is not None else None

    def log_group(self, name: str) -> dict[str, Any] | None:
        return self._acct.log_groups.get(name)

    def ssm_parameter(self, name: str) -> str | None:
        return self._acct.ssm.get(name)

    def jobs(self, status: str, max_items: int = 500) -> list[dict[str, Any]]:
        """Job summaries in the target's queue with this status (bounded)."""

        def fetch() -> list[dict[str, Any]]:
            paginator = self.client("batch").get_paginator("list_jobs")
            pages = paginator.paginate(
                jobQueue=self.target.job_queue,
                jobStatus=status,
                PaginationConfig={"MaxItems": max_items},
            )
            return [j for page in pages for j in page.get("jobSummaryList", [])]

        return self._once(("jobs", self.target.job_queue, status), fetch)

    # --- IAM ------------------------------------------------------------------------
    def role(self, name: str) -> dict[str, Any] | None:
        def fetch() -> dict[str, Any] | None:
            iam = self.client("iam")
            try:
                return iam.get_role(RoleName=name)["Role"]
            except iam.exceptions.NoSuchEntityException:
                return None

        return self._once(("role", name), fetch)
