"""The prepared worlds, checked in-process: the ops report's findings and the healthy baseline."""

from __future__ import annotations

from support.suite import run_target

from batch_health.models import Status


def test_seed_world_reports_what_the_ops_report_saw(seed_world):
    report = run_target(seed_world)
    statuses = {c.name: c.status for c in report.checks}
    assert statuses["CONFIG_MATCH_QUEUE"] is Status.OK
    assert statuses["CONFIG_MATCH_JOBDEF"] is Status.OK
    assert statuses["AWS_ACCESS"] is Status.OK
    assert statuses["QUEUE_CHECK"] is Status.OK
    assert statuses["CE_CHECK"] is Status.OK
    # retryStrategy.attempts=1 in the ops report: a warning, not OK and not FAIL.
    assert statuses["JOBDEF_CHECK"] is Status.WARN


def test_healthy_world_is_ok(healthy_world):
    report = run_target(healthy_world)
    assert {c.name: c.status for c in report.checks}["JOBDEF_CHECK"] is Status.OK


def test_demo_without_the_emulator_says_what_to_install(monkeypatch, capsys):
    import sys

    import pytest

    from batch_health.cli import main

    monkeypatch.setitem(sys.modules, "moto.server", None)  # as if moto were not installed
    with pytest.raises(SystemExit) as exited:
        main(["demo"])
    assert exited.value.code == 2
    assert "pip install 'batch-health-monitor[demo]'" in capsys.readouterr().err
