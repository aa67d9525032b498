"""JOBDEF_CHECK: the latest ACTIVE job definition revision can run and be observed."""

from __future__ import annotations

from typing import Any

from batch_health.checks.base import Check, CheckContext
from batch_health.domain.job_definition import JobDefinitionView
from batch_health.models import CheckResult


def job_definition_facts(jd: JobDefinitionView) -> dict[str, Any]:
    return {
        "jobDefinitionArn": jd.arn,
        "revision": jd.revision,
        "type": jd.type or "UNKNOWN",
        "platformCapabilities": list(jd.platform_capabilities),
        "image": jd.image,
        "executionRoleArn": jd.execution_role_arn,
        "jobRoleArn": jd.job_role_arn,
        "logDriver": jd.log_driver or "awslogs (default)",
        "logGroup": jd.awslogs_group or "",
        "retryStrategy.attempts": jd.retry_attempts,
        "parameters": dict(jd.parameters),
    }


def runnable_problem(jd: JobDefinitionView, name: str) -> tuple[str, str] | None:
    """(detail, hint) for the first thing that keeps the revision from running or logging."""
    rev = jd.label(name)
    if jd.type != "container":
        return (
            f"{rev} has type={jd.type or 'UNKNOWN'}, not container",
            f"The monitor checks single-container jobs; register {name} with type container",
        )
    if not jd.has_container:
        return (
            f"{rev} has no containerProperties (ECS/EKS properties are not checked)",
            f"Register {name} with containerProperties",
        )
    if not jd.image:
        return (
            f"{rev} has no container image",
            f"Register a new revision of {name} with containerProperties.image set",
        )
    if "FARGATE" in jd.platform_capabilities and not jd.execution_role_arn:
        return (
            f"{rev} runs on Fargate without an executionRoleArn (image pull and logs fail)",
            f"Register a new revision of {name} with an executionRoleArn whose role has "
            "AmazonECSTaskExecutionRolePolicy",
        )
    if not jd.logs_to_cloudwatch:
        return (
            f"{rev} logs with logDriver={jd.log_driver}, so job output never reaches "
            "CloudWatch Logs",
            f"Register a new revision of {name} with logConfiguration.logDriver=awslogs "
            "and options.awslogs-group",
        )
    return None


class JobdefCheck(Check):
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
        problem = runnable_problem(jd, name)
        if problem:
            return self.fail(problem[0], [problem[1]], **facts)
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
