"""The corpus of real AWS Batch shapes (tests/data/batch_shapes.json): job definitions,
compute environments, job queues and scheduling policies, each with its public source."""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path
from typing import Any

SHAPES = Path(__file__).resolve().parents[1] / "data" / "batch_shapes.json"


@functools.cache
def _loaded() -> dict[str, Any]:
    return json.loads(SHAPES.read_text(encoding="utf-8"))


def load_shapes() -> dict[str, Any]:
    """The whole corpus (a copy: tests may change what they take)."""
    return copy.deepcopy(_loaded())


def entry(section: str, id_: str) -> dict[str, Any]:
    """One entry (`{id, source, notes, answer, ...}`) of a section, by id (a copy)."""
    for item in _loaded()[section]:
        if item["id"] == id_:
            return copy.deepcopy(item)
    known = ", ".join(i["id"] for i in _loaded()[section])
    raise KeyError(f"{section} has no entry {id_!r} (entries: {known})")


def answer(section: str, id_: str) -> dict[str, Any]:
    return entry(section, id_)["answer"]


def ids(section: str, **match: Any) -> list[str]:
    """The ids of a section's entries whose fields equal `match` (e.g. healthy=True)."""
    return [
        item["id"] for item in _loaded()[section] if all(item.get(k) == v for k, v in match.items())
    ]
