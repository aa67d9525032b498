"""Slack: Block Kit cards and posting them to an incoming webhook.

The webhook URL is a secret (anyone holding it can post to the channel): it is never
logged, never put in an exception message, and errors from the HTTP layer are re-raised
without their cause so a traceback cannot carry it either.
"""

from __future__ import annotations

import email.utils
import http.client
import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit

from batch_health.limits import (
    SLACK_CONTEXT_TEXT_MAX,
    SLACK_FIELD_TEXT_MAX,
    SLACK_FIELDS_MAX,
    SLACK_HEADER_TEXT_MAX,
    SLACK_SECTION_TEXT_MAX,
)
from batch_health.models import iso
from batch_health.notify.messages import (
    Event,
    Link,
    Notification,
    format_duration,
    headline,
    subject,
)
from batch_health.text import clip

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 5.0
MAX_RETRY_AFTER_S = 10.0  # wait longer than this and Lambda's own retry does better
FALLBACK_MAX = 3000  # the notification preview: far below SLACK_TEXT_MAX, enough to read
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}

EMOJI = {
    Event.FAIL: ":red_circle:",
    Event.REMINDER: ":warning:",
    Event.RESOLVED: ":large_green_circle:",
    Event.TEST: ":test_tube:",
}


class SlackError(RuntimeError):
    """Posting to Slack failed for good; the message never contains the webhook URL."""


def escape(text: str) -> str:
    """Slack mrkdwn control characters as entities, so user text cannot form links or mentions."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def escaped_size(text: str) -> int:
    return len(escape(text))


def escape_within(text: str, limit: int) -> str:
    """`text` escaped, at most `limit` characters: clipped before escaping, so an entity
    (`&amp;`) is never cut in half."""
    return escape(clip(text, limit, size=escaped_size))


def link(url: str, label: str) -> str:
    safe_url = escape(url).replace("|", "%7C")
    return f"<{safe_url}|{escape(label)}>"


def slack_date(ts: datetime) -> str:
    """A time every reader sees in their own time zone, with an ISO fallback."""
    return f"<!date^{int(ts.timestamp())}^{{date_short_pretty}} {{time}}|{iso(ts)}>"


@dataclass
class Card:
    """What a Slack message shows; every string is plain user text, escaped on render."""

    header: str
    fallback: str  # the notification preview
    fields: list[tuple[str, str]] = field(default_factory=list)
    detail: str = ""
    hints: list[str] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    footer: str = ""
    emoji: str = ""
    # Pre-formatted mrkdwn (built here from trusted parts) shown under the fields.
    extra_fields_mrkdwn: list[tuple[str, str]] = field(default_factory=list)


def render(card: Card) -> dict[str, object]:
    """The webhook payload: Block Kit blocks plus the `text` fallback for notifications,
    every text within Block Kit's limits (batch_health.limits)."""
    header = clip(f"{card.emoji} {card.header}".strip(), SLACK_HEADER_TEXT_MAX)
    blocks: list[dict[str, object]] = [
        # plain_text is never parsed for links or mentions, so it is not escaped.
        {"type": "header", "text": {"type": "plain_text", "text": header, "emoji": True}}
    ]
    fields = [_field(k, v) for k, v in card.fields if v]
    fields += [
        f"*{escape(k)}*\n{v}"  # trusted mrkdwn (dates): shown whole or not at all
        for k, v in card.extra_fields_mrkdwn
        if v and len(escape(k)) + len(v) + 3 <= SLACK_FIELD_TEXT_MAX
    ]
    if fields:
        items = [{"type": "mrkdwn", "text": f} for f in fields[:SLACK_FIELDS_MAX]]
        blocks.append({"type": "section", "fields": items})
    if card.detail:
        blocks.append(_section(escape_within(card.detail, SLACK_SECTION_TEXT_MAX)))
    if card.hints:
        blocks.append(_section(_listing("*Hints*", [f"• {h}" for h in card.hints])))
    if card.links:
        blocks.append(_section(_links(card.links)))
    if card.footer:
        footer = escape_within(card.footer, SLACK_CONTEXT_TEXT_MAX)
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": footer}]})
    return {"text": escape_within(card.fallback, FALLBACK_MAX), "blocks": blocks}


def _field(label: str, value: str) -> str:
    prefix = f"*{escape(label)}*\n"
    return prefix + escape_within(value, SLACK_FIELD_TEXT_MAX - len(prefix))


def _listing(title: str, lines: list[str], limit: int = SLACK_SECTION_TEXT_MAX) -> str:
    """`title` and as many escaped `lines` as fit (the last one clipped), then how many
    did not fit."""
    text = title
    for i, line in enumerate(lines):
        left = len(lines) - i - 1
        more = f"\n(+{left} more)" if left else ""
        room = limit - len(text) - 1 - len(more)
        if room <= len(more) + 10:
            return f"{text}\n(+{len(lines) - i} more)"
        text = f"{text}\n{escape_within(line, room)}"
    return text


def _links(links: list[Link]) -> str:
    """Whole links only (a clipped URL is a broken one), as many as fit."""
    text = "*Links*"
    for item in links:
        entry = link(item.url, item.label)
        if len(text) + 1 + len(entry) > SLACK_SECTION_TEXT_MAX:
            break
        text = f"{text}\n{entry}"
    return text


def _section(mrkdwn: str) -> dict[str, object]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": mrkdwn}}


def card_for_notification(n: Notification) -> Card:
    timing: list[tuple[str, str]] = []
    duration = format_duration(n.duration) if n.duration is not None else ""
    since = slack_date(n.since) if n.since is not None else ""
    if n.event is Event.RESOLVED and duration:
        timing.append(("Failed for", f"{escape(duration)} (since {since})"))
    elif since and n.event is not Event.TEST:
        long_enough = n.duration is not None and n.duration.total_seconds() >= 60
        timing.append(("Since", f"{since} ({escape(duration)})" if long_enough else since))
    if n.event is Event.TEST:
        header = "TEST: batch-health notification test"
    else:
        header = f"{n.event.value}: {n.check} on {n.target}"
    detail = n.detail
    if n.event is Event.REMINDER:
        detail = headline(n)  # "still failing after 6 h: <detail>"
    elif n.event is Event.RESOLVED and duration:
        detail = f"{headline(n)}\n{n.detail}"  # "resolved after 42 min", then the OK detail
    footer = f"batch-health · {n.event.value} · {iso(n.occurred_at)}"
    if n.note:
        footer = f"{footer} · {n.note}"
    return Card(
        header=header,
        emoji=EMOJI.get(n.event, ""),
        fallback=subject(n),
        fields=[
            ("Target", n.target),
            ("Check", n.check),
            ("Status", n.status),
            ("Region", n.region),
        ],
        extra_fields_mrkdwn=timing,
        detail=detail,
        hints=list(n.hints),
        links=list(n.links),
        footer=footer,
    )


def card_for_text(title: str, message: str) -> Card:
    """Any other message on the topic: shown as it came, so nothing is lost."""
    title = title.strip() or "Message on the alert topic"
    return Card(
        header=title,
        emoji=":information_source:",
        fallback=title,
        detail=message.strip(),
        footer="batch-health · forwarded from SNS",
    )


# ---- posting ----------------------------------------------------------------------------


def check_webhook_url(url: str) -> None:
    """https only (plain http only to this machine, for local stubs); errors omit the URL."""
    try:
        parts = urlsplit(url)
    except ValueError:
        raise SlackError("the Slack webhook URL is not a valid URL") from None
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS:
        return
    raise SlackError(
        f"the Slack webhook URL must be https://... (got scheme {parts.scheme or 'none'!r})"
    )


def _retry_after_seconds(value: str | None) -> float:
    if not value:
        return 1.0
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return 1.0
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _redact(text: str, url: str) -> str:
    path = urlsplit(url).path
    text = text.replace(url, "<webhook>")
    return text.replace(path, "<webhook>") if len(path) > 1 else text


def post_message(
    webhook_url: str,
    payload: dict[str, object],
    *,
    timeout: float = DEFAULT_TIMEOUT_S,
    max_retry_after: float = MAX_RETRY_AFTER_S,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """POST the payload; one retry after a 429's Retry-After; SlackError when it fails."""
    check_webhook_url(webhook_url)
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    for attempt in (1, 2):
        request = urllib.request.Request(
            webhook_url,
            data=body,
            headers={"Content-Type": "application/json; charset=utf-8"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                response.read(1024)
                logger.info("posted to Slack (HTTP %s)", response.status)
                return
        except urllib.error.HTTPError as exc:
            status = exc.code
            retry_after = exc.headers.get("Retry-After") if exc.headers else None
            answer = _redact(exc.read(300).decode("utf-8", "replace").strip(), webhook_url)
            exc.close()
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            kind = "timed out" if isinstance(reason, TimeoutError) else "unreachable"
            detail = _redact(str(reason) or type(reason).__name__, webhook_url)
            # `from None`: the cause would carry the request, and with it the URL.
            raise SlackError(f"Slack webhook {kind} (timeout {timeout:g}s): {detail}") from None
        if status == 429 and attempt == 1:
            wait = _retry_after_seconds(retry_after)
            if wait <= max_retry_after:
                logger.info("Slack rate-limited the webhook; retrying in %.1fs", wait)
                sleep(wait)
                continue
            raise SlackError(
                f"Slack rate-limited the webhook (HTTP 429, Retry-After {wait:.0f}s "
                f"> {max_retry_after:g}s): left to the caller's retry"
            )
        again = " after one retry" if attempt == 2 else ""
        raise SlackError(f"Slack webhook answered HTTP {status}{again}: {answer or 'no body'}")
    raise AssertionError("unreachable")  # pragma: no cover
