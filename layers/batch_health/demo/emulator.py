"""An AWS emulator (a moto server) on 127.0.0.1, for the demo, `invoke --demo-world` and
the bench: no AWS account and no network."""

from __future__ import annotations

import contextlib
import json
import os
import urllib.request
from collections.abc import Iterator, Mapping
from typing import Any

from batch_health.demo.worlds import REGION

# Credentials and region the emulator accepts (any do); never real ones.
FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_REGION": REGION,
    "AWS_DEFAULT_REGION": REGION,
}


def start_emulator() -> tuple[Any, str]:
    """A started moto server on 127.0.0.1 (free port) with Docker-less Batch, and its URL.

    The server runs in this process, so the Batch answer layer (`batch_shapes`) patched
    into moto here serves its requests too: every job-definition shape, fair-share submits.
    """
    import logging

    from moto.server import ThreadedMotoServer

    from batch_health.demo import batch_shapes

    batch_shapes.install()
    logging.getLogger("werkzeug").setLevel(logging.CRITICAL)  # no request log in the report
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    try:
        request = urllib.request.Request(
            f"{url}/moto-api/config",
            data=json.dumps({"batch": {"use_docker": False}}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        urllib.request.urlopen(request, timeout=10).close()
    except BaseException:
        server.stop()
        raise
    return server, url


@contextlib.contextmanager
def emulator() -> Iterator[str]:
    """`start_emulator()` for the length of a `with` block; yields the URL."""
    server, url = start_emulator()
    try:
        yield url
    finally:
        server.stop()


@contextlib.contextmanager
def patched_environ(
    values: Mapping[str, str], drop: tuple[str, ...] = ("AWS_PROFILE",)
) -> Iterator[None]:
    saved = dict(os.environ)
    for key in drop:
        os.environ.pop(key, None)
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
