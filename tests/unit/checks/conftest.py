"""The workloads the checks' tests run a check on."""

from __future__ import annotations

from typing import Any

import pytest
from support.suite import light_queue

from batch_health.demo import JOBDEF, QUEUE, WORKER_COMMAND


@pytest.fixture
def target(world) -> dict[str, Any]:
    """The ops report's job definition (awslogs-group /aws/batch/academy-video-worker) and
    its roles; no log group yet, and no queue (the log and IAM checks do not read it)."""
    world.job_definition(command=WORKER_COMMAND)
    return {"job_queue": QUEUE, "job_definition": JOBDEF}


@pytest.fixture
def queue_target(world) -> dict[str, Any]:
    """A queue to list jobs in, and the ops report's job definition with its job_id set."""
    light_queue(world)
    world.job_definition(command=WORKER_COMMAND, parameters={"job_id": "none"})
    return {"job_queue": QUEUE, "job_definition": JOBDEF}
