"""The batched lookups of one account: one set of credentials, one region, one endpoint.

Lookups that the API accepts as lists (job queues, compute environments, SSM parameters,
log groups by common prefix, one IAM simulation per role, and the EC2 instance types,
subnets and offerings of the placement analysis) are batched across every
target read with the same credentials: the first target that needs its queue fetches every
registered queue in one call.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from batch_health.aws import ec2_reads
from batch_health.aws.concurrency import BatchedLookup, Once
from batch_health.aws.sessions import AwsSessions, ClientKey
from batch_health.aws.simulation import SimulationKey, simulate, simulation_answers
from batch_health.domain.instance_types import describe_filters

QUEUE_BATCH = 100  # describe_job_queues / describe_compute_environments accept up to 100
SSM_BATCH = 10  # get_parameters accepts up to 10 names
LOG_GROUP_BATCH = 50  # names per batched log group lookup (one describe_log_groups page)
SIMULATION_BATCH = 50  # (role, actions, resource) questions per batched simulation
LOG_PREFIX_MIN = 4  # below this a shared prefix would list the whole account
LOG_PREFIX_MAX_PAGES = 5


def chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


class AccountLookups:
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
        # The placement analysis: every compute environment's instance types and subnets.
        batch = ec2_reads.FILTER_VALUES_MAX
        self.instance_types = BatchedLookup(
            lambda v: ec2_reads.fetch_instance_types(self.client("ec2"), v), batch
        )
        self.subnet_zones = BatchedLookup(
            lambda s: ec2_reads.fetch_subnet_zones(self.client("ec2"), s), batch
        )
        self.offerings = BatchedLookup(
            lambda t: ec2_reads.fetch_offerings(self.client("ec2"), t), batch
        )
        # One simulation per role: the roles' simulations go side by side.
        self.simulations = BatchedLookup(
            self._simulate_many, SIMULATION_BATCH, partition=lambda key: key.principal
        )

    def client_key(self, service: str) -> ClientKey:
        return ClientKey(service, self.region, self.role_arn, self.external_id)

    def client(self, service: str) -> Any:
        return self.sessions.client(service, self.region, self.role_arn, self.external_id)

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
                # Their instance types and subnets go into the next placement batches.
                resources = ce.get("computeResources") or {}
                if str(resources.get("type", "")).startswith("FARGATE"):
                    continue  # Fargate places by task size, not by instance type
                self.instance_types.register(describe_filters(resources.get("instanceTypes") or []))
                self.subnet_zones.register(resources.get("subnets") or [])
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
                results = simulate(self.client("iam"), principal, actions, resources)
            except Exception as exc:  # raised again to every check that asked
                found.update(dict.fromkeys(asked, exc))
                self.sessions.simulator_answered.discard(principal)
                continue
            self.sessions.simulator_answered.add(principal)
            for key in asked:
                found[key] = simulation_answers(
                    results, key.actions, key.resource, alone=len(resources) == 1
                )
        return found

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
