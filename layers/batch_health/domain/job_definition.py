"""A job definition as the checks read it, parsed once from DescribeJobDefinitions' answer.

AWS's answer is a nest of optional objects (containerProperties, logConfiguration, its
options, retryStrategy); a value of an unexpected type is read as absent, so no check has
to pick the answer apart itself, and an odd answer never crashes one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# Where a container's log goes when its awslogs options name no group.
# https://docs.aws.amazon.com/batch/latest/userguide/using_awslogs.html
BATCH_DEFAULT_LOG_GROUP = "/aws/batch/job"
AWSLOGS = "awslogs"


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


@dataclass(frozen=True)
class JobDefinitionView:
    name: str
    revision: int | None
    arn: str
    type: str  # "container", "multinode", ... ("" when absent)
    platform_capabilities: tuple[str, ...]
    has_container: bool  # containerProperties present and not empty
    image: str
    command: tuple[str, ...]
    execution_role_arn: str
    job_role_arn: str
    log_driver: str | None  # None: not set, which means awslogs
    log_options: Mapping[str, Any]
    parameters: Mapping[str, str]
    retry_attempts: Any  # retryStrategy.attempts as given (1 when absent)
    raw: Mapping[str, Any] = field(repr=False, compare=False, default_factory=dict)

    @classmethod
    def parse(cls, answer: Mapping[str, Any]) -> JobDefinitionView:
        container = _mapping(answer.get("containerProperties"))
        log_config = _mapping(container.get("logConfiguration"))
        driver = log_config.get("logDriver")
        revision = answer.get("revision")
        command = container.get("command")
        capabilities = answer.get("platformCapabilities")
        return cls(
            name=_text(answer.get("jobDefinitionName")),
            revision=revision if isinstance(revision, int) else None,
            arn=_text(answer.get("jobDefinitionArn")),
            type=_text(answer.get("type")),
            platform_capabilities=tuple(c for c in capabilities if isinstance(c, str))
            if isinstance(capabilities, list) and capabilities
            else ("EC2",),
            has_container=bool(container),
            image=_text(container.get("image")),
            command=tuple(str(c) for c in command) if isinstance(command, list) else (),
            execution_role_arn=_text(container.get("executionRoleArn")),
            job_role_arn=_text(container.get("jobRoleArn")),
            log_driver=driver if isinstance(driver, str) and driver else None,
            log_options=_mapping(log_config.get("options")),
            parameters={
                k: v
                for k, v in _mapping(answer.get("parameters")).items()
                if isinstance(k, str) and isinstance(v, str)
            },
            retry_attempts=_mapping(answer.get("retryStrategy")).get("attempts", 1),
            raw=answer,
        )

    @property
    def logs_to_cloudwatch(self) -> bool:
        return self.log_driver in (None, AWSLOGS)

    @property
    def awslogs_group(self) -> str | None:
        """The group its containers log to (Batch's default when the options name none);
        None when it logs with another driver."""
        if not self.logs_to_cloudwatch:
            return None
        group = self.log_options.get("awslogs-group")
        return group if isinstance(group, str) and group else BATCH_DEFAULT_LOG_GROUP

    @property
    def names_its_log_group(self) -> bool:
        return isinstance(self.log_options.get("awslogs-group"), str) and bool(
            self.log_options.get("awslogs-group")
        )

    def label(self, fallback: str) -> str:
        """`name:revision`, for messages."""
        return f"{self.name or fallback}:{self.revision}"

    @property
    def roles(self) -> dict[str, str]:
        """label -> role ARN, for the roles the job definition names."""
        named = {"execution role": self.execution_role_arn, "job role": self.job_role_arn}
        return {label: arn for label, arn in named.items() if arn}
