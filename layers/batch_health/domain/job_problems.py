"""What keeps a job definition from running or being observed, for its shape.

Pure decisions over the job definition model: a valid shape is never a problem in itself;
a fault is named with the container, task or node range it sits in and the field to fix.
The rules follow what ECS and Batch need at run time (RegisterJobDefinition and the ECS task
definition reference):
- an ECS task needs at least one essential container, each container an image, and each
  `dependsOn` a container of the same task;
- the execution role pulls ECR images, writes awslogs and fetches secrets; a Fargate task
  that does any of these, and any task with secrets, needs one
  (https://docs.aws.amazon.com/batch/latest/userguide/execution-IAM-role.html);
- Fargate tasks log only with awslogs, splunk or awsfirelens, and Batch accepts the log
  drivers in LogConfiguration.logDriver
  (https://docs.aws.amazon.com/batch/latest/APIReference/API_LogConfiguration.html);
- a multi-node job's ranges cover nodes 0..numNodes-1, main node included, and each range
  covers at least one node (NodeRangeProperty.targetNodes, NodeProperties).
"""

from __future__ import annotations

from dataclasses import dataclass

from batch_health.domain.execution_role import ECR_IMAGE
from batch_health.domain.job_definition import MULTI_NODE, JobDefinitionView
from batch_health.domain.job_parts import NodeRange, Task

BATCH_LOG_DRIVERS = frozenset(
    {
        "awslogs",
        "fluentd",
        "gelf",
        "json-file",
        "journald",
        "logentries",
        "syslog",
        "splunk",
        "awsfirelens",
    }
)
FARGATE_LOG_DRIVERS = frozenset({"awslogs", "splunk", "awsfirelens"})
# Drivers that keep the output on the container instance, where it dies with the instance.
HOST_LOG_DRIVERS = frozenset({"json-file", "journald"})
EXECUTION_POLICY = "AmazonECSTaskExecutionRolePolicy"


@dataclass(frozen=True)
class JobProblem:
    """One fault: where it sits, what it is, and the fix."""

    where: str  # "container worker", "node range 4:", "the job"
    detail: str
    hint: str


def job_definition_problems(jd: JobDefinitionView, name: str) -> list[JobProblem]:
    """Every fault that keeps this revision from running or logging (empty: none)."""
    if jd.shape == MULTI_NODE and not jd.node_ranges:
        return [
            JobProblem(
                "nodeProperties",
                f"type={jd.type or 'multinode'} but nodeProperties has no node range "
                "(nodeRangeProperties), so no node has a container to run",
                f"Register a new revision of {name} with nodeProperties.nodeRangeProperties",
            )
        ]
    if not jd.has_container:
        return [
            JobProblem(
                "the job",
                "no container: none of containerProperties, ecsProperties, nodeProperties or "
                "eksProperties holds one",
                f"Register a new revision of {name} with the containers it runs",
            )
        ]
    problems: list[JobProblem] = []
    if jd.shape == MULTI_NODE:
        problems += node_range_problems(jd, name)
    for task in jd.tasks:
        problems += task_problems(task, name, fargate=jd.on_fargate)
    if jd.on_eks:
        problems += [
            JobProblem(
                c.where,
                f"{c.where} has no image",
                f"Register a new revision of {name} with an image for {c.where}",
            )
            for pod in jd.eks_pods
            for c in pod.containers
            if not c.image
        ]
    return problems


def task_problems(task: Task, name: str, *, fargate: bool) -> list[JobProblem]:
    problems: list[JobProblem] = []
    if task.containers and not any(c.essential for c in task.containers):
        problems.append(
            JobProblem(
                task.label,
                f"{task.label} has no essential container, so ECS cannot start its task",
                f"Mark the job's main container essential=true in a new revision of {name}",
            )
        )
    names = {c.name for c in task.containers}
    for c in task.containers:
        if not c.image:
            problems.append(
                JobProblem(
                    c.where,
                    f"{c.where} has no image",
                    f"Register a new revision of {name} with an image for {c.where}",
                )
            )
        missing = [d for d in c.depends_on if d and d not in names]
        if missing:
            problems.append(
                JobProblem(
                    c.where,
                    f"{c.where} dependsOn {', '.join(missing)}, which is no container of its task",
                    f"Fix dependsOn of {c.where} in {name} to name a container of the same task",
                )
            )
        problems += log_driver_problems(c.where, c.log.driver if c.log else None, name, fargate)
    problems += execution_role_problems(task, name, fargate=fargate)
    return problems


def log_driver_problems(
    where: str, driver: str | None, name: str, fargate: bool
) -> list[JobProblem]:
    if driver is None:
        return []
    if driver not in BATCH_LOG_DRIVERS:
        return [
            JobProblem(
                where,
                f"{where} logs with logDriver={driver}, which Batch does not support",
                f"Use awslogs (or another driver Batch supports) for {where} in {name}",
            )
        ]
    if fargate and driver not in FARGATE_LOG_DRIVERS:
        return [
            JobProblem(
                where,
                f"{where} logs with logDriver={driver}, which Fargate does not support "
                "(awslogs, splunk or awsfirelens)",
                f"Register a new revision of {name} with logDriver awslogs for {where}",
            )
        ]
    return []


def execution_role_problems(task: Task, name: str, *, fargate: bool) -> list[JobProblem]:
    """A task without an execution role that needs one: secrets anywhere; on Fargate, ECR
    images and awslogs too (on EC2 the container instance role pulls and logs)."""
    if task.execution_role_arn:
        return []
    needs = []
    if any(c.secrets for c in task.containers):
        needs.append("fetch its secrets")
    if fargate:
        if any(ECR_IMAGE.match(c.image) for c in task.containers):
            needs.append("pull its ECR images")
        if any(c.log and c.log.cloudwatch for c in task.containers):
            needs.append("write its awslogs")
    if not needs:
        return []
    where = "Fargate " if fargate else ""
    return [
        JobProblem(
            task.label,
            f"{task.label} runs on {where}ECS without an executionRoleArn, so it cannot "
            + " or ".join(needs),
            f"Register a new revision of {name} with an executionRoleArn for {task.label} "
            f"whose role has {EXECUTION_POLICY}",
        )
    ]


def node_range_problems(jd: JobDefinitionView, name: str) -> list[JobProblem]:
    """numNodes, mainNode and targetNodes that leave nodes unrun or ranges empty."""
    num, main = jd.num_nodes, jd.main_node
    if not num or num < 1:
        return [
            JobProblem(
                "nodeProperties",
                f"nodeProperties.numNodes is {num}: a multi-node job needs at least 1 node",
                f"Register a new revision of {name} with nodeProperties.numNodes >= 1",
            )
        ]
    problems: list[JobProblem] = []
    if main is None or not 0 <= main < num:
        problems.append(
            JobProblem(
                "nodeProperties",
                f"nodeProperties.mainNode is {main}, outside nodes 0..{num - 1}",
                f"Set mainNode of {name} to a node index below numNodes ({num})",
            )
        )
    covered: set[int] = set()
    for r in jd.node_ranges:
        problems += _range_problems(r, num, name)
        covered.update(r.covers(num))
    uncovered = sorted(set(range(num)) - covered)
    if uncovered:
        problems.append(
            JobProblem(
                "nodeProperties",
                f"nodes {_spans(uncovered)} of {num} are in no node range, so they have no "
                "container to run",
                f"Add a node range (targetNodes) covering {_spans(uncovered)} to {name}",
            )
        )
    return problems


def _range_problems(r: NodeRange, num: int, name: str) -> list[JobProblem]:
    if r.first is None:
        return [
            JobProblem(
                r.where,
                f"{r.where}: targetNodes {r.target_nodes!r} is not a node range (n, n:m, n:, :m)",
                f"Fix targetNodes of {r.where} in {name}",
            )
        ]
    problems = []
    if not r.covers(num):
        problems.append(
            JobProblem(
                r.where,
                f"{r.where} covers no node of the job's {num} (nodes 0..{num - 1})",
                f"Fix targetNodes of {r.where} in {name}, or raise numNodes",
            )
        )
    if not r.containers:
        problems.append(
            JobProblem(
                r.where,
                f"{r.where} has no container (none of container, ecsProperties, eksProperties)",
                f"Give {r.where} of {name} a container",
            )
        )
    return problems


def _spans(nodes: list[int]) -> str:
    """[0, 1, 2, 5] -> "0-2, 5"."""
    spans: list[list[int]] = []
    for n in nodes:
        if spans and n == spans[-1][1] + 1:
            spans[-1][1] = n
        else:
            spans.append([n, n])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in spans)
