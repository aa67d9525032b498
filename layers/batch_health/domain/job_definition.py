"""A job definition as the checks read it, parsed once from DescribeJobDefinitions' answer.

Every shape AWS Batch runs is read into one model (batch_health.domain.job_parts): the ECS
tasks of a single-container, multi-container or multi-node job, each with its execution
and task role and its containers (image, essential, log destination, secrets, resources),
the node ranges of a multi-node job, and the pod of an EKS job. Checks ask the model for
every image, role, log group and secret of the job, and never pick the raw answer apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from batch_health.domain.job_parts import (
    AWSLOGS,
    BATCH_DEFAULT_LOG_GROUP,
    Container,
    EksPod,
    NodeRange,
    Secret,
    Task,
    ecs_tasks,
    items,
    mapping,
    text,
)

__all__ = [
    "AWSLOGS",
    "BATCH_DEFAULT_LOG_GROUP",
    "EKS",
    "MULTI_CONTAINER",
    "MULTI_NODE",
    "SINGLE_CONTAINER",
    "JobDefinitionView",
    "NamedRole",
]

SINGLE_CONTAINER, MULTI_CONTAINER, MULTI_NODE, EKS = "container", "ecs", "multinode", "eks"
SHAPE_NAMES = {
    SINGLE_CONTAINER: "single-container",
    MULTI_CONTAINER: "multi-container (ecsProperties)",
    MULTI_NODE: "multi-node parallel",
    EKS: "EKS",
}


@dataclass(frozen=True)
class NamedRole:
    """An IAM role the job definition names, and every place that names it."""

    arn: str
    kinds: tuple[str, ...]  # "execution role", "job role"
    wheres: tuple[str, ...]  # the tasks that use it ("" for a single-task job)

    @property
    def label(self) -> str:
        places = [w for w in self.wheres if w]
        on = f" ({', '.join(places)})" if places else ""
        return f"{' and '.join(self.kinds)}{on}"


def _shape(answer: Mapping[str, Any]) -> str:
    if mapping(answer.get("eksProperties")):
        return EKS
    if mapping(answer.get("nodeProperties")) or text(answer.get("type")) == "multinode":
        return MULTI_NODE
    if mapping(answer.get("ecsProperties")):
        return MULTI_CONTAINER
    return SINGLE_CONTAINER if mapping(answer.get("containerProperties")) else ""


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class JobDefinitionView:
    name: str
    revision: int | None
    arn: str
    type: str  # "container", "multinode" ("" when absent)
    shape: str  # SINGLE_CONTAINER, MULTI_CONTAINER, MULTI_NODE, EKS ("" when none)
    platform_capabilities: tuple[str, ...]
    tasks: tuple[Task, ...]  # every ECS task (of each node range, for a multi-node job)
    node_ranges: tuple[NodeRange, ...]
    num_nodes: int | None
    main_node: int | None
    eks_pod: EksPod | None
    parameters: Mapping[str, str]
    retry_attempts: Any  # retryStrategy.attempts as given (1 when absent)
    scheduling_priority: int | None
    raw: Mapping[str, Any] = field(repr=False, compare=False, default_factory=dict)

    @classmethod
    def parse(cls, answer: Mapping[str, Any]) -> JobDefinitionView:
        shape = _shape(answer)
        nodes = mapping(answer.get("nodeProperties"))
        ranges = tuple(NodeRange.parse(r) for r in items(nodes.get("nodeRangeProperties")))
        tasks: list[Task] = []
        if shape == MULTI_NODE:
            tasks = [t for r in ranges for t in r.tasks]
        elif shape == MULTI_CONTAINER:
            tasks = ecs_tasks(answer.get("ecsProperties"))
        elif shape == SINGLE_CONTAINER:
            tasks = [Task.from_container_properties(mapping(answer["containerProperties"]), "")]
        capabilities = answer.get("platformCapabilities")
        revision = answer.get("revision")
        return cls(
            name=text(answer.get("jobDefinitionName")),
            revision=revision if isinstance(revision, int) else None,
            arn=text(answer.get("jobDefinitionArn")),
            type=text(answer.get("type")),
            shape=shape,
            platform_capabilities=tuple(c for c in capabilities if isinstance(c, str))
            if isinstance(capabilities, list) and capabilities
            else ("EC2",),
            tasks=tuple(tasks),
            node_ranges=ranges,
            num_nodes=_int(nodes.get("numNodes")),
            main_node=_int(nodes.get("mainNode")),
            eks_pod=EksPod.parse(answer.get("eksProperties")) if shape == EKS else None,
            parameters={
                k: v
                for k, v in mapping(answer.get("parameters")).items()
                if isinstance(k, str) and isinstance(v, str)
            },
            retry_attempts=mapping(answer.get("retryStrategy")).get("attempts", 1),
            scheduling_priority=_int(answer.get("schedulingPriority")),
            raw=answer,
        )

    # --- the whole job ------------------------------------------------------------------
    @property
    def shape_name(self) -> str:
        return SHAPE_NAMES.get(self.shape, "unknown shape")

    @property
    def on_fargate(self) -> bool:
        return "FARGATE" in self.platform_capabilities

    @property
    def on_eks(self) -> bool:
        """Its pods run on EKS: an EKS job, or a multi-node job whose ranges are EKS pods."""
        return self.eks_pod is not None or any(r.eks_pod for r in self.node_ranges)

    @property
    def eks_pods(self) -> tuple[EksPod, ...]:
        pods = (self.eks_pod,) if self.eks_pod else ()
        return pods + tuple(r.eks_pod for r in self.node_ranges if r.eks_pod)

    @property
    def containers(self) -> tuple[Container, ...]:
        """Every container of the job: each task's, each EKS pod's (init containers too)."""
        if self.shape == MULTI_NODE:
            return tuple(c for r in self.node_ranges for c in r.containers)
        if self.eks_pod is not None:
            return self.eks_pod.containers
        return tuple(c for t in self.tasks for c in t.containers)

    @property
    def has_container(self) -> bool:
        return bool(self.containers)

    @property
    def images(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(c.image for c in self.containers if c.image))

    @property
    def log_groups(self) -> dict[str, tuple[Container, ...]]:
        """awslogs group -> the containers writing to it (Batch's default where a container
        names none); empty for EKS, whose pods use no ECS log driver."""
        groups: dict[str, list[Container]] = {}
        for c in self.containers:
            group = c.log.group if c.log is not None else None
            if group:
                groups.setdefault(group, []).append(c)
        return {g: tuple(cs) for g, cs in groups.items()}

    @property
    def secrets(self) -> tuple[Secret, ...]:
        return tuple(s for c in self.containers for s in c.secrets)

    @property
    def named_roles(self) -> dict[str, NamedRole]:
        """role ARN -> what it is for and which tasks name it, in the order named."""
        found: dict[str, tuple[list[str], list[str]]] = {}
        for task in self.tasks:
            for kind, arn in (
                ("execution role", task.execution_role_arn),
                ("job role", task.task_role_arn),
            ):
                if not arn:
                    continue
                kinds, wheres = found.setdefault(arn, ([], []))
                if kind not in kinds:
                    kinds.append(kind)
                if task.where not in wheres:
                    wheres.append(task.where)
        return {arn: NamedRole(arn, tuple(k), tuple(w)) for arn, (k, w) in found.items()}

    @property
    def execution_roles(self) -> tuple[str, ...]:
        return tuple(
            dict.fromkeys(t.execution_role_arn for t in self.tasks if t.execution_role_arn)
        )

    def command_parts(self) -> tuple[str, ...]:
        """Every container's command (and EKS args), for the `Ref::` parameters it uses."""
        return tuple(part for c in self.containers for part in c.command)

    # --- the main container (what a one-container view shows) ---------------------------
    @property
    def main_container(self) -> Container | None:
        """The first essential container (of the main node's range, for a multi-node job)."""
        containers = self.containers
        main_range = self.range_of(self.main_node) if self.main_node is not None else None
        if main_range is not None:
            containers = main_range.containers or containers
        essential = [c for c in containers if c.essential and not c.init]
        chosen = essential or list(containers)
        return chosen[0] if chosen else None

    def range_of(self, node: int) -> NodeRange | None:
        """The node range whose properties node `node` runs with: nested ranges override
        the ranges they sit in ("0:10 and 4:5: the 4:5 range properties override the 0:10
        properties", NodeRangeProperty.targetNodes in the Batch API reference)."""
        num = self.num_nodes or node + 1
        covering = [r for r in self.node_ranges if node in r.covers(num)]
        return min(covering, key=lambda r: len(r.covers(num)), default=None)

    @property
    def image(self) -> str:
        main = self.main_container
        return main.image if main else ""

    @property
    def command(self) -> tuple[str, ...]:
        main = self.main_container
        return main.command if main else ()

    @property
    def execution_role_arn(self) -> str:
        return self.tasks[0].execution_role_arn if self.tasks else ""

    @property
    def job_role_arn(self) -> str:
        return self.tasks[0].task_role_arn if self.tasks else ""

    @property
    def log_driver(self) -> str | None:
        """The main container's log driver (None: EKS, or no container)."""
        main = self.main_container
        return main.log.driver if main and main.log else None

    @property
    def awslogs_group(self) -> str | None:
        """The main container's awslogs group (Batch's default when it names none); None
        when it logs with another driver, or runs on EKS."""
        main = self.main_container
        return main.log.group if main and main.log else None

    @property
    def names_its_log_group(self) -> bool:
        main = self.main_container
        return bool(main and main.log and main.log.named)

    def label(self, fallback: str) -> str:
        """`name:revision`, for messages."""
        return f"{self.name or fallback}:{self.revision}"
