"""A target's Amazon ECS reads: the container instances registered to an UNMANAGED compute
environment's ECS cluster (part of `TargetView`).

Batch does not launch instances for an UNMANAGED compute environment: jobs run only on
instances the operator registers to the cluster Batch created for it (its `ecsClusterArn`,
https://docs.aws.amazon.com/batch/latest/userguide/create-compute-environment-unmanaged.html).
ListContainerInstances pages the cluster's instance ARNs; DescribeContainerInstances takes
"Up to 100" of them per call (API_DescribeContainerInstances.html).
"""

from __future__ import annotations

from typing import Any

from batch_health.aws.lookups import chunks
from batch_health.aws.view_base import ViewBase

DESCRIBE_CONTAINER_INSTANCES_MAX = 100


class EcsReads(ViewBase):
    def container_instances(self, cluster: str) -> list[dict[str, Any]]:
        """Every container instance registered to `cluster` (ACTIVE and DRAINING), as
        described."""

        def fetch() -> list[dict[str, Any]]:
            ecs = self.client("ecs")
            arns: list[str] = []
            for page in ecs.get_paginator("list_container_instances").paginate(cluster=cluster):
                arns += page.get("containerInstanceArns") or []
            described: list[dict[str, Any]] = []
            for batch in chunks(arns, DESCRIBE_CONTAINER_INSTANCES_MAX):
                answer = ecs.describe_container_instances(cluster=cluster, containerInstances=batch)
                described += [
                    i for i in answer.get("containerInstances") or [] if isinstance(i, dict)
                ]
            return described

        return self._once(("container_instances", cluster), fetch)
