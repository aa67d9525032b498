"""The parts of a job definition: ECS tasks, their containers, log destinations, secrets,
multi-node ranges and EKS pods, parsed from DescribeJobDefinitions' answer.

AWS Batch runs four shapes (RegisterJobDefinition,
https://docs.aws.amazon.com/batch/latest/APIReference/API_RegisterJobDefinition.html):
one container (`containerProperties`), several containers in ECS tasks (`ecsProperties.
taskProperties[].containers[]`), a multi-node parallel job (`nodeProperties.
nodeRangeProperties[]`, each range a `container` or `ecsProperties`) and a Kubernetes pod on
EKS (`eksProperties.podProperties`). Each part here says where it sits (`where`), so a check
names the container or node range it found a fault in. A value of an unexpected type is read
as absent: an odd answer never crashes a check.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Where a container's log goes when its awslogs options name no group, and the driver used
# when a container sets no logConfiguration at all.
# https://docs.aws.amazon.com/batch/latest/userguide/using_awslogs.html
BATCH_DEFAULT_LOG_GROUP = "/aws/batch/job"
AWSLOGS = "awslogs"


def mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def items(value: Any) -> list[Mapping[str, Any]]:
    """The mappings in a list (anything else in it, or a non-list, is dropped)."""
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def strings(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


@dataclass(frozen=True)
class LogDestination:
    """Where one container's output goes."""

    driver: str  # "awslogs" when the container sets none (Batch's default)
    options: Mapping[str, Any]

    @property
    def cloudwatch(self) -> bool:
        return self.driver == AWSLOGS

    @property
    def named(self) -> bool:
        return bool(text(self.options.get("awslogs-group")))

    @property
    def group(self) -> str | None:
        """The awslogs group (Batch's default when the options name none); None for another
        driver."""
        if not self.cloudwatch:
            return None
        return text(self.options.get("awslogs-group")) or BATCH_DEFAULT_LOG_GROUP

    @property
    def creates_group(self) -> bool:
        return str(self.options.get("awslogs-create-group", "")).lower() == "true"

    @classmethod
    def parse(cls, config: Any) -> LogDestination:
        config = mapping(config)
        driver = text(config.get("logDriver")) or AWSLOGS
        return cls(driver, mapping(config.get("options")))


@dataclass(frozen=True)
class Secret:
    """A value ECS fetches for the container when it starts it: an environment secret, a log
    driver's secret option, or private registry credentials."""

    name: str
    value_from: str  # a Secrets Manager ARN, an SSM parameter ARN, or an SSM parameter name
    purpose: str  # "secret DB_PASSWORD", "log option splunk-token", "registry credentials"


def _secrets(container: Mapping[str, Any]) -> tuple[Secret, ...]:
    found = [
        Secret(text(s.get("name")), text(s.get("valueFrom")), f"secret {text(s.get('name'))}")
        for s in items(container.get("secrets"))
    ]
    log_config = mapping(container.get("logConfiguration"))
    found += [
        Secret(text(s.get("name")), text(s.get("valueFrom")), f"log option {text(s.get('name'))}")
        for s in items(log_config.get("secretOptions"))
    ]
    credentials = text(mapping(container.get("repositoryCredentials")).get("credentialsParameter"))
    if credentials:
        found.append(Secret("credentialsParameter", credentials, "registry credentials"))
    return tuple(s for s in found if s.value_from)


def _resources(container: Mapping[str, Any]) -> dict[str, str]:
    """VCPU, MEMORY (MiB) and GPU as asked (resourceRequirements, else the legacy fields)."""
    found = {
        text(r.get("type")): str(r.get("value"))
        for r in items(container.get("resourceRequirements"))
        if text(r.get("type")) and r.get("value") is not None
    }
    for legacy, key in (("vcpus", "VCPU"), ("memory", "MEMORY")):
        value = container.get(legacy)
        if key not in found and isinstance(value, int | float) and value:
            found[key] = str(value)
    return found


@dataclass(frozen=True)
class Container:
    """One container of the job, where it sits, and what ECS (or EKS) needs to start it."""

    name: str  # its name ("" for containerProperties, which has none)
    where: str  # "container", "container sidecar", "node range 1: container", ...
    image: str
    essential: bool
    command: tuple[str, ...]
    log: LogDestination | None  # None on EKS: pods do not use ECS log drivers
    secrets: tuple[Secret, ...] = ()
    resources: Mapping[str, str] | None = None
    depends_on: tuple[str, ...] = ()
    init: bool = False  # an EKS init container

    @classmethod
    def ecs(cls, props: Mapping[str, Any], where: str, *, named: bool) -> Container:
        name = text(props.get("name"))
        essential = props.get("essential")
        return cls(
            name=name,
            where=f"{where} {name}".strip() if named and name else where,
            image=text(props.get("image")),
            essential=essential if isinstance(essential, bool) else True,
            command=strings(props.get("command")),
            log=LogDestination.parse(props.get("logConfiguration")),
            secrets=_secrets(props),
            resources=_resources(props),
            depends_on=tuple(text(d.get("containerName")) for d in items(props.get("dependsOn"))),
        )

    @classmethod
    def eks(cls, props: Mapping[str, Any], *, init: bool, where: str = "") -> Container:
        name = text(props.get("name"))
        kind = "init container" if init else "container"
        resources = mapping(props.get("resources"))
        limits = {**mapping(resources.get("requests")), **mapping(resources.get("limits"))}
        return cls(
            name=name,
            where=f"{where} {kind} {name}".strip(),
            image=text(props.get("image")),
            essential=not init,
            command=strings(props.get("command")) + strings(props.get("args")),
            log=None,
            resources={str(k): str(v) for k, v in limits.items()},
            init=init,
        )


@dataclass(frozen=True)
class Task:
    """One ECS task of the job: `containerProperties`, an `ecsProperties` task, or a node
    range's. Its execution role starts it (pulls, log streams, secrets); its task role (the
    job role) is what the containers' code runs as."""

    where: str  # "" (the job's only task), "task 1", "node range 0:3"
    execution_role_arn: str
    task_role_arn: str
    containers: tuple[Container, ...]

    @property
    def label(self) -> str:
        return self.where or "the job"

    @classmethod
    def from_container_properties(cls, props: Mapping[str, Any], where: str) -> Task:
        label = f"{where} container".strip()
        return cls(
            where,
            text(props.get("executionRoleArn")),
            text(props.get("jobRoleArn")),
            (Container.ecs(props, label, named=False),) if props else (),
        )

    @classmethod
    def from_ecs_task(cls, props: Mapping[str, Any], where: str) -> Task:
        label = f"{where} container".strip()
        return cls(
            where,
            text(props.get("executionRoleArn")),
            text(props.get("taskRoleArn")),
            tuple(Container.ecs(c, label, named=True) for c in items(props.get("containers"))),
        )


def ecs_tasks(ecs_properties: Any, where: str = "") -> list[Task]:
    """The tasks of an `ecsProperties` object (Batch accepts one task per job today)."""
    tasks = items(mapping(ecs_properties).get("taskProperties"))
    return [
        Task.from_ecs_task(t, f"{where} task {i}".strip() if len(tasks) > 1 else where)
        for i, t in enumerate(tasks)
    ]


@dataclass(frozen=True)
class NodeRange:
    """One `nodeRangeProperties` entry: the nodes `first`..`last` (None: open to the end),
    and what they run: ECS tasks (`container` or `ecsProperties`) or an EKS pod."""

    target_nodes: str
    first: int | None  # None: `targetNodes` is not a node range Batch accepts
    last: int | None
    open_end: bool
    tasks: tuple[Task, ...]
    instance_types: tuple[str, ...] = ()
    eks_pod: EksPod | None = None

    @property
    def where(self) -> str:
        return f"node range {self.target_nodes or '?'}"

    @property
    def containers(self) -> tuple[Container, ...]:
        pod = self.eks_pod.containers if self.eks_pod else ()
        return tuple(c for t in self.tasks for c in t.containers) + pod

    def covers(self, num_nodes: int) -> range:
        """The node indexes of a job of `num_nodes` nodes that this range covers."""
        if self.first is None:
            return range(0)
        last = num_nodes - 1 if self.open_end or self.last is None else self.last
        return range(self.first, min(last, num_nodes - 1) + 1)

    @classmethod
    def parse(cls, props: Mapping[str, Any]) -> NodeRange:
        target = text(props.get("targetNodes")).strip()
        first, last, open_end = parse_target_nodes(target)
        where = f"node range {target or '?'}"
        tasks = ecs_tasks(props.get("ecsProperties"), where)
        container = mapping(props.get("container"))
        if container:
            tasks.insert(0, Task.from_container_properties(container, where))
        return cls(
            target,
            first,
            last,
            open_end,
            tuple(tasks),
            strings(props.get("instanceTypes")),
            EksPod.parse(props.get("eksProperties"), where),
        )


def parse_target_nodes(target: str) -> tuple[int | None, int | None, bool]:
    """`"0:3"`, `"2:"`, `":4"`, `":"` or `"5"` -> (first, last, open end); (None, None,
    False) when it is none of these (Batch's syntax, NodeRangeProperty.targetNodes)."""
    start, sep, end = target.partition(":")
    if not sep:
        return (int(target), int(target), False) if target.isdigit() else (None, None, False)
    if (start and not start.isdigit()) or (end and not end.isdigit()):
        return None, None, False
    return int(start or 0), (int(end) if end else None), not end


@dataclass(frozen=True)
class EksPod:
    """`eksProperties.podProperties`: the pod Batch runs on the EKS cluster."""

    service_account: str
    host_network: bool  # Batch's default is true
    containers: tuple[Container, ...]  # init containers first, each marked `init`
    volumes: tuple[str, ...]

    @classmethod
    def parse(cls, eks_properties: Any, where: str = "") -> EksPod | None:
        pod = mapping(mapping(eks_properties).get("podProperties"))
        if not pod:
            return None
        host_network = pod.get("hostNetwork")
        return cls(
            service_account=text(pod.get("serviceAccountName")),
            host_network=host_network if isinstance(host_network, bool) else True,
            containers=tuple(
                [Container.eks(c, init=True, where=where) for c in items(pod.get("initContainers"))]
                + [Container.eks(c, init=False, where=where) for c in items(pod.get("containers"))]
            ),
            volumes=tuple(text(v.get("name")) for v in items(pod.get("volumes"))),
        )
