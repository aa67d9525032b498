"""Posting to Slack over real HTTP: a webhook stub on 127.0.0.1 answers like Slack does.

Proves what `post_message` (slack_sdk's WebhookClient and its retry handlers) does with each
answer: a message arrives as Block Kit JSON; a 429 is retried once after a Retry-After of at
most 10 s and refused at once when longer; a refused or dropped connection is retried once;
a timeout or any other HTTP error fails with the status and Slack's answer. And that the
webhook URL is in no log line (slack_sdk's included, even with its loggers at DEBUG), no
SlackError message and no exception chained to one.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import threading
import time
import traceback
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from batch_health.notify.messages import Event, Notification
from batch_health.notify.slack import SlackError, card_for_notification, post_message, render

pytestmark = pytest.mark.integration

SECRET_PATH = "/services/T0000/B0000/s3cr3tT0ken"


@dataclass
class Reply:
    status: int = 200
    body: bytes = b"ok"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    hang_up: bool = False  # close the connection without answering


class SlackStub:
    """An incoming-webhook look-alike: records every POST, answers from a script (default 200)."""

    def __init__(self) -> None:
        self.replies: deque[Reply] = deque()
        self.requests: list[dict[str, Any]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                stub.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "body": body}
                )
                reply = stub.replies.popleft() if stub.replies else Reply()
                if reply.hang_up:
                    self.close_connection = True
                    return
                time.sleep(reply.delay)
                self.send_response(reply.status)
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            def log_message(self, *args: Any) -> None:  # no request log on stderr
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a client that timed out and left is the point of one test

        self.server = Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}{SECRET_PATH}"

    @property
    def messages(self) -> list[dict[str, Any]]:
        return [json.loads(r["body"]) for r in self.requests]

    def __enter__(self) -> SlackStub:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stub():
    with SlackStub() as s:
        yield s


@pytest.fixture(autouse=True)
def all_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    return caplog


def assert_url_not_disclosed(exc: BaseException, caplog: pytest.LogCaptureFixture) -> None:
    shown = "".join(traceback.format_exception(exc)) + repr(exc) + caplog.text
    shown += "".join(repr(r.__dict__) for r in caplog.records)
    assert "s3cr3tT0ken" not in shown
    # No chained HTTP error at all, not even a suppressed one: its request carries the URL.
    assert exc.__cause__ is None and exc.__context__ is None


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}{SECRET_PATH}"


def media_type(content_type: str) -> tuple[str, str | None]:
    header = Message()
    header["Content-Type"] = content_type
    return header.get_content_type(), header.get_content_charset()


def note(detail: str = "log group /aws/batch/w missing") -> Notification:
    return Notification(
        event=Event.FAIL,
        target="academy-video",
        region="ap-northeast-2",
        check="LOG_GROUP_CHECK",
        status="FAIL",
        detail=detail,
        occurred_at=datetime(2025, 6, 1, 9, 0, tzinfo=UTC),
        hints=("Create it & retry: `aws logs create-log-group`",),
    )


def test_200_posts_once_as_json(stub, all_logs):
    payload = render(card_for_notification(note("로그 그룹 /aws/batch/w 없음 — missing")))
    post_message(stub.url, payload, timeout=2)
    [request] = stub.requests
    assert request["path"] == SECRET_PATH
    assert media_type(request["headers"]["Content-Type"]) == ("application/json", "utf-8")
    assert stub.messages == [payload]  # non-ASCII text arrives as it was sent
    assert "posted to Slack (HTTP 200)" in all_logs.text
    assert "s3cr3tT0ken" not in all_logs.text


def test_429_waits_retry_after_then_succeeds(stub, all_logs):
    stub.replies.append(Reply(429, b"rate_limited", {"Retry-After": "1"}))
    started = time.monotonic()
    post_message(stub.url, {"text": "hi"}, timeout=2)
    assert time.monotonic() - started >= 1.0
    assert stub.messages == [{"text": "hi"}] * 2
    assert "Slack rate-limited the webhook (HTTP 429); retrying in 1s" in all_logs.text
    assert "s3cr3tT0ken" not in all_logs.text


def test_429_twice_fails_after_one_retry(stub, all_logs):
    stub.replies.extend([Reply(429, b"rate_limited", {"Retry-After": "0"})] * 2)
    with pytest.raises(SlackError, match=r"HTTP 429 after one retry: rate_limited") as info:
        post_message(stub.url, {"text": "hi"}, timeout=2)
    assert len(stub.requests) == 2
    assert_url_not_disclosed(info.value, all_logs)


def test_429_asking_for_a_long_wait_is_left_to_lambdas_retry_without_waiting(stub, all_logs):
    stub.replies.append(Reply(429, b"rate_limited", {"Retry-After": "120"}))
    started = time.monotonic()
    with pytest.raises(
        SlackError,
        match=r"^Slack rate-limited the webhook \(HTTP 429, Retry-After 120s > 10s\): left to "
        r"the caller's retry$",
    ) as info:
        post_message(stub.url, {"text": "hi"}, timeout=2)
    assert time.monotonic() - started < 0.5
    assert len(stub.requests) == 1
    assert_url_not_disclosed(info.value, all_logs)


def test_the_retry_after_cap_is_the_callers_to_set(stub):
    stub.replies.append(Reply(429, b"rate_limited", {"Retry-After": "1"}))
    with pytest.raises(SlackError, match=r"Retry-After 1s > 0s"):
        post_message(stub.url, {"text": "hi"}, timeout=2, max_retry_after=0)
    assert len(stub.requests) == 1


def test_429_with_an_unreadable_retry_after_is_left_to_lambdas_retry(stub, all_logs):
    stub.replies.append(Reply(429, b"rate_limited", {"Retry-After": "soon"}))
    with pytest.raises(
        SlackError, match=r"^Slack webhook answered HTTP 429: rate_limited$"
    ) as info:
        post_message(stub.url, {"text": "hi"}, timeout=2)
    assert len(stub.requests) == 1
    assert_url_not_disclosed(info.value, all_logs)


def test_500_fails_without_retrying(stub, all_logs):
    stub.replies.append(Reply(500, b"internal_error"))
    with pytest.raises(SlackError, match="Slack webhook answered HTTP 500: internal_error") as info:
        post_message(stub.url, {"text": "hi"}, timeout=2)
    assert len(stub.requests) == 1
    assert_url_not_disclosed(info.value, all_logs)


def test_an_answer_quoting_the_url_is_redacted(stub, all_logs):
    stub.replies.append(Reply(404, f"no_service for {SECRET_PATH}".encode()))
    with pytest.raises(SlackError, match="HTTP 404: no_service for <webhook>") as info:
        post_message(stub.url, {"text": "hi"}, timeout=2)
    assert_url_not_disclosed(info.value, all_logs)


def test_400_invalid_payload_fails_without_retrying(stub, all_logs):
    stub.replies.append(Reply(400, b"invalid_payload"))
    with pytest.raises(
        SlackError, match=r"^Slack webhook answered HTTP 400: invalid_payload$"
    ) as info:
        post_message(stub.url, {"text": "hi"}, timeout=2)
    assert len(stub.requests) == 1
    assert_url_not_disclosed(info.value, all_logs)


def test_a_read_timeout_fails_without_retrying(stub, all_logs):
    stub.replies.append(Reply(200, b"ok", delay=1.0))
    started = time.monotonic()
    with pytest.raises(SlackError, match=r"^Slack webhook timed out \(timeout 0.2s\)") as info:
        post_message(stub.url, {"text": "hi"}, timeout=0.2)
    assert time.monotonic() - started < 0.9
    assert len(stub.requests) == 1
    assert_url_not_disclosed(info.value, all_logs)


def test_connection_refused_is_tried_twice(all_logs):
    with pytest.raises(
        SlackError,
        match=r"^Slack webhook unreachable after one retry \(timeout 1s\): .*Connection refused",
    ) as info:
        post_message(closed_port_url(), {"text": "hi"}, timeout=1)
    [retry] = [r for r in all_logs.records if "retrying once" in r.getMessage()]
    assert retry.name == "batch_health.notify.slack"
    assert re.fullmatch(
        r"Slack webhook unreachable \(\[Errno \d+\] Connection refused\); retrying once",
        retry.getMessage(),
    )
    assert_url_not_disclosed(info.value, all_logs)


def test_a_dropped_connection_is_retried_and_the_message_arrives(stub, all_logs):
    stub.replies.append(Reply(hang_up=True))
    post_message(stub.url, {"text": "hi"}, timeout=2)
    assert stub.messages == [{"text": "hi"}] * 2
    assert "s3cr3tT0ken" not in all_logs.text


def test_a_connection_dropped_twice_fails_after_one_retry(stub, all_logs):
    stub.replies.extend([Reply(hang_up=True)] * 2)
    with pytest.raises(
        SlackError, match=r"^Slack webhook unreachable after one retry .*closed connection"
    ) as info:
        post_message(stub.url, {"text": "hi"}, timeout=2)
    assert len(stub.requests) == 2
    assert_url_not_disclosed(info.value, all_logs)


def test_slack_sdk_logs_no_url_even_with_its_loggers_at_debug(stub, all_logs):
    """slack_sdk writes the URL into its request and retry lines; none of them gets out."""
    all_logs.set_level(logging.DEBUG, logger="slack_sdk")
    stub.replies.extend([Reply(hang_up=True), Reply(hang_up=True)])
    with pytest.raises(SlackError) as info:
        post_message(stub.url, {"text": "hi"}, timeout=2)
    stub.replies.append(Reply(429, b"rate_limited", {"Retry-After": "0"}))
    post_message(stub.url, {"text": "hi"}, timeout=2)
    assert len(stub.requests) == 4
    assert all_logs.records  # the run was logged, by this package
    assert_url_not_disclosed(info.value, all_logs)


def test_user_text_arrives_escaped(stub):
    hostile = "queue <!channel> & <https://evil.example|click> done > 0"
    post_message(stub.url, render(card_for_notification(note(hostile))), timeout=2)
    [message] = stub.messages
    body = json.dumps(message)
    assert "<!channel>" not in body and "<https://evil.example" not in body
    sections = [
        b["text"]["text"] for b in message["blocks"] if b["type"] == "section" and "text" in b
    ]
    assert "queue &lt;!channel&gt; &amp; &lt;https://evil.example|click&gt; done &gt; 0" in sections
    assert "*Hints*\n• Create it &amp; retry: `aws logs create-log-group`" in sections
    assert message["text"].startswith(
        "[FAIL] academy-video LOG_GROUP_CHECK: queue &lt;!channel&gt;"
    )


@pytest.mark.parametrize(
    "url",
    ["http://hooks.slack.com/services/x", "ftp://127.0.0.1/x", "file:///etc/passwd", "not a url"],
)
def test_only_https_or_loopback_http(url):
    with pytest.raises(SlackError, match="must be https") as info:
        post_message(url, {"text": "hi"})
    assert url not in str(info.value)
