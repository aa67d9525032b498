"""moto in-process with the Batch answer layer installed: every job-definition shape AWS
documents, and fair-share submits that need a share identifier."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto import mock_aws

from batch_health.demo import batch_shapes


@pytest.fixture
def shapes_aws() -> Iterator[None]:
    """`mock_aws` (Docker-less Batch) with `batch_shapes.install()`; the patches come out
    again afterwards unless something else (the emulator) had installed them first."""
    installed_here = batch_shapes.install()
    try:
        with mock_aws(config={"batch": {"use_docker": False}}):
            yield
    finally:
        if installed_here:
            batch_shapes.uninstall()
