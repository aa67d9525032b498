"""JOBDEF_CHECK: the latest ACTIVE job definition revision can run and be observed."""

from __future__ import annotations

from typing import Any

from batch_health.checks.base import Check, CheckContext
from batch_health.inventory import awslogs_group
from batch_health.models import CheckResult


def job_definition_facts(jd: dict[str, Any]) -> dict[str, Any]:
    container = jd.get("containerProperties") or {}
    log_config = container.get("logConfiguration") or {}
    retry = jd.get("retryStrategy") or {}
    return {
        "jobDefinitionArn": jd.get("jobDefinitionArn", ""),
        "revision": jd.get("revision"),
        "type": jd.get("type") or "UNKNOWN",
        "platformCapabilities": jd.get("platformCapabilities") or ["EC2"],
        "image": container.get("image") or "",
        "executionRoleArn": container.get("executionRoleArn") or "",
        "jobRoleArn": container.get("jobRoleArn") or "",
        "logDriver": log_config.get("logDriver") or "awslogs (default)",
        "logGroup": awslogs_group(jd) or "",
        "retryStrategy.attempts": retry.get("attempts", 1),
        "parameters": jd.get("parameters") or {},
    }


class JobDefinitionCheck(Check):
    name = "JOBDEF_CHECK"
    step = 3
    step_title = "JOBDEF"
    title = "Job definition is runnable and observable"
    verifies = (
        "Latest ACTIVE revision: type container, an image, an execution role on Fargate, "
        "logDriver awslogs; warns when retryStrategy.attempts <= 1"
    )
    depends_on = ("AWS_ACCESS",)
    needs = ("job_definition",)
    services = ("batch",)
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
        rev = f"{name}:{facts['revision']}"
        if facts["type"] != "container":
            return self.fail(
                f"{rev} has type={facts['type']}, not container",
                [f"The monitor checks single-container jobs; register {name} with type container"],
                **facts,
            )
        if not jd.get("containerProperties"):
            return self.fail(
                f"{rev} has no containerProperties (ECS/EKS properties are not checked)",
                [f"Register {name} with containerProperties"],
                **facts,
            )
        if not facts["image"]:
            return self.fail(
                f"{rev} has no container image",
                [f"Register a new revision of {name} with containerProperties.image set"],
                **facts,
            )
        if "FARGATE" in facts["platformCapabilities"] and not facts["executionRoleArn"]:
            return self.fail(
                f"{rev} runs on Fargate without an executionRoleArn (image pull and logs fail)",
                [
                    f"Register a new revision of {name} with an executionRoleArn whose role has "
                    "AmazonECSTaskExecutionRolePolicy"
                ],
                **facts,
            )
        driver = (jd["containerProperties"].get("logConfiguration") or {}).get("logDriver")
        if driver not in (None, "awslogs"):
            return self.fail(
                f"{rev} logs with logDriver={driver}, so job output never reaches CloudWatch Logs",
                [
                    f"Register a new revision of {name} with logConfiguration.logDriver=awslogs "
                    "and options.awslogs-group"
                ],
                **facts,
            )
        summary = (
            f"revision={facts['revision']} type=container image={facts['image']} "
            f"logGroup={facts['logGroup']} retryStrategy.attempts={facts['retryStrategy.attempts']}"
        )
        attempts = facts["retryStrategy.attempts"]
        if not isinstance(attempts, int) or attempts <= 1:
            return self.warn(
                f"{summary}: a transient failure (Spot reclaim, host error) fails the job at once",
                [
                    f"Set retryStrategy on {name}, e.g. attempts=3 with evaluateOnExit retrying "
                    "`Host EC2*` reasons and exiting on application errors"
                ],
                **facts,
            )
        return self.ok(summary, **facts)
