"""Posting to Slack over real HTTP: a webhook stub on 127.0.0.1 answers like Slack does."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
import traceback
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
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
    assert "s3cr3tT0ken" not in shown
    # No chained HTTP error: its request object would carry the URL into a traceback.
    assert exc.__cause__ is None and (exc.__context__ is None or exc.__suppress_context__)


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
    payload = render(card_for_notification(note()))
    post_message(stub.url, payload, timeout=2)
    [request] = stub.requests
    assert request["path"] == SECRET_PATH
    assert request["headers"]["Content-Type"] == "application/json; charset=utf-8"
    assert stub.messages == [payload]
    assert "s3cr3tT0ken" not in all_logs.text


def test_429_waits_retry_after_then_succeeds(stub):
    stub.replies.append(Reply(429, b"rate_limited", {"Retry-After": "1"}))
    started = time.monotonic()
    post_message(stub.url, {"text": "hi"}, timeout=2)
    assert time.monotonic() - started >= 1.0
    assert len(stub.requests) == 2


def test_429_twice_fails_after_one_retry(stub, all_logs):
    stub.replies.extend([Reply(429, b"rate_limited", {"Retry-After": "0"})] * 2)
    with pytest.raises(SlackError, match=r"HTTP 429 after one retry: rate_limited") as info:
        post_message(stub.url, {"text": "hi"}, timeout=2)
    assert len(stub.requests) == 2
    assert_url_not_disclosed(info.value, all_logs)


def test_429_asking_for_a_long_wait_is_left_to_lambdas_retry(stub):
    stub.replies.append(Reply(429, b"rate_limited", {"Retry-After": "120"}))
    with pytest.raises(SlackError, match=r"Retry-After 120s > 10s"):
        post_message(stub.url, {"text": "hi"}, timeout=2)
    assert len(stub.requests) == 1


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


def test_timeout(stub, all_logs):
    stub.replies.append(Reply(200, b"ok", delay=1.0))
    started = time.monotonic()
    with pytest.raises(SlackError, match=r"Slack webhook timed out \(timeout 0.2s\)") as info:
        post_message(stub.url, {"text": "hi"}, timeout=0.2)
    assert time.monotonic() - started < 0.9
    assert_url_not_disclosed(info.value, all_logs)


def test_connection_refused(all_logs):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}{SECRET_PATH}"
    with pytest.raises(SlackError, match=r"Slack webhook unreachable .*Connection refused") as info:
        post_message(url, {"text": "hi"}, timeout=1)
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
