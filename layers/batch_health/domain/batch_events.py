"""AWS Batch's own events, as EventBridge delivers them: a job changed state, a queue is blocked.

Batch sends two events to EventBridge (https://docs.aws.amazon.com/batch/latest/userguide/
batch_cwe_events.html): "Batch Job State Change", whenever a submitted job changes state
(its `detail` resembles DescribeJobs' JobDetail), and "Batch Job Queue Blocked", when Batch
finds a RUNNABLE job blocking its queue (`detail.statusReason` carries the blocked code).
AWS owns the envelope and the detail and adds fields over time, so unknown fields are
ignored; the fields read here are validated and a malformed event is named, not guessed at.

Array and multi-node parallel jobs are families: one job a user submitted, run as children.
An array job's children have the IDs `<parent>:<index>` and `arrayProperties.index`; the
parent has `arrayProperties.size` and `statusSummary` (https://docs.aws.amazon.com/batch/
latest/userguide/array_jobs.html, https://docs.aws.amazon.com/batch/latest/APIReference/
API_ArrayPropertiesDetail.html). A multi-node job's nodes have the IDs `<parent>#<node>` and
`nodeDetails` (`nodeIndex`, `isMainNode`); the parent has `nodeProperties.numNodes`
(https://docs.aws.amazon.com/batch/latest/APIReference/API_NodeDetails.html,
https://docs.aws.amazon.com/batch/latest/userguide/multi-node-parallel-jobs.html). ListJobs
summaries say the same in `arrayProperties` and `nodeProperties` (NodePropertiesSummary:
`nodeIndex`, `isMainNode`, `numNodes`; https://docs.aws.amazon.com/batch/latest/APIReference/
API_JobSummary.html). Every child is a job that changes state, so each sends its own state
change event, as the parent does.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from functools import cached_property
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from batch_health.domain.arns import arn_account, resource_name
from batch_health.domain.reason_hints import HintContext
from batch_health.domain.smoke import SMOKE_JOB_PREFIX, SMOKE_TAG
from batch_health.domain.status_reasons import ClassifiedReason, ReasonClass, classify_job
from batch_health.validation import dotted, problems

JOB_STATE_CHANGE = "Batch Job State Change"
JOB_QUEUE_BLOCKED = "Batch Job Queue Blocked"
NonEmpty = Annotated[str, Field(min_length=1)]


class InvalidBatchEvent(ValueError):
    """The message is not a Batch event this function reads; names every bad field."""


class EventKind(StrEnum):
    FAILED = "FAILED"  # a job failed (its reason is classified)
    SUCCEEDED = "SUCCEEDED"  # a job succeeded (resolves the target's job incidents)
    BLOCKED = "BLOCKED"  # a RUNNABLE job blocks its queue (the blocked code is classified)
    STARTED = "STARTED"  # a job is RUNNING (read for smoke jobs only)
    RUNNABLE = "RUNNABLE"  # a job entered RUNNABLE (judged on arrival: can it ever run?)
    OTHER = "OTHER"  # any other state change: nothing to do


class FamilyKind(StrEnum):
    ARRAY = "array"
    MULTI_NODE = "multi-node"


@dataclass(frozen=True)
class JobFamily:
    """Where a job stands in an array or multi-node job: the parent itself, or one child."""

    parent_id: str
    kind: FamilyKind
    child_index: int | None = None  # None: the parent itself
    size: int | None = None  # the number of children, when the job says
    failed_children: int | None = None  # the parent's statusSummary FAILED, when given

    @property
    def is_child(self) -> bool:
        return self.child_index is not None

    @property
    def children(self) -> str:
        """What the children are called, in the plural."""
        return "children" if self.kind is FamilyKind.ARRAY else "nodes"


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def job_family(job: Mapping[str, Any]) -> JobFamily | None:
    """The family of a job description, summary or event detail; None for a plain job."""
    job_id = str(job.get("jobId") or "")
    array = job.get("arrayProperties") or {}
    nodes = job.get("nodeProperties") or {}
    node = job.get("nodeDetails") or {}
    if not isinstance(array, Mapping) or not isinstance(nodes, Mapping):
        return None
    node_index = _int(node.get("nodeIndex")) if isinstance(node, Mapping) else None
    if node_index is None:
        node_index = _int(nodes.get("nodeIndex"))
    num_nodes = _int(nodes.get("numNodes"))
    if _int(array.get("index")) is not None:
        parent = job_id.rpartition(":")[0] or job_id
        return JobFamily(parent, FamilyKind.ARRAY, _int(array.get("index")))
    if node_index is not None and "#" in job_id:
        return JobFamily(job_id.partition("#")[0], FamilyKind.MULTI_NODE, node_index, num_nodes)
    if _int(array.get("size")) is not None:
        summary = array.get("statusSummary") or {}
        failed = _int(summary.get("FAILED")) if isinstance(summary, Mapping) else None
        return JobFamily(job_id, FamilyKind.ARRAY, None, _int(array.get("size")), failed)
    if num_nodes is not None:
        return JobFamily(job_id, FamilyKind.MULTI_NODE, None, num_nodes)
    return None


class JobDetail(BaseModel):
    """The fields of the event's JobDetail this function reads."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    jobId: NonEmpty
    jobQueue: NonEmpty
    status: NonEmpty
    jobName: str = ""
    jobArn: str = ""
    jobDefinition: str = ""
    statusReason: str = ""
    createdAt: int | None = None
    startedAt: int | None = None
    stoppedAt: int | None = None
    attempts: list[dict[str, Any]] = Field(default_factory=list)
    container: dict[str, Any] = Field(default_factory=dict)
    tags: dict[str, str] = Field(default_factory=dict)
    arrayProperties: dict[str, Any] = Field(default_factory=dict)
    nodeProperties: dict[str, Any] = Field(default_factory=dict)
    nodeDetails: dict[str, Any] = Field(default_factory=dict)
    # What the job asks, read by the placement analysis of a waiting job.
    ecsProperties: dict[str, Any] = Field(default_factory=dict)
    eksProperties: dict[str, Any] = Field(default_factory=dict)
    platformCapabilities: list[str] = Field(default_factory=list)


class BatchEvent(BaseModel):
    """One EventBridge event from aws.batch."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    id: NonEmpty
    detail_type: Literal["Batch Job State Change", "Batch Job Queue Blocked"] = Field(
        alias="detail-type"
    )
    source: Literal["aws.batch"]
    account: NonEmpty
    region: NonEmpty
    time: datetime
    resources: list[str] = Field(default_factory=list)
    detail: JobDetail

    @property
    def kind(self) -> EventKind:
        if self.detail_type == JOB_QUEUE_BLOCKED:
            return EventKind.BLOCKED
        return {
            "FAILED": EventKind.FAILED,
            "SUCCEEDED": EventKind.SUCCEEDED,
            "RUNNING": EventKind.STARTED,
            "RUNNABLE": EventKind.RUNNABLE,
        }.get(self.detail.status, EventKind.OTHER)

    @property
    def waits(self) -> bool:
        """A job waiting to be placed: entered RUNNABLE, or blocking its queue there."""
        return self.kind in (EventKind.RUNNABLE, EventKind.BLOCKED)

    @cached_property
    def family(self) -> JobFamily | None:
        """Read once: the kind, key, example and placement of an event all ask for it."""
        return job_family(self.detail.model_dump())

    @property
    def key(self) -> str:
        """What a count counts once: the job, in what it announced (a job fails once; a
        blocked job counts once however often its block is announced), unique across
        accounts. A redelivered event has the same key. A failed child counts as its
        parent: the parent's own event and all its children's share one key; so does a
        waiting child. A job's arrival in RUNNABLE and its queue's block are one wait."""
        family = self.family if self.kind in (EventKind.FAILED, EventKind.RUNNABLE) else None
        job_id = family.parent_id if family else self.detail.jobId
        kind = EventKind.BLOCKED if self.waits else self.kind
        return f"{self.queue_account}:{job_id}:{kind.value}"

    @property
    def child_key(self) -> str:
        """A failed child's own key (its reason is counted once); "" for any other event."""
        family = self.family
        if self.kind is not EventKind.FAILED or family is None or not family.is_child:
            return ""
        return f"{self.queue_account}:{self.detail.jobId}:{self.kind.value}"

    @property
    def family_key(self) -> str:
        """The parent's key (unique across accounts); "" for a plain job."""
        family = self.family
        return f"{self.queue_account}:{family.parent_id}" if family else ""

    @property
    def queue_name(self) -> str:
        return resource_name(self.detail.jobQueue)

    @property
    def queue_account(self) -> str:
        return arn_account(self.detail.jobQueue) or self.account

    @property
    def job_definition_name(self) -> str:
        return resource_name(self.detail.jobDefinition) if self.detail.jobDefinition else ""

    @property
    def is_smoke(self) -> bool:
        d = self.detail
        return d.jobName.startswith(SMOKE_JOB_PREFIX) or d.tags.get(SMOKE_TAG) == "true"

    @property
    def occurred_at(self) -> datetime:
        """When the job got there: its stop time when it has one, else the event's."""
        stopped = self.detail.stoppedAt
        if stopped:
            return datetime.fromtimestamp(stopped / 1000, UTC)
        return self.time if self.time.tzinfo else self.time.replace(tzinfo=UTC)

    def reason(self) -> ClassifiedReason:
        return classify_job(self.detail.model_dump())

    def log_stream(self) -> str:
        """The newest attempt's log stream (none before the job ran)."""
        d = self.detail
        streams = [str(d.container.get("logStreamName") or "")]
        for attempt in reversed(d.attempts):
            streams.append(str((attempt.get("container") or {}).get("logStreamName") or ""))
            for task in attempt.get("taskProperties") or []:
                for c in (task or {}).get("containers") or []:
                    streams.append(str((c or {}).get("logStreamName") or ""))
        return next((s for s in streams if s), "")

    def log_group(self) -> str:
        """The awslogs group the job's container logs to, as far as the event says."""
        config = self.detail.container.get("logConfiguration") or {}
        options = config.get("options") or {}
        if config.get("logDriver") in (None, "awslogs") and options.get("awslogs-group"):
            return str(options["awslogs-group"])
        return ""

    def hint_context(self, job_definition: str = "", log_group: str = "") -> HintContext:
        """The names a hint mentions, from the event (the target's names as fallbacks)."""
        container = self.detail.container
        return HintContext(
            region=self.region,
            job_queue=self.queue_name,
            job_definition=self.job_definition_name or job_definition,
            image=str(container.get("image") or ""),
            execution_role=resource_name(str(container.get("executionRoleArn") or "")),
            log_group=self.log_group() or log_group,
            job_id=self.detail.jobId,
        )


def parse_batch_event(body: Any) -> BatchEvent:
    """Validate one event; InvalidBatchEvent names each problem by field."""
    if not isinstance(body, dict):
        raise InvalidBatchEvent(f"event: expected a JSON object, got {type(body).__name__}")
    try:
        return BatchEvent.model_validate(body)
    except ValidationError as exc:
        raise InvalidBatchEvent(
            "not a Batch job event: "
            + "; ".join(problems(exc, lambda loc: dotted(loc) or "event", unknown=""))
        ) from None


def family_class(events: Sequence[BatchEvent]) -> ReasonClass:
    """A family's class from some of its failed events: its children's most common class
    (ties by name), else the parent's own."""
    kinds = Counter(
        e.reason().kind for e in events if (family := e.family) is not None and family.is_child
    )
    if kinds:
        return min(kinds, key=lambda k: (-kinds[k], k.name))
    return events[0].reason().kind
