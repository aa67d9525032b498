"""What CONFIG_MATCH_QUEUE and CONFIG_MATCH_JOBDEF share: every configured source names the
same resource as the monitor checks. Not a check itself."""

from __future__ import annotations

from typing import ClassVar

from batch_health.aws.errors import AWS_ERRORS, classify
from batch_health.checks.base import Check, CheckContext
from batch_health.config import ConfigKey, Target
from batch_health.domain.arns import resource_name
from batch_health.domain.sources import (
    SourceError,
    parse_source,
    resolve_source,
    ssm_parameter_names,
)
from batch_health.models import CheckResult

MONITOR_SOURCE = "monitor"


class ConfigMatchCheck(Check):
    key: ClassVar[ConfigKey]
    noun: ClassVar[str]
    step = 0
    step_title = "CONFIG_DIFF"
    priority = 20

    def services_for(self, target: Target) -> tuple[str, ...]:
        return ("ssm",) if ssm_parameter_names(target.config_sources) else ()

    def run(self, ctx: CheckContext) -> CheckResult:
        specs = {
            name: sources[self.key]
            for name, sources in ctx.target.config_sources.items()
            if self.key in sources
        }
        if not specs:
            return self.skip(
                f"no config sources for {self.key} "
                f"(set targets.config_sources.<name>.{self.key} to compare)"
            )
        configured = getattr(ctx.target, self.key)
        values: dict[str, str] = {MONITOR_SOURCE: configured}
        labels: dict[str, str] = {MONITOR_SOURCE: f"target.{self.key}"}
        unreadable: dict[str, str] = {}
        scope = ctx.options.scope
        for source, spec in specs.items():
            ref = parse_source(spec)
            outside = scope.ssm_read_problem(ctx.target, ref.location) if scope else None
            if ref.kind == "ssm" and outside:
                unreadable[source] = f"{spec}: {outside}"
                labels[source] = spec
                continue
            try:
                ref, value = resolve_source(
                    spec, ssm_lookup=ctx.aws.ssm_parameter, environ=ctx.options.environ
                )
            except SourceError as exc:
                unreadable[source] = str(exc)
                labels[source] = spec
                continue
            except AWS_ERRORS as exc:
                unreadable[source] = f"{spec}: {classify(exc).summary}"
                labels[source] = spec
                continue
            values[source] = value
            labels[source] = ref.label
        data = {"values": values, "sources": labels}
        if unreadable:
            first = next(iter(unreadable))
            return self.fail(
                f"source {first} unreadable: {unreadable[first]}",
                [
                    f"Fix config source {name} ({labels[name]}): {reason}"
                    for name, reason in unreadable.items()
                ],
                unreadable=unreadable,
                **data,
            )
        names = {resource_name(v) for v in values.values()}
        listing = " ".join(f"{src}={val}" for src, val in values.items())
        if len(names) == 1:
            return self.ok(f"{listing} -> MATCH", **data)
        odd = [
            src for src, val in values.items() if resource_name(val) != resource_name(configured)
        ]
        return self.fail(
            f"{listing} -> MISMATCH",
            [
                f"Make every source name the same {self.noun}: {src} ({labels[src]}) says "
                f"{values[src]!r}, the monitor checks {configured!r}"
                for src in odd
            ],
            **data,
        )
