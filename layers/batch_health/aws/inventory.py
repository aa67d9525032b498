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
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

from batch_health.aws.concurrency import fan_out
from batch_health.aws.errors import AWS_ERRORS, classify
from batch_health.aws.iam_reads import IamReads
from batch_health.aws.log_reads import NEWEST_LOG_STREAMS, LogReads
from batch_health.aws.lookups import AccountLookups, chunks
from batch_health.aws.placement_reads import PlacementReads
from batch_health.aws.sessions import AwsSessions
from batch_health.aws.simulation import simulation_keys
from batch_health.config import Target
from batch_health.domain.execution_role import ExecutionRoleNeeds, execution_role_needs
from batch_health.domain.job_definition import JobDefinitionView
from batch_health.domain.queue_depth import QUEUE_DEPTH_STATUSES
from batch_health.domain.scope import DeploymentScope

__all__ = ["NEWEST_LOG_STREAMS", "Inventory", "TargetView", "job_definition_key"]


def job_definition_key(target: Target) -> tuple[str, str]:
    return ("jobdef", target.job_definition)


class Inventory:
    """The shared, fetch-once view of AWS for one suite run."""

    def __init__(
        self,
        sessions: AwsSessions,
        scope: DeploymentScope | None = None,
        *,
        queue_depth: bool = True,
    ) -> None:
        self.sessions = sessions
        self.scope = scope  # what the deployment may read; reads ahead stay inside it
        # The statuses `jobs_now` lists: all active ones for the gauges, else RUNNABLE.
        self.depth_statuses = QUEUE_DEPTH_STATUSES if queue_depth else ("RUNNABLE",)
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
        view = TargetView(target, self.account(target), self.scope)
        view.depth_statuses = self.depth_statuses
        return view


class TargetView(IamReads, LogReads, PlacementReads):
    """What the checks of one target read; every method is cached per run."""

    depth_statuses: tuple[str, ...] = QUEUE_DEPTH_STATUSES  # what `jobs_now` lists

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
            # Let its log groups and its execution roles' questions join the next batched
            # lookups (or tell them there are none coming, even when the describe failed).
            key = job_definition_key(self.target)
            groups = list(jd.log_groups) if jd is not None else []
            self._acct.log_groups.produced(key, groups)
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

    def execution_role_needs(self) -> list[ExecutionRoleNeeds]:
        """What each execution role of the job definition must be allowed, decrypting its
        secrets included where their keys are known (none without an execution role)."""
        jd = self.job_definition()
        keys = self.secret_keys().keys if jd is not None and jd.secrets else {}
        return execution_role_needs(self.target, jd, self.region, keys)

    def log_group_names(self) -> dict[str, tuple[str, ...]]:
        """The configured log group, else every awslogs group of the job definition's
        containers: name -> the containers writing to it (empty: none named)."""
        jd = self.job_definition()
        if self.target.log_group:
            wheres = tuple(c.where for cs in (jd.log_groups if jd else {}).values() for c in cs)
            return {self.target.log_group: wheres}
        if jd is None:
            return {}
        return {g: tuple(c.where for c in cs) for g, cs in jd.log_groups.items()}

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

    # --- Batch jobs -----------------------------------------------------------------
    JOBS_READ_CAP = 500  # job summaries read per status

    def jobs_now(self) -> tuple[dict[str, list[dict[str, Any]]], dict[str, str]]:
        """The queue's jobs in each active status (SUBMITTED to RUNNING), listed side by
        side; and the statuses that could not be listed, with why."""

        def listing(status: str) -> list[dict[str, Any]] | str:
            try:
                return self.jobs(status, self.JOBS_READ_CAP)
            except AWS_ERRORS as exc:
                return classify(exc).summary

        statuses = self.depth_statuses
        answers = fan_out([partial(listing, s) for s in statuses])
        listed = dict(zip(statuses, answers, strict=True))
        jobs = {s: a for s, a in listed.items() if isinstance(a, list)}
        return jobs, {s: a for s, a in listed.items() if isinstance(a, str)}

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

    # --- smoke submit: the queue's scheduling policy (SMOKE_SUBMIT_CHECK) ---------------
    def scheduling_policy(self) -> dict[str, Any] | None:
        """The queue's scheduling policy as described (None: the queue has none, or is
        missing; `{"arn": ...}` alone: DescribeSchedulingPolicies did not return it)."""
        queue = self.job_queue() or {}
        arn = queue.get("schedulingPolicyArn")
        if not isinstance(arn, str) or not arn:
            return None

        def fetch() -> dict[str, Any]:
            answer = self.client("batch").describe_scheduling_policies(arns=[arn])
            policies = [p for p in answer.get("schedulingPolicies") or [] if isinstance(p, dict)]
            found = [p for p in policies if p.get("arn") == arn] or policies[:1]
            return dict(found[0]) if found else {"arn": arn}

        return self._once(("scheduling_policy", arn), fetch)
