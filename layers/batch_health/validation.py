"""pydantic's validation errors as messages that name what is wrong: the one formatter.

Every reader of operator input (config file, TARGETS_PARAMETER, the function's environment,
the invocation event) words a problem the same way: `<where>: <what>`, where `<where>` is
the caller's name for the location (a file key, a target, an environment variable, an
event field) and `<what>` is pydantic's message, or the validator's own for a value error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

KEY_MARKER = "[key]"  # pydantic's location part for a bad dictionary key


def dotted(loc: tuple[Any, ...]) -> str:
    """`targets.0.smoke` -> `targets[0].smoke`; a dictionary key's marker left out."""
    path = ""
    for part in loc:
        if part == KEY_MARKER:
            continue
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def error_message(err: ErrorDetails, *, unknown: str = "unknown key") -> str:
    if err["type"] == "extra_forbidden":
        return unknown
    if err["type"] == "value_error":
        message = str(err.get("ctx", {}).get("error") or err["msg"])
    elif err["type"] == "literal_error":
        message = f"{err['msg']}, got {err['input']!r}"
    else:
        message = err["msg"]
    return f"invalid key: {message}" if err["loc"][-1:] == (KEY_MARKER,) else message


def problems(
    exc: ValidationError,
    where: Callable[[tuple[Any, ...]], str] = dotted,
    *,
    unknown: str = "unknown key",
) -> list[str]:
    """One `<where>: <message>` line per problem."""
    return [
        f"{where(_location(err))}: {error_message(err, unknown=unknown)}" for err in exc.errors()
    ]


def _location(err: ErrorDetails) -> tuple[Any, ...]:
    """The error's location; an unknown key that is spelled like pydantic's dictionary-key
    marker is quoted, so `dotted` does not drop it as one."""
    loc = tuple(err["loc"])
    if err["type"] == "extra_forbidden" and loc[-1:] == (KEY_MARKER,):
        return (*loc[:-1], repr(KEY_MARKER))
    return loc
