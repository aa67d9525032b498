"""An AWS emulator (moto) on 127.0.0.1 behind an HTTP proxy that adds a fixed latency.

Every request is answered `latency` after it arrived, as a round trip to AWS would be: the
emulator's own work happens within that time, as AWS's work is part of its round trip. When
the emulator takes longer (it answers one request at a time, AWS many side by side), the
answer comes when it is ready. One thread per client connection, so concurrent requests
wait concurrently. The proxy
passes HTTP/1.1 messages through with as little parsing as it can (request line, headers
up to the blank line, a Content-Length or chunked body), so its own CPU time per request
stays far below the emulator's. `GET /__proxy__/stats` answers at once with the number of
requests forwarded so far, and with `--quotas` the requests throttled per API and how long
until every quota's bucket is full again; `GET /__proxy__/latency/MS` sets the latency.

With `--quotas` it also enforces AWS's request-rate quotas (quotas.py): a request over its
API's quota when it arrives is answered, after the latency, with that service's own
throttling error, as AWS would, and not forwarded.

Run as a script it serves one of them (`--moto`, or `--upstream URL` for the proxy),
prints one JSON line with its URL (`{"url": ...}`) and serves until stdin closes. The
benchmark runs each in its own child process: the emulator's CPU time is not charged to the
suite being measured, and the proxy's threads never wait for the emulator's (one GIL each).
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import threading
import time
import urllib.request
from typing import BinaryIO
from urllib.parse import urlsplit

import quotas

STATS_PATH = b"/__proxy__/stats"
LATENCY_PATH = b"/__proxy__/latency/"  # + milliseconds: the latency from now on


class _Closed(Exception):
    """The peer closed the connection between messages."""


def _read_head(stream: BinaryIO) -> bytes:
    """Start line and headers, through the blank line."""
    lines = []
    while True:
        line = stream.readline(65537)
        if not line:
            if lines:
                raise ConnectionError("connection closed inside a message head")
            raise _Closed
        lines.append(line)
        if line in (b"\r\n", b"\n"):
            return b"".join(lines)


def _header(head: bytes, name: bytes) -> bytes | None:
    for line in head.split(b"\r\n")[1:]:
        key, sep, value = line.partition(b":")
        if sep and key.strip().lower() == name:
            return value.strip()
    return None


def _without_header(head: bytes, name: bytes) -> bytes:
    lines = head.split(b"\r\n")
    kept = [lines[0]] + [x for x in lines[1:] if x.partition(b":")[0].strip().lower() != name]
    return b"\r\n".join(kept)


def _read_body(stream: BinaryIO, head: bytes, bodyless: bool = False) -> bytes:
    """The message body exactly as sent (Content-Length or chunked, passed through)."""
    if bodyless:
        return b""
    if (_header(head, b"transfer-encoding") or b"").lower() == b"chunked":
        parts = []
        while True:
            size_line = stream.readline(1024)
            parts.append(size_line)
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while True:  # trailers, then the blank line
                    trailer = stream.readline(65537)
                    parts.append(trailer)
                    if trailer in (b"\r\n", b"\n", b""):
                        return b"".join(parts)
            parts.append(stream.read(size + 2))
    length = int(_header(head, b"content-length") or b"0")
    return stream.read(length) if length else b""


def _nodelay(sock: socket.socket) -> socket.socket:
    # Small writes back to back: without TCP_NODELAY, Nagle's algorithm and delayed ACKs
    # would add ~40 ms to some requests.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


class LatencyProxy:
    """Forwards every request to `upstream` after sleeping `latency_s`."""

    def __init__(
        self, upstream: str, latency_s: float, host: str = "127.0.0.1", enforce: bool = False
    ) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.latency_s = latency_s
        self.enforcer = quotas.Enforcer() if enforce else None
        self.classifier = quotas.Classifier() if enforce else None
        self.forwarded = 0
        self._lock = threading.Lock()
        self._listener = socket.create_server((host, 0), backlog=512)
        self._stopping = False

    @property
    def url(self) -> str:
        host, port = self._listener.getsockname()[:2]
        return f"http://{host}:{port}"

    def start(self) -> LatencyProxy:
        threading.Thread(target=self._accept, daemon=True, name="proxy-accept").start()
        return self

    def stop(self) -> None:
        self._stopping = True
        self._listener.close()

    def _accept(self) -> None:
        while not self._stopping:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        upstream = _Upstream(self.upstream)
        reader = _nodelay(client).makefile("rb")
        try:
            while True:
                try:
                    head = _read_head(reader)
                except _Closed:
                    return
                body = _read_body(reader, head)
                client.sendall(self._answer(head, body, upstream))
                if (_header(head, b"connection") or b"").lower() == b"close":
                    return
        except (OSError, ValueError, ConnectionError):
            return  # the client sees its connection drop, as with a real network fault
        finally:
            client.close()
            upstream.close()

    def _answer(self, head: bytes, body: bytes, upstream: _Upstream) -> bytes:
        """The response to one request: the stats, a throttle, or the emulator's answer."""
        path = head.split(b" ", 2)[1]
        if path == STATS_PATH:
            return _response(200, {"Content-Type": "application/json"}, self._stats())
        if path.startswith(LATENCY_PATH):
            self.latency_s = float(path[len(LATENCY_PATH) :]) / 1000
            return _response(200, {"Content-Type": "application/json"}, self._stats())
        arrived = time.monotonic()
        throttled = self._throttled(head, body)
        if throttled is not None:
            answer = _response(*throttled)
        else:
            with self._lock:
                self.forwarded += 1
            answer = upstream.exchange(head, body)
        time.sleep(max(0.0, arrived + self.latency_s - time.monotonic()))
        return answer

    def _stats(self) -> bytes:
        stats: dict[str, object] = {"forwarded": self.forwarded}
        if self.enforcer is not None:
            stats["throttled"] = dict(self.enforcer.throttled)
            stats["full_in"] = self.enforcer.full_in()
        return json.dumps(stats).encode()

    def _throttled(self, head: bytes, body: bytes) -> tuple[int, dict[str, str], bytes] | None:
        """AWS's throttling answer when this request is over its API's quota, else None."""
        if self.enforcer is None or self.classifier is None:
            return None
        method, path = (part.decode() for part in head.split(b" ", 2)[:2])
        headers = {
            k.strip().lower().decode(): v.strip().decode()
            for k, sep, v in (line.partition(b":") for line in head.split(b"\r\n")[1:])
            if sep
        }
        service, operation, region, protocol = self.classifier.classify(method, path, headers, body)
        if self.enforcer.admit(service, operation, region):
            return None
        return quotas.throttled_response(service, protocol)


def _response(status: int, headers: dict[str, str], body: bytes) -> bytes:
    reason = {200: "OK", 400: "Bad Request", 429: "Too Many Requests"}.get(status, "Error")
    lines = [f"HTTP/1.1 {status} {reason}", *(f"{k}: {v}" for k, v in headers.items())]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class _Upstream:
    """One kept-alive connection to the emulator, made again when it closes it."""

    def __init__(self, address: tuple[str, int]) -> None:
        self.address = address
        self.sock: socket.socket | None = None
        self.reader: BinaryIO | None = None

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
        self.sock = self.reader = None

    def _send(self, message: bytes) -> tuple[bytes, BinaryIO]:
        for attempt in (1, 2):
            if self.sock is None:
                self.sock = _nodelay(socket.create_connection(self.address, timeout=60))
                self.reader = self.sock.makefile("rb")
            assert self.reader is not None
            try:
                self.sock.sendall(message)
                return _read_head(self.reader), self.reader
            except (_Closed, OSError):
                # The emulator closed a kept-alive connection: once more on a new one.
                self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def exchange(self, head: bytes, body: bytes) -> bytes:
        resp_head, reader = self._send(head + body)
        status = resp_head.split(b" ", 2)[1]
        bodyless = head.startswith(b"HEAD ") or status in (b"204", b"304")
        resp_body = _read_body(reader, resp_head, bodyless)
        if (_header(resp_head, b"connection") or b"").lower() == b"close":
            # The emulator closes after every response; the client's connection stays
            # open, as it would to a real AWS endpoint.
            resp_head = _without_header(resp_head, b"connection")
            self.close()
        return resp_head + resp_body


def start_moto() -> tuple[object, str]:
    """The demo's emulator (moto on 127.0.0.1, Batch without Docker), tuned for the bench."""
    from moto import backends

    from batch_health.demo import start_emulator

    # moto lists its package directory (a stat per service) for every request it routes;
    # the list never changes while it runs. Cached, the emulator spends its CPU on the API.
    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules  # type: ignore[assignment]
    return start_emulator()


def stats(proxy_url: str) -> dict[str, object]:
    with urllib.request.urlopen(f"{proxy_url}{STATS_PATH.decode()}", timeout=10) as resp:
        return dict(json.load(resp))


def set_latency(proxy_url: str, latency_ms: float) -> None:
    with urllib.request.urlopen(f"{proxy_url}{LATENCY_PATH.decode()}{latency_ms:g}", timeout=10):
        pass


def forwarded_count(proxy_url: str) -> int:
    return int(stats(proxy_url)["forwarded"])  # type: ignore[call-overload]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--moto", action="store_true", help="serve the emulator")
    what.add_argument("--upstream", metavar="URL", help="serve a proxy in front of URL")
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--quotas", action="store_true", help="enforce AWS's quotas (quotas.py)")
    args = parser.parse_args(argv)
    if args.moto:
        server, url = start_moto()
        stop = server.stop  # type: ignore[attr-defined]
    else:
        proxy = LatencyProxy(args.upstream, args.latency_ms / 1000, enforce=args.quotas).start()
        url, stop = proxy.url, proxy.stop
    print(json.dumps({"url": url}), flush=True)
    try:
        sys.stdin.read()  # serve until the parent closes our stdin (or exits)
    finally:
        stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
