"""What to check: targets and their options, validated once (config file, CLI, Lambda).

Every validation error names the target and the key, e.g.
`targets[0] (academy-video).job_queue: Field required`.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from batch_health.domain.smoke import (
    SCHEDULING_PRIORITY_MAX,
    SCHEDULING_PRIORITY_MIN,
    SHARE_IDENTIFIER_RE,
)
from batch_health.domain.sources import SourceError, parse_source
from batch_health.validation import dotted, problems

NonEmpty = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
TARGET_NAME_RE = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$"
ROLE_ARN_RE = r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$"
REGION_RE = r"^[a-z]{2}(-[a-z]+)+-\d$"
# CloudWatch Logs' own rule for log group names.
# https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_CreateLogGroup.html
LOG_GROUP_RE = r"^[\.\-_/#A-Za-z0-9]{1,512}$"
EXTERNAL_ID_RE = r"^[\w+=,.@:/-]+$"  # what sts:AssumeRole accepts, 2 to 1224 of them


class ConfigError(ValueError):
    """A configuration problem the operator must fix; the message names what is wrong."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class SmokeConfig(Strict):
    """How SMOKE_SUBMIT_CHECK submits its test job."""

    # None: the deployment decides (the CLI always may; the monitor function only on its
    # JobQueue/JobDefinition); False: never; True: the target's role_arn allows it.
    enabled: bool | None = None
    command: list[NonEmpty] | None = None
    parameters: dict[NonEmpty, str] = Field(default_factory=dict)
    # Supply job_id=health-smoke-<ts> when nothing else resolves Ref::job_id.
    default_job_id: bool = True
    require_succeeded: bool = False
    runnable_timeout_seconds: Annotated[int, Field(ge=1, le=3600)] = 120
    timeout_seconds: Annotated[int, Field(ge=1, le=3600)] = 300
    poll_seconds: Annotated[float, Field(gt=0, le=60)] = 5.0
    # Fair-share queues only (never sent to a queue without a scheduling policy): the share
    # and priority the job carries; unset, a share of the queue's policy and the lowest
    # priority. Bounds are SubmitJob's (batch_health.domain.smoke).
    share_identifier: Annotated[str, Field(pattern=SHARE_IDENTIFIER_RE)] | None = None
    scheduling_priority: (
        Annotated[int, Field(ge=SCHEDULING_PRIORITY_MIN, le=SCHEDULING_PRIORITY_MAX)] | None
    ) = None
    # A multi-node smoke job holds one instance per node: skip it above this many nodes.
    max_nodes: Annotated[int, Field(ge=1)] = 2


class Thresholds(Strict):
    log_max_age_hours: Annotated[float, Field(gt=0)] = 24.0
    log_scan_events: Annotated[int, Field(ge=1, le=10_000)] = 200
    runnable_warn_minutes: Annotated[float, Field(gt=0)] = 30.0
    runnable_fail_minutes: Annotated[float, Field(gt=0)] = 120.0
    job_failure_window_minutes: Annotated[float, Field(gt=0)] = 60.0
    job_failures_warn_count: Annotated[int, Field(ge=1)] = 1
    job_failures_fail_ratio: Annotated[float, Field(gt=0, le=1)] = 0.5


ConfigKey = Literal["job_queue", "job_definition"]


def _valid_source_spec(spec: str) -> str:
    # A malformed spec (`ssm:` with no name, `file:` without #KEY) is a config error
    # here, not a crash in the middle of a run.
    try:
        parse_source(spec)
    except SourceError as exc:
        raise ValueError(str(exc)) from None
    return spec


SourceSpec = Annotated[NonEmpty, AfterValidator(_valid_source_spec)]


def _log_group_name(name: str) -> str:
    if not re.fullmatch(LOG_GROUP_RE, name):
        raise ValueError(
            f"{name[:80]!r} is not a CloudWatch Logs group name (1-512 letters, digits and "
            ". - _ / #)"
        )
    return name


LogGroupName = Annotated[NonEmpty, AfterValidator(_log_group_name)]


class Target(Strict):
    """One AWS Batch workload: a job queue and the job definition submitted to it."""

    name: Annotated[str, Field(pattern=TARGET_NAME_RE)] = "default"
    region: Annotated[str, Field(pattern=REGION_RE)] | None = None
    role_arn: Annotated[str, Field(pattern=ROLE_ARN_RE)] | None = None
    # sts:ExternalId the role's trust policy requires (templates/target-account-role.yaml).
    external_id: (
        Annotated[str, Field(min_length=2, max_length=1224, pattern=EXTERNAL_ID_RE)] | None
    ) = None
    job_queue: NonEmpty
    job_definition: NonEmpty
    log_group: LogGroupName | None = None
    # CONFIG_MATCH_*: source name -> {job_queue|job_definition: "literal" | "ssm:/p" |
    # "env:VAR" | "file:path#KEY"}
    config_sources: dict[NonEmpty, dict[ConfigKey, SourceSpec]] = Field(default_factory=dict)
    smoke: SmokeConfig = Field(default_factory=SmokeConfig)
    thresholds: Thresholds = Field(default_factory=Thresholds)

    @model_validator(mode="after")
    def _external_id_needs_role(self) -> Target:
        if self.external_id is not None and self.role_arn is None:
            raise ValueError("external_id is set but role_arn is not: set the role to assume")
        return self


class SuiteConfig(Strict):
    targets: Annotated[list[Target], Field(min_length=1, max_length=200)]

    @field_validator("targets")
    @classmethod
    def _unique_names(cls, targets: list[Target]) -> list[Target]:
        seen: dict[str, int] = {}
        for i, t in enumerate(targets):
            if t.name in seen:
                raise ValueError(
                    f"targets[{i}] ({t.name}) has the same name as targets[{seen[t.name]}]: "
                    "target names must be unique"
                )
            seen[t.name] = i
        return targets

    def select(self, name: str | None) -> SuiteConfig:
        if name is None:
            return self
        chosen = [t for t in self.targets if t.name == name]
        if not chosen:
            known = ", ".join(t.name for t in self.targets)
            raise ConfigError(f"--target {name!r} is not in the config (targets: {known})")
        return SuiteConfig(targets=chosen)


def format_validation_error(exc: ValidationError, data: Any, prefix: str = "") -> str:
    """One line per problem, each naming the target (by index and name) and the key."""

    def where(loc: tuple[Any, ...]) -> str:
        if loc[:1] == ("targets",) and len(loc) > 1 and isinstance(loc[1], int):
            name = _target_name(data, loc[1])
            head = f"targets[{loc[1]}]" + (f" ({name})" if name else "")
            rest = dotted(loc[2:])
            return head + (rest if not rest or rest.startswith("[") else f".{rest}")
        return dotted(loc) or "(top level)"

    return "\n".join(f"{prefix}{line}" for line in problems(exc, where))


def _target_name(data: Any, idx: int) -> str | None:
    try:
        name = data["targets"][idx].get("name")
    except (KeyError, IndexError, TypeError, AttributeError):
        return None
    return name if isinstance(name, str) else None


def unencodable_text(data: Any, where: str = "") -> str | None:
    """The path of the first string that is not valid Unicode (a lone surrogate, which
    JSON's \\ud800 escapes can produce and no AWS API accepts), or None."""
    if isinstance(data, str):
        try:
            data.encode("utf-8")
        except UnicodeEncodeError:
            return where or "(value)"
        return None
    items = (
        data.items()
        if isinstance(data, dict)
        else enumerate(data)
        if isinstance(data, list)
        else ()
    )
    for key, value in items:
        here = (
            f"{where}[{key}]" if isinstance(key, int) else f"{where}.{key}" if where else str(key)
        )
        found = unencodable_text(key, here) if isinstance(key, str) else None
        found = found or unencodable_text(value, here)
        if found:
            return found
    return None


def parse_suite_config(data: Any, source: str = "config") -> SuiteConfig:
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected an object with a 'targets' list")
    bad = unencodable_text(data)
    if bad:
        raise ConfigError(f"{source}: {bad}: not valid Unicode text (a lone surrogate)")
    try:
        return SuiteConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, data, prefix=f"{source}: ")) from None


def load_config_file(path: str | Path) -> SuiteConfig:
    """Read a TOML or JSON config file (`targets` list); errors name the line or key."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"--config {p}: cannot read: {exc.strerror or exc}") from None
    if p.suffix.lower() == ".json" or (
        p.suffix.lower() != ".toml" and text.lstrip().startswith("{")
    ):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{p}: line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    else:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{p}: {exc}") from None
    return parse_suite_config(data, source=str(p))


def parse_key_values(items: list[str], flag: str) -> dict[str, str]:
    """`k=v` pairs from a repeatable flag; a malformed one names the flag and the item."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.-]*", key.strip()):
            raise ConfigError(f"{flag} {item!r}: expected NAME=VALUE")
        out[key.strip()] = value
    return out
