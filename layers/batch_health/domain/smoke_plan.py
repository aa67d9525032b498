"""The smoke job's SubmitJob request for every shape of job definition (SmokePlan), and
how the submitted job fares while it is watched (Watch).

A configured smoke command replaces what the shape runs, through the override SubmitJob
has for it (https://docs.aws.amazon.com/batch/latest/APIReference/API_SubmitJob.html):
- one container: `containerOverrides.command`;
- several containers (`ecsProperties`): `ecsPropertiesOverride.taskProperties[0].
  containers[{name, command}]` for the first essential container ("This object is
  currently limited to one element", API_EcsPropertiesOverride.html; the container is
  named, API_TaskContainerOverrides.html);
- EKS: `eksPropertiesOverride.podProperties.containers[{name, command}]` for the first
  container (API_EksContainerOverride.html); its `args` stay the job definition's;
- multi-node: `nodeOverrides.nodePropertyOverrides[{targetNodes, ...}]`, one per node range
  (each range's own container or ECS override; API_NodePropertyOverride.html), so no node
  waits for a main node that runs something else.
Every container's command the job will run (overridden or not) is searched for `Ref::`
parameters, so one a sidecar needs is named with the container before anything is sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from batch_health.config import SmokeConfig, Target
from batch_health.domain.job_definition import (
    EKS,
    MULTI_CONTAINER,
    MULTI_NODE,
    SINGLE_CONTAINER,
    JobDefinitionView,
)
from batch_health.domain.job_parts import Container, NodeRange, items, mapping, strings
from batch_health.domain.smoke import (
    BUILT_IN,
    SMOKE_TAG,
    TARGET_TAG,
    NodeChoice,
    ShareChoice,
    referenced_parameters,
    resolve_job_parameters,
)

# EksContainer.name: "If the name isn't specified, the default name "Default" is used."
# https://docs.aws.amazon.com/batch/latest/APIReference/API_EksContainer.html
EKS_DEFAULT_CONTAINER_NAME = "Default"


@dataclass(frozen=True)
class ContainerCommand:
    """What one container of the smoke job runs, and whether the smoke command replaced it."""

    where: str
    parts: tuple[str, ...]
    overridden: bool


def _first_essential(containers: Sequence[Container]) -> Container | None:
    chosen = [c for c in containers if c.essential and not c.init] or list(containers)
    return chosen[0] if chosen else None


def _range_containers(node_range: NodeRange) -> tuple[Container, ...]:
    return tuple(c for t in node_range.tasks for c in t.containers)


def _eks_args(jd: JobDefinitionView, name: str) -> tuple[str, ...]:
    """The `args` of an EKS container (the model joins command and args into one)."""
    pod = mapping(mapping(jd.raw.get("eksProperties")).get("podProperties"))
    for props in items(pod.get("containers")):
        if (props.get("name") or "") == name:
            return strings(props.get("args"))
    return ()


def overridden_containers(jd: JobDefinitionView) -> list[Container]:
    """The containers a smoke command replaces the command of (see the module's list)."""
    if jd.shape == MULTI_NODE:
        found = [_first_essential(_range_containers(r)) for r in jd.node_ranges]
        return [c for c in found if c is not None]
    main = jd.main_container
    return [main] if main is not None else []


def effective_commands(
    jd: JobDefinitionView, command: Sequence[str] | None
) -> list[ContainerCommand]:
    """Every container's command as the smoke job runs it."""
    replaced = {id(c) for c in overridden_containers(jd)} if command else set()
    out = []
    for c in jd.containers:
        if command is None or id(c) not in replaced:
            out.append(ContainerCommand(c.where, c.command, False))
            continue
        args = _eks_args(jd, c.name) if jd.shape == EKS else ()
        out.append(ContainerCommand(c.where, (*command, *args), True))
    return out


def command_override(jd: JobDefinitionView, command: Sequence[str]) -> dict[str, Any]:
    """The SubmitJob fields that make the job run `command` (empty when nothing can)."""
    cmd = list(command)
    main = jd.main_container
    if jd.shape in (SINGLE_CONTAINER, ""):
        return {"containerOverrides": {"command": cmd}}
    if jd.shape == MULTI_CONTAINER and main is not None:
        return {"ecsPropertiesOverride": _ecs_override(main, cmd)}
    if jd.shape == EKS and main is not None:
        pod = {"containers": [{"name": main.name or EKS_DEFAULT_CONTAINER_NAME, "command": cmd}]}
        return {"eksPropertiesOverride": {"podProperties": pod}}
    if jd.shape == MULTI_NODE:
        overrides = []
        for node_range in jd.node_ranges:
            container = _first_essential(_range_containers(node_range))
            if container is None:
                continue
            override: dict[str, Any] = {"targetNodes": node_range.target_nodes}
            if container.name:
                override["ecsPropertiesOverride"] = _ecs_override(container, cmd)
            else:  # the range's `container` (containerProperties has no name)
                override["containerOverrides"] = {"command": cmd}
            overrides.append(override)
        return {"nodeOverrides": {"nodePropertyOverrides": overrides}} if overrides else {}
    return {}


def _ecs_override(container: Container, command: list[str]) -> dict[str, Any]:
    return {"taskProperties": [{"containers": [{"name": container.name, "command": command}]}]}


@dataclass(frozen=True)
class SmokePlan:
    """The smoke job to submit: its request, and the facts the report shows."""

    job_name: str
    queue: str
    job_definition_name: str
    request: dict[str, Any]
    facts: dict[str, Any]
    unresolved: list[str]
    unresolved_in: dict[str, list[str]]  # name -> the containers whose command uses it

    @classmethod
    def for_target(
        cls,
        target: Target,
        jd: JobDefinitionView,
        job_name: str,
        share: ShareChoice | None = None,
        nodes: NodeChoice | None = None,
    ) -> SmokePlan:
        smoke = target.smoke
        commands = effective_commands(jd, smoke.command)
        everything = [part for c in commands for part in c.parts]
        if not jd.containers and smoke.command:
            everything = list(smoke.command)
        built_in = {"job_id": job_name} if smoke.default_job_id else {}
        resolved, unresolved = resolve_job_parameters(
            referenced_parameters(everything), smoke.parameters, jd.parameters, built_in
        )
        unresolved_in = {
            name: [c.where for c in commands if name in referenced_parameters(c.parts)]
            for name in unresolved
        }
        job_definition = jd.arn or target.job_definition
        # Configured values are sent even when unreferenced: the operator asked for them.
        parameters = {**smoke.parameters}
        parameters.update({n: p.value for n, p in resolved.items() if p.source == BUILT_IN})
        tags = {SMOKE_TAG: "true", TARGET_TAG: target.name}
        request: dict[str, Any] = {
            "jobName": job_name,
            "jobQueue": target.job_queue,
            "jobDefinition": job_definition,
            "parameters": parameters,
            "tags": tags,
        }
        override = command_override(jd, smoke.command) if smoke.command else {}
        request.update(override)
        main = next((c for c in commands if c.overridden), None)
        facts: dict[str, Any] = {
            "job_name": job_name,
            "job_queue": target.job_queue,
            "job_definition": job_definition,
            "shape": jd.shape,
            "command": list(main.parts if main else smoke.command or jd.command),
            "command_override": bool(smoke.command),
            "parameters": {n: {"value": p.value, "source": p.source} for n, p in resolved.items()},
            "tags": tags,
        }
        if smoke.command:
            facts["command_override_field"] = next(iter(override), "")
            facts["command_overridden_in"] = [c.where for c in commands if c.overridden]
        if len(commands) > 1:
            facts["commands"] = {c.where: list(c.parts) for c in commands}
        if share is not None:
            request["shareIdentifier"] = share.identifier
            request["schedulingPriorityOverride"] = share.priority
            facts.update(
                share_identifier=share.identifier,
                share_source=share.source,
                scheduling_priority=share.priority,
                scheduling_priority_source=share.priority_source,
            )
        if nodes is not None:
            if nodes.override and nodes.num_nodes is not None:
                request.setdefault("nodeOverrides", {})["numNodes"] = nodes.num_nodes
            facts.update(num_nodes=nodes.num_nodes, num_nodes_source=nodes.why)
        return cls(
            job_name,
            target.job_queue,
            target.job_definition,
            request,
            facts,
            unresolved,
            unresolved_in,
        )


class Watch:
    """How a submitted job has fared so far: its statuses, how long it waited, whether it
    reached the goal (RUNNING, or SUCCEEDED when required) and how long it sat RUNNABLE."""

    def __init__(self, started: float, smoke: SmokeConfig, time_left: float) -> None:
        self.started = started
        self.require_succeeded = smoke.require_succeeded
        self.budget_limited = time_left < smoke.timeout_seconds
        self.limit = max(0.0, min(float(smoke.timeout_seconds), time_left))
        self.history: list[str] = []
        self.waited = 0.0
        self._runnable_since: float | None = None

    @property
    def goal(self) -> str:
        return "SUCCEEDED" if self.require_succeeded else "RUNNING"

    @property
    def waited_s(self) -> float:
        return round(self.waited, 1)

    def saw(self, status: str, now: float) -> str:
        if not self.history or self.history[-1] != status:
            self.history.append(status)
        self.waited = now - self.started
        return status

    def reached_goal(self, status: str) -> bool:
        return status == "SUCCEEDED" or (status == "RUNNING" and not self.require_succeeded)

    def runnable_for(self, status: str, now: float) -> float:
        """Seconds in RUNNABLE so far (0 when not RUNNABLE)."""
        if status != "RUNNABLE":
            return 0.0
        if self._runnable_since is None:
            self._runnable_since = now
        return now - self._runnable_since
