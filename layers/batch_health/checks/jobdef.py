"""JOBDEF_CHECK: the latest ACTIVE job definition revision can run and be observed, whatever
its shape (one container, several, multi-node, EKS): each fault names its container, task
or node range (batch_health.domain.job_problems)."""

from __future__ import annotations

from typing import Any

from batch_health.checks.base import Check, CheckContext
from batch_health.checks.placement import queue_environments
from batch_health.domain.job_definition import MULTI_NODE, SINGLE_CONTAINER, JobDefinitionView
from batch_health.domain.job_parts import Container
from batch_health.domain.job_problems import HOST_LOG_DRIVERS, job_definition_problems
from batch_health.domain.placement import JobNeeds, Placement, Verdict, judge
from batch_health.domain.placement_report import fixes, unchecked
from batch_health.models import CheckResult


def _log_of(c: Container) -> str:
    if c.log is None:
        return "pod logs (no ECS log driver)"
    return c.log.group or c.log.driver


def job_definition_facts(jd: JobDefinitionView) -> dict[str, Any]:
    facts: dict[str, Any] = {
        "jobDefinitionArn": jd.arn,
        "revision": jd.revision,
        "type": jd.type or "UNKNOWN",
        "shape": jd.shape or "UNKNOWN",
        "platformCapabilities": list(jd.platform_capabilities),
        "image": jd.image,
        "executionRoleArn": jd.execution_role_arn,
        "jobRoleArn": jd.job_role_arn,
        "logDriver": jd.log_driver or ("none (EKS)" if jd.eks_pod else "awslogs (default)"),
        "logGroup": jd.awslogs_group or "",
        "retryStrategy.attempts": jd.retry_attempts,
        "parameters": dict(jd.parameters),
        "containers": [
            {
                "where": c.where,
                "image": c.image,
                "essential": c.essential,
                "log": _log_of(c),
                "secrets": len(c.secrets),
            }
            for c in jd.containers
        ],
        "roles": {arn: role.label for arn, role in jd.named_roles.items()},
    }
    if jd.shape == MULTI_NODE:
        facts["nodeProperties"] = {
            "numNodes": jd.num_nodes,
            "mainNode": jd.main_node,
            "nodeRanges": [r.target_nodes for r in jd.node_ranges],
        }
    if jd.eks_pod is not None:
        facts["eks"] = {
            "serviceAccountName": jd.eks_pod.service_account,
            "hostNetwork": jd.eks_pod.host_network,
            "volumes": list(jd.eks_pod.volumes),
        }
    return facts


def summary(jd: JobDefinitionView, facts: dict[str, Any]) -> str:
    """One line of what the revision runs."""
    retry = f"retryStrategy.attempts={facts['retryStrategy.attempts']}"
    if jd.shape == SINGLE_CONTAINER:
        return (
            f"revision={facts['revision']} type=container image={facts['image']} "
            f"logGroup={facts['logGroup']} {retry}"
        )
    containers = jd.containers
    essential = sum(1 for c in containers if c.essential)
    groups = ", ".join(f"{g} ({', '.join(c.where for c in cs)})" for g, cs in jd.log_groups.items())
    parts = [f"revision={facts['revision']} {jd.shape_name}"]
    if jd.shape == MULTI_NODE:
        parts.append(f"{jd.num_nodes} nodes in {len(jd.node_ranges)} node ranges")
    parts.append(f"{len(containers)} containers ({essential} essential)")
    parts.append(f"logGroups={groups}" if groups else "no awslogs group")
    return "; ".join(parts) + f"; {retry}"


def host_log_warnings(jd: JobDefinitionView, name: str) -> list[tuple[str, str]]:
    """(problem, hint) for containers whose output stays on the instance."""
    return [
        (
            f"{c.where} logs with logDriver={c.log.driver}: its output stays on the instance "
            "and is lost when Batch scales it in",
            f"Use awslogs (or a shipping driver such as awsfirelens) for {c.where} in {name}",
        )
        for c in jd.containers
        if c.log is not None and c.log.driver in HOST_LOG_DRIVERS
    ]


class JobdefCheck(Check):
    name = "JOBDEF_CHECK"
    step = 3
    step_title = "JOBDEF"
    title = "Job definition is runnable and observable"
    verifies = (
        "Latest ACTIVE revision of any shape (containerProperties, ecsProperties, nodeProperties, "
        "eksProperties): every container has an image, each task an essential container and "
        "the execution role its Fargate pulls, logs and secrets need, node ranges cover the "
        "nodes, log drivers Batch and Fargate accept; fails when no compute environment of "
        "the queue can ever place its default resource requirements; warns when "
        "retryStrategy.attempts <= 1"
    )
    depends_on = ("AWS_ACCESS",)
    needs = ("job_definition", "placement_environments")
    services = ("batch", "ec2", "service-quotas")
    priority = 12

    def run(self, ctx: CheckContext) -> CheckResult:
        name, region = ctx.target.job_definition, ctx.aws.region
        jd = self.read_job_definition(ctx)
        if jd is None:
            return self.fail(
                f"job definition {name} has no ACTIVE revision in {region}",
                [
                    f"Register it (or check for deregistered revisions): `aws batch "
                    f"describe-job-definitions --job-definition-name {name} --region {region}`"
                ],
                job_definition=name,
            )
        facts = job_definition_facts(jd)
        problems = job_definition_problems(jd, name)
        if problems:
            return self.fail(
                f"{jd.label(name)}: " + "; ".join(p.detail for p in problems),
                list(dict.fromkeys(p.hint for p in problems)),
                problems=[{"where": p.where, "detail": p.detail} for p in problems],
                **facts,
            )
        placement = self._placement(ctx, jd, facts)
        if placement is not None and placement.verdict is Verdict.NEVER:
            return self.fail(
                f"{jd.label(name)} can never run on {ctx.target.job_queue} "
                f"[{placement.constraint}]: {placement.summary}",
                [
                    *(f"Fix: {f}" for f in fixes(placement)),
                    "Jobs that override resourceRequirements at submit are judged as they "
                    "wait (RUNNABLE_BACKLOG_CHECK)",
                ],
                **facts,
            )
        warnings = host_log_warnings(jd, name)
        if placement is not None and placement.verdict is Verdict.UNKNOWN:
            warnings.append(
                (
                    "whether it can run on the queue is unknown: "
                    + "; ".join(unchecked(placement)[:2]),
                    "Let the monitor make the read named (its role's grants: README, Deploy), "
                    "or compare the job's resourceRequirements with the queue's instance types",
                )
            )
        attempts = facts["retryStrategy.attempts"]
        if not isinstance(attempts, int) or attempts <= 1:
            warnings.append(
                (
                    "a transient failure (Spot reclaim, host error) fails the job at once",
                    f"Set retryStrategy on {name}, e.g. attempts=3 with evaluateOnExit retrying "
                    "`Host EC2*` reasons and exiting on application errors",
                )
            )
        line = summary(jd, facts)
        if warnings:
            return self.warn(
                f"{line}: " + "; ".join(w[0] for w in warnings), [w[1] for w in warnings], **facts
            )
        return self.ok(line, **facts)

    @staticmethod
    def _placement(
        ctx: CheckContext, jd: JobDefinitionView, facts: dict[str, Any]
    ) -> Placement | None:
        """Its default requirements against the queue's environments (None: not judged)."""
        envs = queue_environments(ctx.aws)
        if isinstance(envs, str):
            facts["placement_unjudged"] = envs
            return None
        label = jd.label(ctx.target.job_definition)
        placement = judge(JobNeeds.from_job_definition(jd, source=f"{label} defaults"), envs)
        facts["placement"] = {
            "verdict": placement.verdict.value,
            "constraint": placement.constraint.value if placement.constraint else None,
            "asks": placement.needs.asks,
            "unchecked": unchecked(placement),
        }
        return placement
