"""A function's configuration from its environment: the shared pieces of the settings models.

Each function has one settings model (batch_health.runtime.settings,
batch_health.runtime.notifier_settings), validated on entry; every error names the
environment variable, e.g. `FAILURE_THRESHOLD: Input should be greater than or equal to 1`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from batch_health.validation import problems

# CloudWatch namespaces: these characters; "AWS/" is reserved for AWS services.
NAMESPACE_RE = r"^[A-Za-z0-9./#:_-]{1,255}$"
TRUE = frozenset({"1", "true", "yes", "on"})
FALSE = frozenset({"0", "false", "no", "off", ""})


class SettingsError(ValueError):
    """The function's environment is misconfigured; the message names the variable."""


def parse_flag(value: str) -> bool:
    """`true`/`yes`/`1`/`on` or `false`/`no`/`0`/`off`/"" (any case); ValueError otherwise."""
    text = value.strip().lower()
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    raise ValueError(f"expected true or false, got {value!r}")


def _blank_is_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


def _json_object(value: Any) -> Any:
    """A JSON object from an env var ("" = {}); a non-object is rejected by the field type."""
    if not isinstance(value, str):
        return value
    if not value.strip():
        return {}
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise ValueError(f"invalid JSON at column {exc.colno}: {exc.msg}") from None


def _comma_list(value: Any) -> Any:
    if isinstance(value, str):
        return tuple(item.strip() for item in value.split(",") if item.strip())
    return value


def _flag(value: Any) -> Any:
    return parse_flag(value) if isinstance(value, str) else value


def _custom_namespace(value: str) -> str:
    if value.startswith("AWS/"):
        raise ValueError(f"{value!r}: namespaces starting with AWS/ are reserved for AWS")
    return value


Optional = Annotated[str | None, BeforeValidator(_blank_is_none)]
JsonObject = Annotated[dict[str, Any], BeforeValidator(_json_object)]
Flag = Annotated[bool, BeforeValidator(_flag)]
CommaList = BeforeValidator(_comma_list)
BlankIsNone = BeforeValidator(_blank_is_none)
Namespace = Annotated[str, Field(pattern=NAMESPACE_RE), AfterValidator(_custom_namespace)]


class EnvModel(BaseModel):
    """Fields are read by their environment variable name (the validation alias)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    @classmethod
    def _from(cls, environ: Mapping[str, str], **extra: Any) -> Any:
        try:
            return cls.model_validate({**environ, **extra})
        except ValidationError as exc:
            where = lambda loc: ".".join(str(p) for p in loc) or "environment"  # noqa: E731
            raise SettingsError("; ".join(problems(exc, where))) from None
