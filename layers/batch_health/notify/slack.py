"""Slack: Block Kit cards and posting them to an incoming webhook.

Posting goes through slack_sdk's WebhookClient and its retry handlers (one retry, for a
refused connection or a short rate limit). The webhook URL is a secret (anyone holding it
can post to the channel): it is never logged (by this module or by slack_sdk), never put in
an exception message, and no SlackError chains the HTTP layer's exception, so a traceback
cannot carry it either.
"""

from __future__ import annotations

import http.client
import logging
from dataclasses import dataclass, field
from datetime import datetime
from urllib.error import URLError
from urllib.parse import urlsplit

from slack_sdk.errors import SlackClientError
from slack_sdk.http_retry import (
    ConnectionErrorRetryHandler,
    HttpRequest,
    HttpResponse,
    RateLimitErrorRetryHandler,
    RetryState,
)
from slack_sdk.webhook import WebhookClient, WebhookResponse

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
    if n.confirmation:
        detail = f"{detail}\nConfirmed by check: {n.confirmation}"
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
            ("Reason", n.reason_class),
            ("Jobs", str(n.jobs) if n.jobs else ""),
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

# slack_sdk's WebhookClient logs the webhook URL: each request at DEBUG, and at INFO on a
# retry ("Going to retry the same request: POST <url>"). Its DEBUG lines are gated on the
# logger's own level, not the effective one, so at NOTSET they are written as soon as an
# ancestor (the root, in a verbose Lambda) is at DEBUG. The URL is the secret: its logger
# is set above every level it logs at (it logs nothing at CRITICAL), and this module logs
# the retries and results instead, without the URL. An explicit level here also survives a
# parent (`slack_sdk`) being set to DEBUG.
SDK_LOGGER = logging.getLogger("slack_sdk.webhook.client")
SDK_LOGGER.setLevel(logging.CRITICAL)


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


def _redact(text: str, url: str) -> str:
    """`text` without the webhook URL or its path (the secret part), e.g. in Slack's answer."""
    path = urlsplit(url).path
    text = text.replace(url, "<webhook>")
    return text.replace(path, "<webhook>") if len(path) > 1 else text


def _retry_after(response: HttpResponse) -> int | None:
    """Retry-After as slack_sdk reads it (whole seconds; 1 when absent), None if unreadable."""
    values = next((v for k, v in response.headers.items() if k.lower() == "retry-after"), None)
    if not values:
        return 1
    try:
        return int(values[0])
    except ValueError:
        return None


def _no_answer(exc: BaseException, url: str) -> tuple[str, str]:
    """What kept Slack from answering ("timed out" or "unreachable", and why), without the URL."""
    reason = exc.reason if isinstance(exc, URLError) else exc
    kind = "timed out" if isinstance(reason, TimeoutError) else "unreachable"
    return kind, _redact(str(reason) or type(reason).__name__, url)


class ConnectionRetry(ConnectionErrorRetryHandler):
    """slack_sdk's retry of a refused or reset connection (once, after its backoff with
    jitter), logged without the URL; `retried` says whether it did."""

    retried = False

    def prepare_for_next_attempt(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        kind, reason = _no_answer(error, request.url) if error else ("unreachable", "")
        logger.info("Slack webhook %s (%s); retrying once", kind, reason)
        super().prepare_for_next_attempt(
            state=state, request=request, response=response, error=error
        )
        self.retried = True


class CappedRateLimitRetry(RateLimitErrorRetryHandler):
    """slack_sdk's retry of an HTTP 429 (sleeps Retry-After plus up to 1 s of jitter), only
    when Retry-After is at most `max_wait`: a longer sleep would hold the function while
    Lambda's own async retry waits for free. `too_long` is the wait it refused."""

    retried = False

    def __init__(self, max_wait: float) -> None:
        super().__init__(max_retry_count=1)
        self.max_wait = max_wait
        self.too_long: int | None = None

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if response is None or not super()._can_retry(
            state=state, request=request, response=response, error=error
        ):
            return False  # not a 429
        wait = _retry_after(response)
        if wait is None:  # slack_sdk's int() would fail on it: left to the caller's retry
            return False
        if wait > self.max_wait:
            self.too_long = wait
            return False
        return True

    def prepare_for_next_attempt(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        wait = _retry_after(response) if response is not None else 1
        logger.info("Slack rate-limited the webhook (HTTP 429); retrying in %ss", wait)
        super().prepare_for_next_attempt(
            state=state, request=request, response=response, error=error
        )
        self.retried = True


def post_message(
    webhook_url: str,
    payload: dict[str, object],
    *,
    timeout: float = DEFAULT_TIMEOUT_S,
    max_retry_after: float = MAX_RETRY_AFTER_S,
) -> None:
    """POST the payload with slack_sdk's WebhookClient; SlackError when it fails.

    At most one retry in all (slack_sdk's handlers share the attempt count): after a
    refused or reset connection, or after a 429's Retry-After of at most `max_retry_after`.
    """
    check_webhook_url(webhook_url)
    connection = ConnectionRetry()
    rate_limit = CappedRateLimitRetry(max_retry_after)
    client = WebhookClient(
        webhook_url,
        timeout=timeout,  # type: ignore[arg-type]  # urlopen takes a float; annotated int
        logger=SDK_LOGGER,
        retry_handlers=[connection, rate_limit],
    )
    answer: WebhookResponse | None = None
    kind = detail = ""
    try:
        answer = client.send_dict(payload)
    except (OSError, http.client.HTTPException, SlackClientError, ValueError) as exc:
        kind, detail = _no_answer(exc, webhook_url)
    again = " after one retry" if connection.retried or rate_limit.retried else ""
    # Every SlackError is raised outside the `except`, so it has neither __cause__ nor
    # __context__: the HTTP layer's exceptions carry the request, and with it the URL.
    if answer is None:
        raise SlackError(f"Slack webhook {kind}{again} (timeout {timeout:g}s): {detail}")
    status = answer.status_code
    if 200 <= status < 300:
        logger.info("posted to Slack (HTTP %s)", status)
        return
    if status == 429 and rate_limit.too_long is not None:
        raise SlackError(
            f"Slack rate-limited the webhook (HTTP 429, Retry-After {rate_limit.too_long}s "
            f"> {max_retry_after:g}s): left to the caller's retry"
        )
    body = _redact(answer.body.strip()[:300], webhook_url)
    raise SlackError(f"Slack webhook answered HTTP {status}{again}: {body or 'no body'}")
