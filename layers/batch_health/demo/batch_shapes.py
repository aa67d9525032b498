"""AWS Batch answers moto 5.2.5 does not give, patched into its Batch classes.

moto rejects `ecsProperties` in RegisterJobDefinition, leaves `nodeProperties`,
`ecsProperties` and `schedulingPriority` out of DescribeJobDefinitions, would fail an
assertion describing a job of an `ecsProperties` job definition, ignores `shareIdentifier`,
`schedulingPriorityOverride`, `ecsPropertiesOverride` and `nodeOverrides` in SubmitJob,
drops a compute environment's `eksConfiguration` (batch_health.demo.batch_environments),
and accepts a submit to a fair-share queue without a share identifier. `install()`
patches those few methods of moto's own classes (`BatchResponse`, `JobDefinition`,
`Job`), so every client keeps sending real Batch requests (moto in-process, or a moto
server over HTTP in the same process) and moto keeps doing everything else.

What the patches add, and why each is shaped so:
- RegisterJobDefinition: the request's shape is validated first (exactly one of
  `containerProperties`, `ecsProperties`, `eksProperties` for type `container`;
  `nodeProperties` for `multinode`, each node range with `container`, `ecsProperties`
  or `eksProperties`), then moto registers it, then the new revision is set to hold
  what was registered: moto's revision update copies the previous revision's
  container, EKS properties, parameters and platform capabilities into the new one,
  which AWS does not do.
- DescribeJobDefinitions returns `ecsProperties`, `nodeProperties` and
  `schedulingPriority` next to what moto already returns.
- SubmitJob checks the fair-share rule (below), then lets moto submit, then records
  the share identifier, the scheduling priority and the ECS / node overrides on the
  job; DescribeJobs shows them (an `ecsProperties` job shows `ecsProperties`, a
  multi-node job its `nodeProperties` with `numNodes` overridden).

The wording of the shape errors is this module's (moto style); AWS's wording for the
fair-share errors is cited where they are raised.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping
from typing import Any

from batch_health.demo import batch_environments

# Set on moto's BatchResponse class once the patches are in; makes install() idempotent.
_MARK = "_batch_health_shapes"
# Documented range of schedulingPriority / schedulingPriorityOverride
# (https://docs.aws.amazon.com/batch/latest/APIReference/API_SubmitJob.html).
SCHEDULING_PRIORITY_RANGE = range(0, 10_000)
# "This object is currently limited to one task element. However, the task element can
# run up to 10 containers." (EcsProperties.taskProperties,
# https://docs.aws.amazon.com/batch/latest/APIReference/API_EcsProperties.html)
MAX_TASK_CONTAINERS = 10

# AWS's answer to a SubmitJob on a fair-share queue without a share identifier, as an
# operator quoted it from a real account (boto3 Lambda, February 2022):
# https://github.com/boto/boto3/issues/3158
# The API reference states the rule itself: "If the job queue has a fair-share
# scheduling policy, then this parameter must be specified."
# (https://docs.aws.amazon.com/batch/latest/APIReference/API_SubmitJob.html)
SHARE_IDENTIFIER_REQUIRED = "shareIdentifier must be specified."
# No published AWS answer was found for a share identifier sent to a FIFO queue; the
# API reference says "Don't specify this parameter if the job queue doesn't have a
# fair-share scheduling policy." (same page), so the message is built from that text.
SHARE_IDENTIFIER_NOT_ALLOWED = (
    "shareIdentifier can't be specified: the job queue doesn't have a fair-share scheduling policy."
)


def install() -> bool:
    """Patch moto's Batch classes (once per process); True when this call patched them."""
    from moto.batch.models import Job, JobDefinition
    from moto.batch.responses import BatchResponse

    if getattr(BatchResponse, _MARK, False):
        return False
    patches: dict[tuple[type, str], Callable[[Any], Any]] = {
        (BatchResponse, "registerjobdefinition"): _register,
        (BatchResponse, "submitjob"): _submit,
        (BatchResponse, "createcomputeenvironment"): batch_environments.create,
        (BatchResponse, "describecomputeenvironments"): batch_environments.describe,
        (JobDefinition, "_validate"): _validate,
        (JobDefinition, "describe"): _describe_definition,
        (Job, "_container_details"): _container_details,
        (Job, "describe"): _describe_job,
    }
    saved = {(cls, name): getattr(cls, name) for cls, name in patches}
    for (cls, name), patch in patches.items():
        setattr(cls, name, patch(saved[(cls, name)]))
    setattr(BatchResponse, _MARK, saved)
    return True


def uninstall() -> None:
    """Put moto's own methods back (for tests that installed the patches themselves)."""
    from moto.batch.responses import BatchResponse

    saved = getattr(BatchResponse, _MARK, None)
    if not saved:
        return
    for (cls, name), original in saved.items():
        setattr(cls, name, original)
    setattr(BatchResponse, _MARK, False)


def installed() -> bool:
    from moto.batch.responses import BatchResponse

    return bool(getattr(BatchResponse, _MARK, False))


# --- shape validation (RegisterJobDefinition) ---------------------------------------


def _client_error(message: str) -> Exception:
    from moto.batch.exceptions import ClientException

    return ClientException(message)


def _check_ecs_properties(ecs: Any, where: str) -> None:
    tasks = ecs.get("taskProperties") if isinstance(ecs, Mapping) else None
    if not isinstance(tasks, list) or len(tasks) != 1:
        raise _client_error(f"{where}.taskProperties must contain exactly one task")
    containers = tasks[0].get("containers") if isinstance(tasks[0], Mapping) else None
    if not isinstance(containers, list) or not 1 <= len(containers) <= MAX_TASK_CONTAINERS:
        raise _client_error(
            f"{where}.taskProperties[0].containers must contain 1 to "
            f"{MAX_TASK_CONTAINERS} containers"
        )
    for i, container in enumerate(containers):
        if not isinstance(container, Mapping) or not container.get("image"):
            raise _client_error(f"{where}.taskProperties[0].containers[{i}] must contain image")
    # An omitted `essential` means essential (TaskContainerProperties.essential).
    if not any(c.get("essential", True) is not False for c in containers):
        raise _client_error(f"{where}: all jobs must have at least one essential container")


def _check_node_properties(nodes: Any) -> None:
    if not isinstance(nodes, Mapping):
        raise _client_error("nodeProperties must be provided for a multinode job definition")
    num_nodes, main_node = nodes.get("numNodes"), nodes.get("mainNode")
    ranges = nodes.get("nodeRangeProperties")
    if not isinstance(num_nodes, int) or num_nodes < 1:
        raise _client_error("nodeProperties.numNodes must be a positive integer")
    if not isinstance(main_node, int) or not 0 <= main_node < num_nodes:
        raise _client_error("nodeProperties.mainNode must be fewer than numNodes")
    if not isinstance(ranges, list) or not ranges:
        raise _client_error("nodeProperties.nodeRangeProperties must contain a node range")
    for i, node_range in enumerate(ranges):
        where = f"nodeProperties.nodeRangeProperties[{i}]"
        if not isinstance(node_range, Mapping) or not node_range.get("targetNodes"):
            raise _client_error(f"{where} must contain targetNodes")
        kinds = [k for k in ("container", "ecsProperties", "eksProperties") if k in node_range]
        if len(kinds) != 1:
            raise _client_error(
                f"{where} must contain exactly one of container, ecsProperties, eksProperties"
            )
        if kinds == ["ecsProperties"]:
            _check_ecs_properties(node_range["ecsProperties"], f"{where}.ecsProperties")
        elif kinds == ["container"] and not node_range["container"].get("image"):
            raise _client_error(f"{where}.container must contain image")


def check_job_definition_shape(request: Mapping[str, Any]) -> None:
    """Raise moto's ClientException when a RegisterJobDefinition request has no valid shape."""
    kinds = [k for k in ("containerProperties", "ecsProperties", "eksProperties") if request.get(k)]
    if request.get("type") == "multinode":
        if kinds:
            raise _client_error(f"{kinds[0]} can't be specified for a multinode job definition")
        _check_node_properties(request.get("nodeProperties"))
    elif request.get("type") == "container":
        if request.get("nodeProperties") is not None:
            raise _client_error(
                "nodeProperties can only be specified for a multinode job definition"
            )
        if len(kinds) != 1:
            raise _client_error(
                "exactly one of containerProperties, ecsProperties or eksProperties "
                "must be provided"
            )
        if kinds == ["ecsProperties"]:
            _check_ecs_properties(request["ecsProperties"], "ecsProperties")
    _check_priority(request.get("schedulingPriority"), "schedulingPriority")


def _check_priority(value: Any, name: str) -> None:
    if value is not None and (not isinstance(value, int) or value not in SCHEDULING_PRIORITY_RANGE):
        raise _client_error(f"{name} must be between 0 and 9999")


# --- the patches ----------------------------------------------------------------------

_REGISTERED = (
    "type",
    "containerProperties",
    "ecsProperties",
    "eksProperties",
    "nodeProperties",
    "parameters",
    "platformCapabilities",
    "propagateTags",
    "retryStrategy",
    "schedulingPriority",
)


def _register(original: Callable[[Any], str]) -> Callable[[Any], str]:
    def registerjobdefinition(self: Any) -> str:
        request = {key: self._get_param(key) for key in _REGISTERED}
        check_job_definition_shape(request)
        answer = original(self)
        job_def = self.batch_backend.get_job_definition_by_arn(
            json.loads(answer)["jobDefinitionArn"]
        )
        _hold_as_registered(job_def, request)
        return answer

    return registerjobdefinition


def _hold_as_registered(job_def: Any, request: Mapping[str, Any]) -> None:
    # moto's revision update fills what a request left out from the previous revision.
    if request["containerProperties"] is None:
        job_def.container_properties = None
    if request["eksProperties"] is None:
        job_def.eks_properties = None
    job_def.node_properties = copy.deepcopy(request["nodeProperties"])
    job_def.ecs_properties = copy.deepcopy(request["ecsProperties"])
    job_def.scheduling_priority = request["schedulingPriority"]
    job_def.parameters = request["parameters"] or {}
    job_def.retry_strategy = request["retryStrategy"]
    job_def.platform_capabilities = request["platformCapabilities"]
    job_def.propagate_tags = request["propagateTags"]


def _validate(original: Callable[[Any], None]) -> Callable[[Any], None]:
    def _validate_shape(self: Any) -> None:
        # A container job definition with neither containerProperties nor eksProperties
        # holds ecsProperties; its shape was checked before moto built it.
        if self.type == "container" and self.container_properties is self.eks_properties is None:
            return
        original(self)

    return _validate_shape


def _describe_definition(original: Callable[[Any], dict[str, Any]]) -> Callable[[Any], Any]:
    def describe(self: Any) -> dict[str, Any]:
        result = original(self)
        for key, attr in (
            ("ecsProperties", "ecs_properties"),
            ("nodeProperties", "node_properties"),
            ("schedulingPriority", "scheduling_priority"),
        ):
            value = getattr(self, attr, None)
            if value is not None:
                result[key] = value
        return result

    return describe


_SUBMITTED = (
    "jobQueue",
    "shareIdentifier",
    "schedulingPriorityOverride",
    "ecsPropertiesOverride",
    "nodeOverrides",
)


def _submit(original: Callable[[Any], str]) -> Callable[[Any], str]:
    def submitjob(self: Any) -> str:
        request = {key: self._get_param(key) for key in _SUBMITTED}
        queue = self.batch_backend.get_job_queue(request["jobQueue"] or "")
        if queue is not None:
            _check_share(queue, request["shareIdentifier"])
        _check_priority(request["schedulingPriorityOverride"], "schedulingPriorityOverride")
        answer = original(self)
        job = self.batch_backend.get_job_by_id(json.loads(answer)["jobId"])
        for each in [job, *(job._child_jobs or [])]:
            _record_submit(each, request)
        return answer

    return submitjob


def _check_share(queue: Any, share_identifier: str | None) -> None:
    fair_share = bool(queue.schedule_policy)
    if fair_share and not share_identifier:
        raise _client_error(SHARE_IDENTIFIER_REQUIRED)
    if share_identifier and not fair_share:
        raise _client_error(SHARE_IDENTIFIER_NOT_ALLOWED)


def _record_submit(job: Any, request: Mapping[str, Any]) -> None:
    job.share_identifier = request["shareIdentifier"]
    priority = request["schedulingPriorityOverride"]
    job.scheduling_priority = (
        priority
        if priority is not None
        else getattr(job.job_definition, "scheduling_priority", None)
    )
    job.ecs_properties_override = request["ecsPropertiesOverride"] or {}
    job.node_overrides = request["nodeOverrides"] or {}


def _container_details(original: Callable[[Any], dict[str, Any]]) -> Callable[[Any], Any]:
    def container_details(self: Any) -> dict[str, Any]:
        if self.job_definition.container_properties is None:  # an ecsProperties job
            return {}
        return original(self)

    return container_details


def _describe_job(original: Callable[[Any], dict[str, Any]]) -> Callable[[Any], Any]:
    def describe(self: Any) -> dict[str, Any]:
        result = original(self)
        job_def = self.job_definition
        ecs = getattr(job_def, "ecs_properties", None)
        if ecs is not None:
            result.pop("container", None)
            result["ecsProperties"] = merge_ecs_overrides(
                ecs, getattr(self, "ecs_properties_override", {})
            )
        if job_def.type == "multinode" and job_def.node_properties is not None:
            result["nodeProperties"] = node_properties_with_overrides(
                job_def.node_properties, getattr(self, "node_overrides", {})
            )
        for key, attr in (
            ("shareIdentifier", "share_identifier"),
            ("schedulingPriority", "scheduling_priority"),
        ):
            value = getattr(self, attr, None)
            if value is not None:
                result[key] = value
        if job_def.platform_capabilities:
            result["platformCapabilities"] = job_def.platform_capabilities
        return result

    return describe


def merge_ecs_overrides(ecs: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """The job's ecsProperties: the definition's, with each container's override (by name)."""
    merged = copy.deepcopy(dict(ecs))
    override_tasks = override.get("taskProperties") or []
    for task, task_override in zip(merged.get("taskProperties", []), override_tasks, strict=False):
        by_name = {c.get("name"): c for c in task_override.get("containers") or []}
        for container in task.get("containers", []):
            changes = by_name.get(container.get("name"), {})
            for key in ("command", "environment", "resourceRequirements"):
                if key in changes:
                    container[key] = changes[key]
    return merged


def node_properties_with_overrides(
    nodes: Mapping[str, Any], overrides: Mapping[str, Any]
) -> dict[str, Any]:
    """The job's nodeProperties: the definition's, with SubmitJob's nodeOverrides.numNodes."""
    result = copy.deepcopy(dict(nodes))
    if overrides.get("numNodes"):
        result["numNodes"] = overrides["numNodes"]
    return result
