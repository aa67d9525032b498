"""Every AWS read the checks make, fetched once per run and shared.

`Inventory` is created per suite run. Lookups that the API accepts as lists (job queues,
compute environments, SSM parameters, log groups by common prefix) are batched across all
targets that share credentials and region: the first target that needs its queue fetches
every registered queue in one call. Results and errors are both cached, so checks that need
the same resource see the same answer and the API is asked once.

The engine runs many tasks at once and bounds how many of them work at a time (its work
slots). A task that needs data another task is fetching waits without holding its slot;
a prefetch (`prefetching()`) does not wait at all: it raises `Pending`, and the engine
resumes it when the data is in. So waiting for shared data never keeps a fetch from running.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Hashable, Iterable, Iterator
from concurrent.futures import Future, wait
from contextvars import ContextVar
from typing import Any, NamedTuple

from batch_health.aws import AwsSessions, ClientKey
from batch_health.config import Target
from batch_health.execution_role import Requirement, execution_role_requirements
from batch_health.iam_policy import PolicyDocument, parse_document

QUEUE_BATCH = 100  # describe_job_queues / describe_compute_environments accept up to 100
SSM_BATCH = 10  # get_parameters accepts up to 10 names
LOG_GROUP_BATCH = 50  # names per batched log group lookup (one describe_log_groups page)
SIMULATION_BATCH = 50  # (role, actions, resource) questions per batched simulation
# Said of an action the simulator did not answer for a resource: undetermined, never allowed.
NO_SIMULATOR_ANSWER = "(no simulator answer for this resource)"
LOG_PREFIX_MIN = 4  # below this a shared prefix would list the whole account
LOG_PREFIX_MAX_PAGES = 5
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


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


class _Account:
    """Batched lookups for one (region, role, external id): one set of credentials, one endpoint."""

    def __init__(
        self,
        sessions: AwsSessions,
        region: str | None,
        role_arn: str | None,
        external_id: str | None = None,
    ) -> None:
        self.sessions = sessions
        self.region = region
        self.role_arn = role_arn
        self.external_id = external_id
        self.once = Once()
        self.queues = BatchedLookup(self._fetch_queues, QUEUE_BATCH)
        self.compute_envs = BatchedLookup(self._fetch_compute_envs, QUEUE_BATCH)
        self.ssm = BatchedLookup(self._fetch_ssm, SSM_BATCH)
        self.log_groups = BatchedLookup(self._fetch_log_groups, LOG_GROUP_BATCH, complete=False)
        # One simulation per role: the roles' simulations go side by side.
        self.simulations = BatchedLookup(
            self._simulate_many, SIMULATION_BATCH, partition=lambda key: key.principal
        )

    def client_key(self, service: str) -> ClientKey:
        return ClientKey(service, self.region, self.role_arn, self.external_id)

    def client(self, service: str) -> Any:
        return self.sessions.client(*self.client_key(service))

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

    def _simulate_many(self, keys: list[SimulationKey]) -> dict[SimulationKey, Any]:
        """One iam:SimulatePrincipalPolicy per role, with every action and resource of every
        target asking (the simulator evaluates each action on each resource). A failed
        simulation is the answer to each of its questions: the check that asked then
        evaluates the role's policies itself."""
        by_role: dict[str, list[SimulationKey]] = {}
        for key in keys:
            by_role.setdefault(key.principal, []).append(key)
        found: dict[SimulationKey, Any] = {}
        for principal, asked in by_role.items():
            actions = list(dict.fromkeys(a for key in asked for a in key.actions))
            resources = list(dict.fromkeys(key.resource for key in asked))
            try:
                results = self._simulate(principal, actions, resources)
            except Exception as exc:  # raised again to every check that asked
                found.update(dict.fromkeys(asked, exc))
                continue
            for key in asked:
                found[key] = simulation_answers(
                    results, key.actions, key.resource, alone=len(resources) == 1
                )
        return found

    def _simulate(
        self, principal: str, actions: list[str], resources: list[str]
    ) -> list[dict[str, Any]]:
        iam = self.client("iam")
        # A failed simulation falls back to local evaluation at once: retrying it only
        # spends the time budget (emulators answer 500 for it).
        iam.meta.events.register_first(
            "needs-retry.iam.SimulatePrincipalPolicy",
            _never_retry,
            unique_id="batch-health-simulate-no-retry",
        )
        pages = iam.get_paginator("simulate_principal_policy").paginate(
            PolicySourceArn=principal, ActionNames=actions, ResourceArns=resources
        )
        return [r for page in pages for r in page.get("EvaluationResults", [])]

    def _fetch_log_groups(self, names: list[str]) -> dict[str, Any]:
        """Exact-name matches: name -> group, or None when the answer shows it is missing.

        One name: a prefix query with the name itself. Several: one prefix query per folder
        (`/aws/batch/...`) holding two or more of them, with their common prefix; a name the
        listing could not settle (a folder of one, or a listing cut at LOG_PREFIX_MAX_PAGES)
        is left out, and BatchedLookup fetches it alone, in parallel with the others.
        """
        if len(names) == 1:
            return self._list_log_groups(names[0], names, max_pages=None)
        folders: dict[str, list[str]] = {}
        for name in names:
            folders.setdefault(name.rsplit("/", 1)[0], []).append(name)
        found: dict[str, Any] = {}
        for group in folders.values():
            prefix = os.path.commonprefix(group)  # noqa: RUF071 - the API takes a string prefix
            if len(group) > 1 and len(prefix) >= LOG_PREFIX_MIN:
                found.update(self._list_log_groups(prefix, group, LOG_PREFIX_MAX_PAGES))
        return found

    def _list_log_groups(
        self, prefix: str, names: list[str], max_pages: int | None
    ) -> dict[str, Any]:
        """`names` (all starting with `prefix`) found in one listing; None for those shown
        missing by a listing that ran to its end."""
        paginator = self.client("logs").get_paginator("describe_log_groups")
        config = {"PageSize": 50} | ({"MaxItems": 50 * max_pages} if max_pages else {})
        pages = paginator.paginate(logGroupNamePrefix=prefix, PaginationConfig=config)
        wanted = set(names)
        found: dict[str, Any] = {}
        exhausted = True
        for page in pages:
            for group in page.get("logGroups", []):
                if group.get("logGroupName") in wanted:
                    found[group["logGroupName"]] = group
            if wanted <= found.keys():
                break
        else:
            # The paginator stops at MaxItems with a token left: the rest is unknown.
            exhausted = pages.resume_token is None
        if exhausted:
            found.update({name: None for name in wanted - found.keys()})
        return found


def awslogs_group(job_definition: dict[str, Any]) -> str | None:
    """The awslogs group a job definition's containers log to (Batch's default applies)."""
    container = job_definition.get("containerProperties") or {}
    log_config = container.get("logConfiguration") or {}
    if log_config.get("logDriver", "awslogs") != "awslogs":
        return None
    return (log_config.get("options") or {}).get("awslogs-group") or "/aws/batch/job"


def job_definition_key(target: Target) -> tuple[str, str]:
    return ("jobdef", target.job_definition)


class SimulationKey(NamedTuple):
    """One question for the IAM simulator: may `principal` do `actions` on `resource`?"""

    principal: str
    actions: tuple[str, ...]
    resource: str


def job_execution_requirements(
    target: Target, job_definition: dict[str, Any] | None, region: str | None
) -> tuple[str, list[Requirement]]:
    """The job definition's execution role ARN ("" when none) and what it must be allowed
    for the target's jobs: what IAM_CHECK evaluates, and asks the simulator about."""
    if not isinstance(job_definition, dict):
        return "", []
    container = job_definition.get("containerProperties")
    if not isinstance(container, dict):
        return "", []
    role = container.get("executionRoleArn")
    if not isinstance(role, str) or not role:
        return "", []
    return role, execution_role_requirements(
        execution_role_arn=role,
        image=str(container.get("image") or ""),
        log_group=target.log_group or awslogs_group(job_definition),
        region=region or "",
    )


def simulation_keys(
    target: Target, job_definition: dict[str, Any] | None, region: str | None
) -> list[SimulationKey]:
    """What IAM_CHECK will ask the simulator about this target's execution role."""
    role, requirements = job_execution_requirements(target, job_definition, region)
    return [SimulationKey(role, r.actions, r.resource) for r in requirements]


def simulation_answers(
    results: list[dict[str, Any]], actions: tuple[str, ...], resource: str, *, alone: bool
) -> list[dict[str, Any]]:
    """Per action, the simulator's answer for `resource`, shaped as for a single resource.

    Today's simulator answers one result per action, with each resource's decision in
    ResourceSpecificResults; older answers had one result per action and resource. With
    one resource asked about (`alone`), the top-level decision is that resource's. An action
    left unanswered for the resource is undetermined, never allowed.
    """
    answers = []
    for action in actions:
        answer = None
        for result in results:
            if str(result.get("EvalActionName", "")).lower() != action.lower():
                continue
            specific = next(
                (
                    r
                    for r in result.get("ResourceSpecificResults") or []
                    if r.get("EvalResourceName") == resource
                ),
                None,
            )
            if specific is not None:
                answer = {
                    "EvalActionName": action,
                    "EvalDecision": specific.get("EvalResourceDecision"),
                    "MatchedStatements": specific.get("MatchedStatements") or [],
                    "MissingContextValues": specific.get("MissingContextValues") or [],
                }
            elif alone or result.get("EvalResourceName") == resource:
                answer = dict(result)
            if answer is not None:
                break
        if answer is None:
            answer = {
                "EvalActionName": action,
                "EvalDecision": "implicitDeny",
                "MissingContextValues": [NO_SIMULATOR_ANSWER],
            }
        answers.append({**answer, "EvalResourceName": resource})
    return answers


class Inventory:
    """The shared, fetch-once view of AWS for one suite run."""

    def __init__(self, sessions: AwsSessions) -> None:
        self.sessions = sessions
        self._lock = threading.Lock()
        self._accounts: dict[tuple[str | None, str | None, str | None], _Account] = {}

    def account(self, target: Target) -> _Account:
        key = (self.sessions.region_for(target.region), target.role_arn, target.external_id)
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
            else:
                # Its log group is named by its job definition: batch it with the others.
                acct.log_groups.expect(job_definition_key(t))
            acct.ssm.register(ssm_names(t))
            # Its execution role's questions are named by its job definition.
            acct.simulations.expect(job_definition_key(t))

    def view(self, target: Target) -> TargetView:
        return TargetView(target, self.account(target))


class TargetView:
    """What the checks of one target read; every method is cached per run."""

    def __init__(self, target: Target, account: _Account) -> None:
        self.target = target
        self._acct = account
        self.region = account.region
        self.profile = account.sessions.profile

    def client_key(self, service: str) -> ClientKey:
        """Which client `client(service)` is (the account's: region, role, external id)."""
        return self._acct.client_key(service)

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
        return self._once(job_definition_key(self.target), self._fetch_job_definition)

    def _fetch_job_definition(self) -> dict[str, Any] | None:
        jd = None
        try:
            jd = self._describe_job_definition()
            return jd
        finally:
            # Let its log group and its execution role's questions join the next batched
            # lookups (or tell them there are none coming, even when the describe failed).
            key = job_definition_key(self.target)
            group = awslogs_group(jd) if jd is not None else None
            self._acct.log_groups.produced(key, [group] if group else [])
            self._acct.simulations.produced(key, simulation_keys(self.target, jd, self.region))

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

    def execution_role_requirements(self) -> list[Requirement]:
        """What the job definition's execution role must be allowed (none without one)."""
        return job_execution_requirements(self.target, self.job_definition(), self.region)[1]

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

    def role_policy_documents(self, role_name: str) -> list[PolicyDocument]:
        """A role's identity policies: attached managed (default version) and inline."""

        def fetch() -> list[PolicyDocument]:
            iam = self.client("iam")
            docs: list[PolicyDocument] = []
            attached = iam.get_paginator("list_attached_role_policies")
            for page in attached.paginate(RoleName=role_name):
                for policy in page.get("AttachedPolicies", []):
                    arn = policy["PolicyArn"]
                    source = f"managed policy {policy.get('PolicyName') or arn}"
                    docs.append(PolicyDocument(source, self.managed_policy_document(arn)))
            for page in iam.get_paginator("list_role_policies").paginate(RoleName=role_name):
                for name in page.get("PolicyNames", []):
                    doc = iam.get_role_policy(RoleName=role_name, PolicyName=name)["PolicyDocument"]
                    docs.append(PolicyDocument(f"inline policy {name}", parse_document(doc)))
            return docs

        return self._once(("role_policies", role_name), fetch)

    def managed_policy_document(self, policy_arn: str) -> dict[str, Any]:
        """The default version of a managed policy (shared by every role it is attached to)."""

        def fetch() -> dict[str, Any]:
            iam = self.client("iam")
            version = iam.get_policy(PolicyArn=policy_arn)["Policy"]["DefaultVersionId"]
            doc = iam.get_policy_version(PolicyArn=policy_arn, VersionId=version)
            return parse_document(doc["PolicyVersion"]["Document"])

        return self._once(("managed_policy", policy_arn), fetch)

    def simulate_principal_policy(
        self, principal_arn: str, actions: tuple[str, ...], resource_arn: str
    ) -> list[dict[str, Any]]:
        """iam:SimulatePrincipalPolicy's answer, per action, for one resource ARN (asked
        together with the other targets' resources of the same role and actions)."""
        answer = self._acct.simulations.get(
            SimulationKey(principal_arn, tuple(actions), resource_arn)
        )
        if isinstance(answer, BaseException):
            raise answer
        return list(answer)

    def job_definition_roles(self) -> dict[str, dict[str, Any] | None]:
        """The job definition's executionRoleArn/jobRoleArn -> role (None when missing)."""
        container = (self.job_definition() or {}).get("containerProperties") or {}
        arns = [container.get(k) for k in ("executionRoleArn", "jobRoleArn")]
        return {arn: self.role(role_name_from_arn(arn)) for arn in arns if arn}

    # --- CloudWatch Logs ------------------------------------------------------------
    def job_log_group(self) -> dict[str, Any] | None:
        """The target's log group as described (None: missing, or no awslogs group)."""
        name = self.log_group_name()
        return self.log_group(name) if name else None

    def newest_log_streams(self, group: str, limit: int = 3) -> list[dict[str, Any]]:
        """The streams with the most recent events, newest first."""

        def fetch() -> list[dict[str, Any]]:
            resp = self.client("logs").describe_log_streams(
                logGroupName=group, orderBy="LastEventTime", descending=True, limit=limit
            )
            return list(resp.get("logStreams", []))

        return self._once(("log_streams", group, limit), fetch)

    def recent_log_events(self, group: str, stream: str, limit: int) -> list[dict[str, Any]]:
        """Up to `limit` newest events of a stream, oldest first."""

        def fetch() -> list[dict[str, Any]]:
            resp = self.client("logs").get_log_events(
                logGroupName=group, logStreamName=stream, limit=limit, startFromHead=False
            )
            return list(resp.get("events", []))

        return self._once(("log_events", group, stream, limit), fetch)

    # --- Batch jobs -----------------------------------------------------------------
    def runnable_jobs(self) -> list[dict[str, Any]]:
        return self.jobs("RUNNABLE")

    def failed_jobs(self) -> list[dict[str, Any]]:
        return self.jobs("FAILED")

    def succeeded_jobs(self) -> list[dict[str, Any]]:
        return self.jobs("SUCCEEDED")

    def describe_jobs(self, job_ids: tuple[str, ...]) -> list[dict[str, Any]]:
        """Full descriptions of these jobs (describe_jobs takes up to 100 ids a call)."""

        def fetch() -> list[dict[str, Any]]:
            batch = self.client("batch")
            return [
                job
                for chunk in _chunks(list(job_ids), 100)
                for job in batch.describe_jobs(jobs=chunk).get("jobs", [])
            ]

        return self._once(("describe_jobs", job_ids), fetch)

    def poll_job(self, job_id: str) -> dict[str, Any] | None:
        """The job's current description; not cached, since every call is a new poll."""
        jobs = self.client("batch").describe_jobs(jobs=[job_id]).get("jobs", [])
        return jobs[0] if jobs else None


def _never_retry(**_: Any) -> bool:
    # False (not None) from the first needs-retry handler tells botocore not to retry.
    return False


def role_name_from_arn(arn: str) -> str:
    """`arn:aws:iam::123:role/path/name` -> `name` (GetRole takes the name without path)."""
    _, sep, rest = arn.partition(":role/")
    return rest.rsplit("/", 1)[-1] if sep else ""
