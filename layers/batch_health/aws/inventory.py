"""Every AWS read the checks make, fetched once per run and shared.

`Inventory` is created per suite run; `TargetView` is what the checks of one target read.
Results and errors are both cached, so checks that need the same resource see the same
answer and the API is asked once; reads the API accepts as lists are batched across the
targets of one account (batch_health.aws.lookups).

A read starts as soon as what it needs is known, not after the reads a check makes before
it: the job definition names the roles, the log group and the simulator's questions, and
each of those reads goes at once, side by side (the engine prefetches the `TargetView`
methods the checks list in `needs`; `fan_out` splits one fetch into independent reads).
Reads made ahead of knowing whether they will be used are marked speculative where they are.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterable
from functools import partial
from typing import Any

from batch_health.aws.concurrency import fan_out
from batch_health.aws.lookups import AccountLookups, chunks
from batch_health.aws.sessions import AwsSessions, ClientKey
from batch_health.aws.simulation import SimulationKey, simulation_keys
from batch_health.config import Target
from batch_health.domain.arns import role_name_from_arn
from batch_health.domain.execution_role import Requirement, requirements_for
from batch_health.domain.iam_policy import PolicyDocument, parse_document
from batch_health.domain.job_definition import JobDefinitionView
from batch_health.domain.scope import DeploymentScope

# LOG_CONTENT_CHECK reads the events of at most this many streams, newest first.
NEWEST_LOG_STREAMS = 3


def job_definition_key(target: Target) -> tuple[str, str]:
    return ("jobdef", target.job_definition)


class Inventory:
    """The shared, fetch-once view of AWS for one suite run."""

    def __init__(self, sessions: AwsSessions, scope: DeploymentScope | None = None) -> None:
        self.sessions = sessions
        self.scope = scope  # what the deployment may read; reads ahead stay inside it
        self._lock = threading.Lock()
        self._accounts: dict[tuple[str | None, str | None, str | None], AccountLookups] = {}

    def account(self, target: Target) -> AccountLookups:
        key = (self.sessions.region_for(target.region), target.role_arn, target.external_id)
        with self._lock:
            if key not in self._accounts:
                self._accounts[key] = AccountLookups(self.sessions, *key)
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
        return TargetView(target, self.account(target), self.scope)


class TargetView:
    """What the checks of one target read; every method is cached per run."""

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

    def job_definition(self) -> JobDefinitionView | None:
        """The latest ACTIVE revision (or the exact revision when one is configured)."""
        return self._once(job_definition_key(self.target), self._fetch_job_definition)

    def _fetch_job_definition(self) -> JobDefinitionView | None:
        jd = None
        try:
            answer = self._describe_job_definition()
            jd = JobDefinitionView.parse(answer) if answer is not None else None
            return jd
        finally:
            # Let its log group and its execution role's questions join the next batched
            # lookups (or tell them there are none coming, even when the describe failed).
            key = job_definition_key(self.target)
            group = jd.awslogs_group if jd is not None else None
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
        return requirements_for(self.target, self.job_definition(), self.region)[1]

    def log_group_name(self) -> str | None:
        """The configured log group, else the job definition's awslogs-group."""
        if self.target.log_group:
            return self.target.log_group
        jd = self.job_definition()
        return jd.awslogs_group if jd is not None else None

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
        """A role's identity policies: attached managed (default version), then inline. The
        two lists, and the documents of each, are read side by side."""

        def fetch() -> list[PolicyDocument]:
            attached, inline = fan_out(
                [
                    lambda: self._attached_policies(role_name),
                    lambda: self._inline_policies(role_name),
                ]
            )
            return attached + inline

        return self._once(("role_policies", role_name), fetch)

    def _attached_policies(self, role_name: str) -> list[PolicyDocument]:
        pages = self.client("iam").get_paginator("list_attached_role_policies")
        attached = [
            p
            for page in pages.paginate(RoleName=role_name)
            for p in page.get("AttachedPolicies", [])
        ]
        documents = fan_out(
            [partial(self.managed_policy_document, p["PolicyArn"]) for p in attached]
        )
        return [
            PolicyDocument(f"managed policy {p.get('PolicyName') or p['PolicyArn']}", doc)
            for p, doc in zip(attached, documents, strict=True)
        ]

    def _inline_policies(self, role_name: str) -> list[PolicyDocument]:
        iam = self.client("iam")
        pages = iam.get_paginator("list_role_policies").paginate(RoleName=role_name)
        names = [name for page in pages for name in page.get("PolicyNames", [])]

        def document(name: str) -> dict[str, Any]:
            doc = iam.get_role_policy(RoleName=role_name, PolicyName=name)["PolicyDocument"]
            return parse_document(doc)

        documents = fan_out([partial(document, name) for name in names])
        return [
            PolicyDocument(f"inline policy {name}", doc)
            for name, doc in zip(names, documents, strict=True)
        ]

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

    # Reads ahead for IAM_CHECK: each goes as soon as the job definition names its role.
    def execution_role(self) -> dict[str, Any] | None:
        return self._job_definition_role("execution role")

    def job_role(self) -> dict[str, Any] | None:
        return self._job_definition_role("job role")

    def _job_definition_role(self, label: str) -> dict[str, Any] | None:
        jd = self.job_definition()
        name = role_name_from_arn(jd.roles.get(label) or "") if jd is not None else ""
        return self.role(name) if name else None

    def execution_role_simulation(self) -> list[dict[str, Any]]:
        """The simulator's answers for what the execution role must be allowed (one call per
        role, for every target of the role)."""
        role, requirements = requirements_for(self.target, self.job_definition(), self.region)
        return [
            answer
            for r in requirements
            for answer in self.simulate_principal_policy(role, r.actions, r.resource)
        ]

    def execution_role_policies(self) -> list[PolicyDocument] | None:
        """The execution role's policies, for the local evaluation should the simulator not
        answer. Speculative: read alongside the simulation, not after its refusal; where
        the simulator answers (AWS, once permitted) they are not needed, so they are not
        read for a role whose simulation answered before (in this process)."""
        role, requirements = requirements_for(self.target, self.job_definition(), self.region)
        if not requirements or role in self._acct.sessions.simulator_answered:
            return None
        return self.role_policy_documents(role_name_from_arn(role))

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

    def job_log_streams(self) -> list[dict[str, Any]] | None:
        """The newest streams of the target's log group, read as soon as its name is known,
        beside the group's own describe. Speculative: when the group turns out missing, this
        read (an error) is not used. Never outside what the deployment may read."""
        name = self.log_group_name()
        if not name or (self.scope and self.scope.log_read_problem(self.target, name)):
            return None
        return self.newest_log_streams(name, NEWEST_LOG_STREAMS)

    def job_log_events(self) -> list[dict[str, Any]] | None:
        """The newest stream's recent events: LOG_CONTENT_CHECK's first read of events (it
        reads an older stream only when this one has fewer events than it scans)."""
        streams = self.job_log_streams()
        name = self.log_group_name()
        if not streams or not name:
            return None
        stream = streams[0].get("logStreamName", "")
        return self.recent_log_events(name, stream, self.target.thresholds.log_scan_events)

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
                for chunk in chunks(list(job_ids), 100)
                for job in batch.describe_jobs(jobs=chunk).get("jobs", [])
            ]

        return self._once(("describe_jobs", job_ids), fetch)

    def poll_job(self, job_id: str) -> dict[str, Any] | None:
        """The job's current description; not cached, since every call is a new poll."""
        jobs = self.client("batch").describe_jobs(jobs=[job_id]).get("jobs", [])
        return jobs[0] if jobs else None
