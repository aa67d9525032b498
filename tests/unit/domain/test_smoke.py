"""The smoke job's Ref:: parameters (domain/smoke.py): which a command references, and which
neither the job definition, the target nor the monitor resolves."""

from __future__ import annotations

import pytest

from batch_health.demo import WORKER_COMMAND
from batch_health.domain.smoke import find_unresolved_job_parameters, referenced_parameters


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (WORKER_COMMAND, ["job_id"]),
        (
            ["run", "--id=Ref::job_id", "Ref::src", "Ref::src", "Ref::out-dir"],
            ["job_id", "src", "out-dir"],
        ),
        (["echo", "no refs"], []),
    ],
)
def test_referenced_parameters(command, expected):
    assert referenced_parameters(command) == expected


def test_find_unresolved_job_parameters_checks_every_source():
    command = ["w", "Ref::job_id", "Ref::source_uri", "Ref::quality"]
    assert find_unresolved_job_parameters(command, {}, {}) == ["job_id", "source_uri", "quality"]
    assert (
        find_unresolved_job_parameters(
            command, {"source_uri": "s3://b/k"}, {"quality": "hd"}, {"job_id": "health-smoke-1"}
        )
        == []
    )
    assert find_unresolved_job_parameters(command, {}, {"quality": "hd"}, {"job_id": "x"}) == [
        "source_uri"
    ]
