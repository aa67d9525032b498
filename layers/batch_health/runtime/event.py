"""What the monitor function accepts: a scheduled event, or a manual run request.

- An EventBridge scheduled event (`detail-type: Scheduled Event`, from a rule or from
  EventBridge Scheduler with the same envelope): a full run. Its `detail`, when not
  empty, may carry the manual fields below.
- A manual run (`sam remote invoke --event-file events/<name>.json`, or a schedule's
  input): `{"checks": [...], "allow_test_submit": bool, "notify": bool, "targets": [...]}`,
  every field optional.

An unknown field or a wrong type is rejected with a message naming the field, before
anything runs or is sent.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
)

from batch_health.checks import parse_check_names
from batch_health.config import TARGET_NAME_RE
from batch_health.validation import dotted, problems

NonEmpty = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]
TargetName = Annotated[str, StringConstraints(strip_whitespace=True, pattern=TARGET_NAME_RE)]
M = TypeVar("M", bound=BaseModel)


class InvalidEventError(ValueError):
    """The invocation's event is malformed; the message names every bad field."""


class RunRequest(BaseModel):
    """The options of one run; defaults are a full, notifying run without a smoke submit."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    checks: Annotated[list[NonEmpty], Field(min_length=1)] | None = None
    allow_test_submit: bool = False
    notify: bool = True
    targets: Annotated[list[TargetName], Field(min_length=1)] | None = None

    @field_validator("checks")
    @classmethod
    def _known_checks(cls, names: list[str] | None) -> list[str] | None:
        return None if names is None else parse_check_names(names, source="")

    @field_validator("targets")
    @classmethod
    def _unique_targets(cls, names: list[str] | None) -> list[str] | None:
        return None if names is None else list(dict.fromkeys(names))


class ScheduledEvent(BaseModel):
    """The EventBridge envelope. AWS owns it (and may add fields, e.g. `replay-name`), so
    unknown envelope fields are ignored; `detail` is ours and strict."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    detail_type: Literal["Scheduled Event"] = Field(alias="detail-type")
    source: Literal["aws.events", "aws.scheduler"]
    id: str = ""
    time: str = ""
    resources: list[str] = Field(default_factory=list)
    detail: RunRequest = Field(default_factory=RunRequest)


class MonitorEvent(BaseModel):
    """A validated invocation: what to run, and what triggered it (for the log)."""

    model_config = ConfigDict(frozen=True)

    request: RunRequest
    trigger: Literal["schedule", "manual"]
    scheduled_time: str = ""
    schedule: str = ""


def parse_event(event: Any) -> MonitorEvent:
    """Validate an invocation event; InvalidEventError names every problem by field."""
    if not isinstance(event, dict):
        raise InvalidEventError(
            f"event: expected a JSON object, got {type(event).__name__} "
            "(a scheduled event, or {checks, allow_test_submit, notify, targets})"
        )
    if "detail-type" in event:
        scheduled = _validate(ScheduledEvent, event)
        return MonitorEvent(
            request=scheduled.detail,
            trigger="schedule",
            scheduled_time=scheduled.time,
            schedule=",".join(scheduled.resources),
        )
    return MonitorEvent(request=_validate(RunRequest, event), trigger="manual")


def _validate(model: type[M], event: dict[str, Any]) -> M:
    try:
        return model.model_validate(event)
    except ValidationError as exc:
        raise InvalidEventError(format_event_errors(exc)) from None


def format_event_errors(exc: ValidationError) -> str:
    """`invalid event: allow_test_submit: Input should be a valid boolean; notfy: unknown field`."""
    valid = ", ".join(RunRequest.model_fields)
    unknown = f"unknown field (valid fields: {valid})"
    return "invalid event: " + "; ".join(
        problems(exc, lambda loc: dotted(loc) or "event", unknown=unknown)
    )
