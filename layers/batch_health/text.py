"""Shortening text to a limit without breaking it: the one clipping helper.

Every producer with a size limit (SNS subject and message, Slack blocks, alarm
descriptions, quotes of AWS's reasons in a report) clips through `clip`, measuring what the
limit measures: characters (`len`), UTF-8 bytes (`utf8_size`), or the length after
escaping (Slack: clip the raw text so that its escaped form fits, never cutting an entity
such as `&amp;` in half).
"""

from __future__ import annotations

import re
from collections.abc import Callable

ELLIPSIS = "…"


def utf8_size(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def one_line(text: str) -> str:
    """Whitespace (newlines included) folded to single spaces."""
    return " ".join(text.split())


def clip(text: str, limit: int, *, size: Callable[[str], int] = len, marker: str = ELLIPSIS) -> str:
    """`text` when `size(text) <= limit`, else its longest prefix that, with `marker`
    appended, measures at most `limit` ("" when not even the marker fits).

    `size` must grow with the prefix (length, UTF-8 bytes, escaped length all do).
    """
    if size(text) <= limit:
        return text
    if size(marker) > limit:
        return ""
    low, high = 0, len(text)
    while low < high:
        mid = (low + high + 1) // 2
        if size(text[:mid].rstrip() + marker) <= limit:
            low = mid
        else:
            high = mid - 1
    return text[:low].rstrip() + marker


# What SNS and SQS accept in a message (the XML 1.0 character range): tab, newline,
# carriage return and printable characters; not lone surrogates or other control
# characters. https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html
_INVALID_CHARACTERS = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def valid_text(text: str) -> str:
    """`text` with characters a message may not carry replaced by U+FFFD."""
    return _INVALID_CHARACTERS.sub("\ufffd", text)
