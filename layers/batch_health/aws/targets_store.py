"""Targets kept in SSM Parameter Store: one document, or one parameter per target.

TARGETS_PARAMETER names either
- a parameter holding `{"targets": [...]}` (the config-file schema). A standard
  parameter holds 4 KB, about 30 targets with config sources; or
- a path ending in `/`, under which each parameter holds one target object (or a
  `{"targets": [...]}` of a few). Read with GetParametersByPath: up to the configuration's
  maximum of 200 targets, each within a standard parameter's 4 KB.

`batch-health targets push` writes the second form from a config file, checking every
target's size before anything is written, so a target that does not fit is named with its
size and nothing is half-written.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from batch_health.aws.errors import AWS_ERRORS, classify
from batch_health.config import ConfigError, SuiteConfig, Target, parse_suite_config
from batch_health.limits import SSM_ADVANCED_VALUE_MAX_BYTES, SSM_STANDARD_VALUE_MAX_BYTES

TIER_LIMITS = {"Standard": SSM_STANDARD_VALUE_MAX_BYTES, "Advanced": SSM_ADVANCED_VALUE_MAX_BYTES}


class TargetsParameterError(ConfigError):
    """The TARGETS_PARAMETER document cannot be read or is invalid."""


def is_path(name: str) -> bool:
    return name.endswith("/")


def request_path(name: str) -> str:
    """The Path GetParametersByPath is called with (and authorized on): no trailing `/`."""
    return name.rstrip("/") or "/"


def read_targets(name: str, provider: Any, max_age: int) -> SuiteConfig:
    """The targets under TARGETS_PARAMETER `name` (a parameter, or a path ending in /),
    through a Powertools SSMProvider (cached for `max_age` seconds)."""
    where = f"TARGETS_PARAMETER {name}"
    if not is_path(name):
        text = _fetch(
            where,
            "ssm:GetParameter",
            name,
            lambda: provider.get(name, max_age=max_age, decrypt=True),
        )
        return parse_suite_config(_json(text, where), source=where)
    path = request_path(name)
    values = _fetch(
        where,
        "ssm:GetParametersByPath",
        path,
        lambda: provider.get_multiple(path, max_age=max_age, decrypt=True, recursive=True),
    )
    if not values:
        raise TargetsParameterError(
            f"{where}: no parameter under {path}: write the targets with "
            f"`batch-health targets push --config FILE --path {name}`"
        )
    targets: list[Target] = []
    for key in sorted(values):
        source = f"{where} (parameter {path.rstrip('/')}/{key})"
        document = _json(values[key], source)
        if isinstance(document, dict) and "targets" not in document:
            document = {"targets": [document]}
        targets.extend(parse_suite_config(document, source=source).targets)
    try:
        return SuiteConfig(targets=targets)
    except ValueError as exc:
        detail = "; ".join(e["msg"] for e in getattr(exc, "errors", lambda: [])()) or str(exc)
        raise TargetsParameterError(f"{where}: {detail}") from None


def _fetch(where: str, action: str, resource: str, get: Any) -> Any:
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

    try:
        return get()
    except GetParameterError as exc:
        cause = exc.__context__
        if isinstance(cause, AWS_ERRORS):
            failure = classify(cause)
            hint = failure.hint(action=action, resource=resource)
            detail = f"{failure.summary.rstrip('.')}. {hint}"
        else:
            detail = str(exc)
        raise TargetsParameterError(f"{where}: cannot read it: {detail}") from None


def _json(text: Any, where: str) -> Any:
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise TargetsParameterError(
            f"{where}: not a JSON document (line {exc.lineno} column {exc.colno}: {exc.msg})"
        ) from None


# ---- writing: `batch-health targets push` -----------------------------------------------


@dataclass(frozen=True)
class TargetParameter:
    name: str  # the parameter's full name
    value: str  # the target as compact JSON

    @property
    def size(self) -> int:
        return len(self.value.encode("utf-8"))


def target_parameters(config: SuiteConfig, path: str) -> list[TargetParameter]:
    """One parameter per target under `path`, its value the target without defaults."""
    base = path if path.endswith("/") else f"{path}/"
    return [
        TargetParameter(
            f"{base}{t.name}",
            json.dumps(
                t.model_dump(mode="json", exclude_defaults=True),
                separators=(",", ":"),
                ensure_ascii=False,
            ),
        )
        for t in config.targets
    ]


def oversized(parameters: Iterable[TargetParameter], tier: str) -> list[str]:
    """One line per parameter too large for the tier, naming its size."""
    limit = TIER_LIMITS[tier]
    lines = []
    for p in parameters:
        if p.size > limit:
            bigger = " (or --tier Advanced: 8,192 bytes)" if tier == "Standard" else ""
            lines.append(
                f"{p.name}: {p.size:,} bytes, over the {limit:,} bytes a {tier.lower()} "
                f"parameter holds: shorten the target (config sources, smoke parameters)"
                f"{bigger}"
            )
    return lines


def push(
    ssm: Any, config: SuiteConfig, path: str, *, tier: str = "Standard", prune: bool = False
) -> tuple[list[str], list[str]]:
    """Write every target's parameter; with `prune`, delete the path's other parameters.

    Sizes are checked first: when any target is too large nothing is written
    (ConfigError naming each). Returns (written names, deleted names).
    """
    parameters = target_parameters(config, path)
    too_large = oversized(parameters, tier)
    if too_large:
        raise ConfigError("nothing was written:\n" + "\n".join(too_large))
    written = []
    for p in parameters:
        ssm.put_parameter(Name=p.name, Value=p.value, Type="String", Tier=tier, Overwrite=True)
        written.append(p.name)
    deleted: list[str] = []
    if prune:
        keep = {p.name for p in parameters}
        pages = ssm.get_paginator("get_parameters_by_path").paginate(
            Path=request_path(path), Recursive=True
        )
        stale = [p["Name"] for page in pages for p in page["Parameters"] if p["Name"] not in keep]
        for start in range(0, len(stale), 10):  # DeleteParameters takes up to 10 names
            ssm.delete_parameters(Names=stale[start : start + 10])
        deleted = stale
    return written, deleted
