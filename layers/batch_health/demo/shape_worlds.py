"""Demo worlds for the job-definition shapes beyond one container, and a fair-share queue.

Each keeps the ops report's names (queue, job definition, SSM settings, setup files) so the
CONFIG_MATCH_* checks agree, and holds one fault the suite should name precisely:

- "multi-container": an `ecsProperties` job whose three containers log to their own awslogs
  groups; the thumbnailer's group was never created.
- "multi-node": a multi-node parallel job whose two node ranges run under their own
  execution roles; the workers' role (range "1:") was never created.
- "fair-share": the job queue has a fair-share scheduling policy, so a submit must carry a
  share identifier (`academyvideo`); nothing is broken, and `--allow-test-submit` shows
  whether the smoke job carries one.

The emulator holds these shapes through the Batch answer layer (`batch_shapes`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from batch_health.demo.worlds import (
    CE,
    EXEC_ROLE,
    IMAGE_REPO,
    JOB_ROLE,
    JOBDEF,
    LOG_GROUP,
    QUEUE,
    WORKER_COMMAND,
    World,
    WorldBuilder,
    _seed_files,
    _target,
)

# multi-container: container name -> its awslogs group. The thumbnailer's is missing.
CONTAINER_LOG_GROUPS = {
    "transcoder": LOG_GROUP,
    "thumbnailer": f"{LOG_GROUP}/thumbnailer",
    "uploader": f"{LOG_GROUP}/uploader",
}
MISSING_CONTAINER = "thumbnailer"

# multi-node: the main node (range "0") and the workers (range "1:"), each with its own
# execution role; the workers' role is never created.
MAIN_RANGE, WORKER_RANGE = "0", "1:"
WORKER_EXEC_ROLE = "academy-batch-mnp-worker-execution-role"
NUM_NODES = 4

# fair-share: the scheduling policy on the queue and the share the video jobs use.
SCHEDULING_POLICY = "academy-video-fair-share"
# "limited to 255 alphanumeric characters, and can be followed by an asterisk (*)"
# (SubmitJob.shareIdentifier, https://docs.aws.amazon.com/batch/latest/APIReference/API_SubmitJob.html)
SHARE_IDENTIFIER = "academyvideo"
SCHEDULING_PRIORITY = 50
FIFO_QUEUE = f"{QUEUE}-fifo"

_RESOURCES = [{"type": "VCPU", "value": "2"}, {"type": "MEMORY", "value": "4096"}]


def _image(w: WorldBuilder) -> str:
    return f"{w.account}.dkr.ecr.{w.region}.amazonaws.com/{IMAGE_REPO}:latest"


def _awslogs(group: str) -> dict[str, Any]:
    return {"logDriver": "awslogs", "options": {"awslogs-group": group}}


def _execution_role(w: WorldBuilder, name: str, log_groups: list[str]) -> str:
    """An execution role allowed to pull the worker image and write to each group."""
    statements: list[dict[str, Any]] = []
    for group in log_groups:
        for statement in w.execution_policy(group)["Statement"]:
            if statement not in statements:
                statements.append(statement)
    return w.role(name, {"Version": "2012-10-17", "Statement": statements})


def build_multi_container(w: WorldBuilder, workdir: Path) -> World:
    # The shape of AWS's "AWS Batch job for Amazon ECS on Amazon EC2" example (three
    # containers c1, c2 non-essential and c3 essential, each with its own resources):
    # https://docs.aws.amazon.com/batch/latest/userguide/multi-container-jobs-scenarios.html
    # Each container here names its own awslogs group (TaskContainerProperties.logConfiguration).
    w.queue_with_ce()
    groups = list(dict.fromkeys(CONTAINER_LOG_GROUPS.values()))
    exec_arn = _execution_role(w, EXEC_ROLE, groups)
    job_arn = w.role(JOB_ROLE)
    commands = {
        "transcoder": WORKER_COMMAND,
        "thumbnailer": ["python", "-m", "apps.worker.thumbnails", "--watch", "/work"],
        "uploader": ["python", "-m", "apps.worker.uploader", "--watch", "/work/out"],
    }
    containers = [
        {
            "name": name,
            "essential": name == "transcoder",
            "image": _image(w),
            "command": commands[name],
            "resourceRequirements": _RESOURCES,
            "logConfiguration": _awslogs(group),
        }
        for name, group in CONTAINER_LOG_GROUPS.items()
    ]
    w.client("batch").register_job_definition(
        jobDefinitionName=JOBDEF,
        type="container",
        parameters={"job_id": "none"},
        retryStrategy={"attempts": 3},
        ecsProperties={
            "taskProperties": [
                {"containers": containers, "executionRoleArn": exec_arn, "taskRoleArn": job_arn}
            ]
        },
    )
    for name, group in CONTAINER_LOG_GROUPS.items():
        if name != MISSING_CONTAINER:
            w.log_group(group, messages=[f"{name} started", f"{name} idle"])
    w.api_settings()
    return World(
        "multi-container",
        "an ecsProperties job of three containers, each logging to its own group; "
        f"the {MISSING_CONTAINER} container's group {CONTAINER_LOG_GROUPS[MISSING_CONTAINER]} "
        "was never created",
        _target(_seed_files(workdir)),
    )


def build_multi_node(w: WorldBuilder, workdir: Path) -> World:
    # The shape of AWS's multi-node parallel example (gromacs-jobdef: numNodes, mainNode 0,
    # nodeRangeProperties with a container each):
    # https://docs.aws.amazon.com/batch/latest/userguide/example-mnp-job-definition.html
    # split into a main-node range and an open-ended worker range, as the node-group guide
    # describes (https://docs.aws.amazon.com/batch/latest/userguide/mnp-node-groups.html).
    w.queue_with_ce()
    main_exec = _execution_role(w, EXEC_ROLE, [LOG_GROUP])
    worker_exec = f"arn:aws:iam::{w.account}:role/{WORKER_EXEC_ROLE}"  # never created
    job_arn = w.role(JOB_ROLE)

    def node_container(command: list[str], exec_arn: str) -> dict[str, Any]:
        return {
            "image": _image(w),
            "command": command,
            "executionRoleArn": exec_arn,
            "jobRoleArn": job_arn,
            "resourceRequirements": [
                {"type": "VCPU", "value": "4"},
                {"type": "MEMORY", "value": "8192"},
            ],
            "logConfiguration": _awslogs(LOG_GROUP),
        }

    w.client("batch").register_job_definition(
        jobDefinitionName=JOBDEF,
        type="multinode",
        parameters={"job_id": "none"},
        retryStrategy={"attempts": 3},
        nodeProperties={
            "numNodes": NUM_NODES,
            "mainNode": 0,
            "nodeRangeProperties": [
                {
                    "targetNodes": MAIN_RANGE,
                    "container": node_container([*WORKER_COMMAND, "--role", "main"], main_exec),
                },
                {
                    "targetNodes": WORKER_RANGE,
                    "container": node_container([*WORKER_COMMAND, "--role", "worker"], worker_exec),
                },
            ],
        },
    )
    w.log_group(messages=["main node started", "4 nodes joined", "worker idle"])
    w.api_settings()
    return World(
        "multi-node",
        f"a {NUM_NODES}-node parallel job: node range {MAIN_RANGE!r} (main) and "
        f"{WORKER_RANGE!r} (workers) each run under their own execution role; the workers' "
        f"role {WORKER_EXEC_ROLE} was never created",
        _target(_seed_files(workdir)),
    )


def build_fair_share(w: WorldBuilder, workdir: Path) -> World:
    # Fair-share scheduling: a scheduling policy with a share distribution and decay, as in
    # https://docs.aws.amazon.com/batch/latest/userguide/fair-share-scheduling.html and
    # https://docs.aws.amazon.com/batch/latest/userguide/create-scheduling-policy.html
    # A FIFO queue can't have a policy added later (CreateJobQueue.schedulingPolicyArn), so
    # the fair-share queue is a new one: it takes the workload's queue name, and the
    # team's old FIFO queue stays on the same compute environment.
    w.queue_with_ce(queue=FIFO_QUEUE)
    batch = w.client("batch")
    policy = batch.create_scheduling_policy(
        name=SCHEDULING_POLICY,
        fairsharePolicy={
            "shareDecaySeconds": 3600,
            "computeReservation": 10,
            "shareDistribution": [
                {"shareIdentifier": SHARE_IDENTIFIER, "weightFactor": 0.5},
                {"shareIdentifier": "academybatch*", "weightFactor": 1.0},
            ],
        },
    )["arn"]
    ce_arn = batch.describe_compute_environments(computeEnvironments=[CE])["computeEnvironments"][
        0
    ]["computeEnvironmentArn"]
    batch.create_job_queue(
        jobQueueName=QUEUE,
        state="ENABLED",
        priority=10,
        schedulingPolicyArn=policy,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": ce_arn}],
    )
    w.job_definition(command=WORKER_COMMAND, parameters={"job_id": "none"}, attempts=3)
    _add_scheduling_priority(w)
    w.log_group(messages=["worker started", "transcoded video 42 in 12.3s", "worker idle"])
    w.api_settings()
    return World(
        "fair-share",
        f"the job queue has the fair-share scheduling policy {SCHEDULING_POLICY}: every "
        f"submit must carry a share identifier (the video jobs use {SHARE_IDENTIFIER!r}); "
        "try --allow-test-submit",
        _target(_seed_files(workdir)),
    )


def _add_scheduling_priority(w: WorldBuilder) -> None:
    """Revision 2 of the job definition: revision 1 plus schedulingPriority, which orders
    jobs within a share (RegisterJobDefinition.schedulingPriority); revision 1 retired."""
    batch = w.client("batch")
    first = batch.describe_job_definitions(jobDefinitionName=JOBDEF, status="ACTIVE")[
        "jobDefinitions"
    ][0]
    batch.register_job_definition(
        jobDefinitionName=JOBDEF,
        type=first["type"],
        parameters=first["parameters"],
        retryStrategy=first["retryStrategy"],
        containerProperties=first["containerProperties"],
        schedulingPriority=SCHEDULING_PRIORITY,
    )
    batch.deregister_job_definition(jobDefinition=first["jobDefinitionArn"])
