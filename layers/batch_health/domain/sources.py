"""Where CONFIG_MATCH_* reads a configured value from.

`literal`, `ssm:/name`, `env:VAR`, `file:path#KEY`. For files, KEY is a `.env`-style
`KEY=value` (optionally `export KEY=value`), a PowerShell `$Key = "value"`, a Python
`KEY = "value"` assignment, or a top-level key of a JSON document.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class SourceError(Exception):
    """A source could not be read; the message says which and why."""


@dataclass(frozen=True)
class SourceRef:
    kind: str  # literal | ssm | env | file
    location: str
    key: str = ""

    @property
    def label(self) -> str:
        if self.kind == "literal":
            return "literal"
        if self.kind == "file":
            return f"file:{self.location}#{self.key}"
        return f"{self.kind}:{self.location}"


def parse_source(spec: str) -> SourceRef:
    if spec.startswith("ssm:"):
        name = spec[4:]
        if not name:
            raise SourceError(f"{spec!r}: ssm: needs a parameter name, e.g. ssm:/app/QUEUE")
        return SourceRef("ssm", name)
    if spec.startswith("env:"):
        var = spec[4:]
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", var):
            raise SourceError(f"{spec!r}: env: needs a variable name, e.g. env:VIDEO_QUEUE")
        return SourceRef("env", var)
    if spec.startswith("file:"):
        path, sep, key = spec[5:].rpartition("#")
        if not sep or not path or not key:
            raise SourceError(f"{spec!r}: file: needs path#KEY, e.g. file:.env#VIDEO_QUEUE")
        return SourceRef("file", path, key)
    return SourceRef("literal", spec)


def _assignment_pattern(key: str) -> re.Pattern[str]:
    # KEY=value | export KEY=value | $Key = "value" | KEY = 'value'  (value may be quoted).
    # PowerShell variable names are case-insensitive; shell and Python names are not.
    name = re.escape(key)
    return re.compile(
        rf"""^\s*(?:export\s+)?(?:\$(?i:{name})|{name})\s*[:]?=\s*"""
        r"""(?:"([^"]*)"|'([^']*)'|([^\s#;]*))""",
        re.MULTILINE,
    )


def read_file_key(path: str | Path, key: str) -> str:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise SourceError(f"cannot read {p}: {exc.strerror or exc}") from None
    if p.suffix.lower() == ".json":
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SourceError(f"{p}: invalid JSON at line {exc.lineno}: {exc.msg}") from None
        if not isinstance(doc, dict) or key not in doc:
            raise SourceError(f"{p}: no top-level key {key!r}")
        value = doc[key]
        # bool is an int subclass, but `true` is not a resource name.
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise SourceError(f"{p}: key {key!r} is not a string")
        return str(value)
    matches = _assignment_pattern(key).findall(text)
    if not matches:
        raise SourceError(f"{p}: no assignment to {key!r}")
    # The last assignment wins, as when the file is sourced.
    return next(v for v in matches[-1] if v) if any(matches[-1]) else ""


def resolve_source(
    spec: str,
    *,
    ssm_lookup: Callable[[str], str | None],
    environ: Mapping[str, str] | None = None,
) -> tuple[SourceRef, str]:
    """The value a source holds, or SourceError naming the source and the reason."""
    ref = parse_source(spec)
    if ref.kind == "literal":
        return ref, ref.location
    if ref.kind == "env":
        env = os.environ if environ is None else environ
        if ref.location not in env:
            raise SourceError(f"environment variable {ref.location} is not set")
        return ref, env[ref.location]
    if ref.kind == "file":
        return ref, read_file_key(ref.location, ref.key)
    value = ssm_lookup(ref.location)
    if value is None:
        raise SourceError(f"SSM parameter {ref.location} does not exist")
    return ref, value


def ssm_parameter_names(sources: Mapping[str, Mapping[Any, str]]) -> list[str]:
    """The SSM parameters a target's config sources read (so they are fetched in one call)."""
    return [
        parse_source(spec).location
        for specs in sources.values()
        for spec in specs.values()
        if spec.startswith("ssm:")
    ]
