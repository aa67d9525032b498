"""A target's placement reads: what each compute environment of its queue offers a job
(part of `TargetView`), read once a run and shared by every check that asks.

For each environment (batch_health.domain.instance_types.EnvironmentFacts):
- its allowed instance types, described (ec2:DescribeInstanceTypes, batched across the
  account's environments, batch_health.aws.ec2_reads); for an UNMANAGED environment, the
  types of the instances registered to its cluster (their `ecs.instance-type` attribute,
  https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-placement-constraints.html);
- the Availability Zones of its subnets (ec2:DescribeSubnets) and the zones that offer each
  type (ec2:DescribeInstanceTypeOfferings);
- the vCPU quotas its instances or tasks count against (servicequotas:GetServiceQuota, one
  call per quota code, shared by the account's environments).
A read that fails is not a guess: the fact stays unread, with the failure's words, and the
analysis says which check it could not make. And the queue's front (batch:GetJobQueueSnapshot:
"the first 100 RUNNABLE jobs", in dispatch order,
https://docs.aws.amazon.com/batch/latest/APIReference/API_GetJobQueueSnapshot.html).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from batch_health.aws.concurrency import fan_out
from batch_health.aws.ecs_reads import EcsReads
from batch_health.aws.errors import AWS_ERRORS, classify
from batch_health.domain import instance_types as types_
from batch_health.domain.instance_types import EnvironmentFacts, Platform
from batch_health.domain.service_quotas import quota_values_from, quotas_for

INSTANCE_TYPE_ATTRIBUTE = "ecs.instance-type"


def _why(action: str, exc: BaseException) -> str:
    return f"{action} failed: {classify(exc).summary}"


def _read(action: str, fact: str, unread: dict[str, str], read: Callable[[], Any]) -> Any | None:
    """`read()`, or None with `unread[fact]` saying why."""
    try:
        return read()
    except AWS_ERRORS as exc:
        unread[fact] = _why(action, exc)
        return None


def _families(allowed: tuple[str, ...]) -> list[str]:
    """The families and exact types `instanceTypes` names, categories expanded."""
    return [f for token in allowed for f in types_.CATEGORIES.get(token, (token,))]


class PlacementReads(EcsReads):
    def placement_environments(self) -> list[EnvironmentFacts]:
        """The queue's compute environments in its order, with what each offers (those
        DescribeComputeEnvironments did not return are left to CE_CHECK)."""
        return self._once(("placement", self.target.job_queue), self._placement_environments)

    def _placement_environments(self) -> list[EnvironmentFacts]:
        return [self.environment_facts(ce) for _, ce in self.compute_environments() if ce]

    def environment_facts(self, ce: dict[str, Any]) -> EnvironmentFacts:
        env = EnvironmentFacts.from_describe(ce)
        return self._once(("environment_facts", env.arn or env.name), lambda: self._facts(ce))

    def _facts(self, ce: dict[str, Any]) -> EnvironmentFacts:
        env = EnvironmentFacts.from_describe(ce)
        unread: dict[str, str] = {}
        if env.platform is Platform.FARGATE:
            fargate = self._quota_values(env, [], unread)
            return env.with_facts(vcpu_quotas=fargate, unread=unread)
        # Three independent reads side by side: the types (then the zones offering them),
        # the subnets' zones, and the quotas, whose classes follow from the allowed
        # families (an UNMANAGED environment's from its instances' types, read first).
        typed: dict[str, Any] = {}

        def types_and_offerings() -> None:
            described = _read(
                "ec2:DescribeInstanceTypes",
                types_.INSTANCE_TYPES,
                unread,
                lambda: self._instance_types(env, ce, unread),
            )
            names = [t.name for t in described or ()]
            typed.update(instance_types=described, names=names)
            typed["offerings"] = _read(
                "ec2:DescribeInstanceTypeOfferings",
                types_.OFFERINGS,
                unread,
                lambda: self._offerings(names),
            )

        def zones() -> None:
            typed["subnet_azs"] = _read(
                "ec2:DescribeSubnets",
                types_.SUBNET_AZS,
                unread,
                lambda: {s: z for s in env.subnets if (z := self._acct.subnet_zones.get(s))},
            )

        families = _families(env.allowed)

        def quotas() -> None:
            typed["vcpu_quotas"] = self._quota_values(env, families, unread)

        reads: list[Callable[[], None]] = [types_and_offerings, zones]
        if families:
            reads.append(quotas)
        fan_out(reads)
        if not families:
            typed["vcpu_quotas"] = self._quota_values(env, typed["names"], unread)
        return env.with_facts(
            instance_types=typed["instance_types"],
            subnet_azs=typed["subnet_azs"],
            offerings=typed["offerings"],
            vcpu_quotas=typed["vcpu_quotas"],
            unread=unread,
        )

    def _instance_types(
        self, env: EnvironmentFacts, ce: dict[str, Any], unread: dict[str, str]
    ) -> tuple[types_.InstanceType, ...] | None:
        if env.type == "UNMANAGED":
            names = self._unmanaged_types(ce, unread)
            if names is None:
                return None
            filters = names
        else:
            filters = types_.describe_filters(env.allowed)
        self._acct.instance_types.register(filters)
        entries = [e for f in filters for e in self._acct.instance_types.get(f) or ()]
        return types_.instance_types_from([{"InstanceTypes": entries}])

    def _unmanaged_types(self, ce: dict[str, Any], unread: dict[str, str]) -> list[str] | None:
        cluster = str(ce.get("ecsClusterArn") or "")
        if not cluster:
            unread[types_.INSTANCE_TYPES] = "the environment names no ECS cluster"
            return None
        instances = _read(
            "ecs:DescribeContainerInstances",
            types_.INSTANCE_TYPES,
            unread,
            lambda: self.container_instances(cluster),
        )
        if instances is None:
            return None
        names = {
            str(a.get("value"))
            for i in instances
            if i.get("status") == "ACTIVE"
            for a in i.get("attributes") or []
            if a.get("name") == INSTANCE_TYPE_ATTRIBUTE and a.get("value")
        }
        return sorted(names)

    def _offerings(self, names: list[str]) -> dict[str, frozenset[str]]:
        """Zone -> the types (of `names`) offered there."""
        self._acct.offerings.register(names)
        zones: dict[str, set[str]] = {}
        for name in names:
            for zone in self._acct.offerings.get(name) or ():
                zones.setdefault(zone, set()).add(name)
        return {z: frozenset(n) for z, n in zones.items()}

    def _quota_values(
        self, env: EnvironmentFacts, names: list[str], unread: dict[str, str]
    ) -> dict[str, float] | None:
        """Quota code -> value for the quotas the environment's instances count against;
        None when none could be read (`unread` says why)."""
        answers, failures = [], []
        for quota in quotas_for(env.type, names):
            try:
                answers.append(self.service_quota(quota.service_code, quota.code))
            except AWS_ERRORS as exc:
                failures.append(f"{quota.code}: {classify(exc).summary}")
        if failures and not answers:
            unread[types_.VCPU_QUOTAS] = "servicequotas:GetServiceQuota failed: " + "; ".join(
                failures[:3]
            )
            return None
        return quota_values_from(answers)

    def service_quota(self, service_code: str, quota_code: str) -> dict[str, Any]:
        """GetServiceQuota's answer (the account's applied value), once per run."""
        return self._once(
            ("service_quota", service_code, quota_code),
            lambda: self.client("service-quotas").get_service_quota(
                ServiceCode=service_code, QuotaCode=quota_code
            ),
        )

    def queue_front(self) -> list[dict[str, Any]]:
        """The first RUNNABLE jobs of the queue in dispatch order (GetJobQueueSnapshot's
        `frontOfQueue.jobs`: `jobArn`, `earliestTimeAtPosition`)."""

        def fetch() -> list[dict[str, Any]]:
            answer = self.client("batch").get_job_queue_snapshot(jobQueue=self.target.job_queue)
            jobs = (answer.get("frontOfQueue") or {}).get("jobs") or []
            return [j for j in jobs if isinstance(j, dict) and j.get("jobArn")]

        return self._once(("queue_front", self.target.job_queue), fetch)
