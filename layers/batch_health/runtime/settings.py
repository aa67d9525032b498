"""The monitor function's configuration, from its environment (template parameters become
these variables): with the notifier's settings, the only place that reads os.environ."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field, ValidationError, field_validator

from batch_health.checks import parse_check_names
from batch_health.config import REGION_RE, Target
from batch_health.domain.scope import DeploymentScope
from batch_health.environment import (
    BlankIsNone,
    CommaList,
    EnvModel,
    Flag,
    JsonObject,
    Namespace,
    Optional,
    SettingsError,
)
from batch_health.validation import problems

if TYPE_CHECKING:
    from batch_health.notify.incidents import NotifyConfig

TOPIC_ARN_RE = r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[\w-]+$"
SSM_NAME_RE = r"^/?[A-Za-z0-9_.\-/]{1,1011}$"
# Never readable through an `env:` config source (its value would land in the report).
CREDENTIAL_VARIABLES = frozenset(
    {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"}
)


class MonitorSettings(EnvModel):
    """The monitor function's configuration (template parameters become these variables)."""

    job_queue: Optional = Field(None, validation_alias="JOB_QUEUE")
    job_definition: Optional = Field(None, validation_alias="JOB_DEFINITION")
    log_group: Optional = Field(None, validation_alias="LOG_GROUP")
    config_sources: JsonObject = Field(default_factory=dict, validation_alias="CONFIG_SOURCES")
    smoke_parameters: JsonObject = Field(default_factory=dict, validation_alias="SMOKE_PARAMETERS")
    targets_parameter: Annotated[Annotated[str, Field(pattern=SSM_NAME_RE)] | None, BlankIsNone] = (
        Field(None, validation_alias="TARGETS_PARAMETER")
    )
    # Powertools Parameters cache: targets added to the parameter are picked up within this.
    targets_max_age_seconds: Annotated[int, Field(ge=0, le=3600)] = Field(
        300, validation_alias="TARGETS_MAX_AGE_SECONDS"
    )
    target_name: str = Field("default", validation_alias="TARGET_NAME")
    # What the function's role may read and submit (template.yaml's Permissions parameters).
    region: Annotated[str, Field(pattern=REGION_RE)] | None = Field(
        None, validation_alias="AWS_REGION"
    )
    monitored_regions: Annotated[
        tuple[Annotated[str, Field(pattern=REGION_RE)], ...], CommaList
    ] = Field((), validation_alias="MONITORED_REGIONS")
    log_group_prefix: str = Field("/aws/batch/", validation_alias="LOG_GROUP_PREFIX")
    config_parameter_path: Optional = Field(None, validation_alias="CONFIG_PARAMETER_PATH")
    # The SSM parameter holding TargetRoleArns ("" when the stack names none: no role may
    # be assumed); unset outside the stack (any role is tried).
    target_roles_parameter: str | None = Field(None, validation_alias="TARGET_ROLES_PARAMETER")
    critical_checks: Annotated[tuple[str, ...], CommaList] = Field(
        ("LOG_GROUP_CHECK", "SMOKE_SUBMIT_CHECK"), validation_alias="CRITICAL_CHECKS"
    )
    alert_topic_arn: Annotated[Annotated[str, Field(pattern=TOPIC_ARN_RE)] | None, BlankIsNone] = (
        Field(None, validation_alias="ALERT_TOPIC_ARN")
    )
    # "none": the stack subscribed no e-mail and no Slack to the topic (its AlertDestinations
    # output says so too); "" when not deployed by the stack.
    alert_channels: Literal["", "none", "configured"] = Field("", validation_alias="ALERT_CHANNELS")
    incident_table_name: Optional = Field(None, validation_alias="INCIDENT_TABLE_NAME")
    failure_threshold: Annotated[int, Field(ge=1, le=1000)] = Field(
        1, validation_alias="FAILURE_THRESHOLD"
    )
    remind_after_minutes: Annotated[int, Field(ge=0, le=525_600)] = Field(
        360, validation_alias="REMIND_AFTER_MINUTES"
    )
    publish_duration_metrics: Flag = Field(False, validation_alias="PUBLISH_DURATION_METRICS")
    time_budget_margin_ms: Annotated[int, Field(ge=0, le=900_000)] = Field(
        10_000, validation_alias="TIME_BUDGET_MARGIN_MS"
    )
    check_concurrency: Annotated[int, Field(ge=1, le=256)] = Field(
        16, validation_alias="CHECK_CONCURRENCY"
    )
    # "event": the smoke run submits and ends; the job's own event gives the result.
    smoke_result: Literal["wait", "event"] = Field("wait", validation_alias="SMOKE_RESULT")
    # Cancel RUNNABLE jobs that can never be placed (the stack's CancelUnplaceable).
    cancel_unplaceable: Flag = Field(False, validation_alias="CANCEL_UNPLACEABLE")
    queue_depth_gauges: Flag = Field(True, validation_alias="QUEUE_DEPTH_GAUGES")
    metrics_namespace: Namespace = Field(
        "BatchHealth", validation_alias="POWERTOOLS_METRICS_NAMESPACE"
    )
    # What `env:VAR` config sources read: the function's own environment.
    source_environ: dict[str, str] = Field(default_factory=dict, repr=False)

    @field_validator("critical_checks")
    @classmethod
    def _known_checks(cls, names: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(parse_check_names(names, source="", allow_empty=True))

    @field_validator("smoke_parameters")
    @classmethod
    def _string_values(cls, params: dict[str, Any]) -> dict[str, Any]:
        bad = [k for k, v in params.items() if not isinstance(v, str)]
        if bad:
            raise ValueError(f"values must be strings (JSON object of str -> str); not: {bad}")
        return params

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> MonitorSettings:
        env = dict(os.environ if environ is None else environ)
        sources = {k: v for k, v in env.items() if k not in CREDENTIAL_VARIABLES}
        settings: MonitorSettings = cls._from(env, source_environ=sources)
        missing = [
            var
            for var, value in (
                ("JOB_QUEUE", settings.job_queue),
                ("JOB_DEFINITION", settings.job_definition),
            )
            if value is None
        ]
        if settings.targets_parameter is None and missing:
            raise SettingsError(
                f"{' and '.join(missing)}: required when TARGETS_PARAMETER is not set"
            )
        if len(missing) == 1:
            raise SettingsError(
                f"{missing[0]}: set JOB_QUEUE and JOB_DEFINITION together (the smoke target)"
            )
        if settings.region is None:
            raise SettingsError("AWS_REGION: not set (Lambda sets it; so does the CLI's --region)")
        if settings.targets_parameter is None:
            settings.single_target()  # validate now, naming the variables
        return settings

    def scope(self, target_roles: frozenset[str] | None = None) -> DeploymentScope:
        """What this deployment's role may read and submit; `target_roles`: the roles it
        may assume, when known (runtime.monitor.known_target_roles)."""
        home = self.region or ""
        return DeploymentScope(
            home_region=home,
            regions=frozenset(self.monitored_regions or (home,)),
            log_group_prefix=self.log_group_prefix,
            log_group=self.log_group,
            config_parameter_path=self.config_parameter_path,
            smoke_job_queue=self.job_queue,
            smoke_job_definition=self.job_definition,
            target_roles=target_roles,
        )

    def notify_config(self) -> NotifyConfig:
        """How incidents are notified: the topic, the table, the critical checks."""
        from batch_health.notify.incidents import NotifyConfig  # only runs that notify

        return NotifyConfig(
            topic_arn=self.alert_topic_arn,
            table_name=self.incident_table_name,
            critical_checks=self.critical_checks,
            failure_threshold=self.failure_threshold,
            remind_after_minutes=self.remind_after_minutes,
        )

    def single_target(self) -> Target:
        """The one target described by JOB_QUEUE, JOB_DEFINITION, LOG_GROUP, ..."""
        data: dict[str, Any] = {
            "name": self.target_name,
            "job_queue": self.job_queue,
            "job_definition": self.job_definition,
            "config_sources": self.config_sources,
            "smoke": {"parameters": self.smoke_parameters},
        }
        if self.log_group:
            data["log_group"] = self.log_group
        try:
            return Target.model_validate(data)
        except ValidationError as exc:
            raise SettingsError("; ".join(problems(exc, _variable_path))) from None


_TARGET_FIELD_VARS: dict[tuple[str, ...], str] = {
    ("name",): "TARGET_NAME",
    ("job_queue",): "JOB_QUEUE",
    ("job_definition",): "JOB_DEFINITION",
    ("log_group",): "LOG_GROUP",
    ("config_sources",): "CONFIG_SOURCES",
    ("smoke", "parameters"): "SMOKE_PARAMETERS",
}


def _variable_path(loc: tuple[Any, ...]) -> str:
    """A Target field path as the variable that set it, e.g. CONFIG_SOURCES.api.job_queue."""
    parts = [str(p) for p in loc if p != "[key]"]  # pydantic's marker for a bad dict key
    for size in (2, 1):
        var = _TARGET_FIELD_VARS.get(tuple(parts[:size]))
        if var:
            return ".".join([var, *parts[size:]])
    return ".".join(parts)


FUNCTION_NAME_RE = r"^[A-Za-z0-9_:.-]{1,140}$"


class BatchEventSettings(MonitorSettings):
    """The Batch events function's configuration: the monitor's targets and incident
    settings, plus the function it asks to confirm a cause and when a success resolves."""

    monitor_function_name: Annotated[
        Annotated[str, Field(pattern=FUNCTION_NAME_RE)] | None, BlankIsNone
    ] = Field(None, validation_alias="MONITOR_FUNCTION_NAME")
    # A later job's success ends an incident only this long after its newest failure, so a
    # workload that keeps failing some of its jobs does not open and resolve in turn.
    resolve_quiet_minutes: Annotated[int, Field(ge=0, le=1440)] = Field(
        10, validation_alias="RESOLVE_QUIET_MINUTES"
    )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> BatchEventSettings:
        settings = super().from_env(environ)
        assert isinstance(settings, BatchEventSettings)
        if not settings.incident_table_name:
            raise SettingsError("INCIDENT_TABLE_NAME: required (events are counted in it)")
        if not settings.alert_topic_arn:
            raise SettingsError("ALERT_TOPIC_ARN: required (incidents are published to it)")
        return settings
