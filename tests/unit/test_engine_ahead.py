"""What the engine reads ahead: a check's `speculative_needs` are fetched with its needs but
never waited for; targets go in waves, so a run paced by API quotas keeps every API busy."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from batch_health.aws.inventory import TargetView
from batch_health.aws.sessions import AwsSessions
from batch_health.checks import Check, CheckContext, RunOptions
from batch_health.config import SuiteConfig
from batch_health.demo import REGION
from batch_health.engine import WAVE_TARGETS, SuiteRun, need_priorities, run_suite
from batch_health.models import CheckResult, Status

TARGET = {"name": "video", "region": REGION, "job_queue": "q", "job_definition": "jd"}


def guessing_check(seen: dict[str, Any]) -> Check:
    def run(self: Check, ctx: CheckContext) -> CheckResult:
        seen["ran_before_the_guess_was_in"] = not seen["guess_done"].is_set()
        return CheckResult(self.name, Status.OK, "ok")

    cls = type(
        "GUESSING",
        (Check,),
        {
            "name": "GUESSING",
            "step": 9,
            "step_title": "FAKE",
            "title": "GUESSING",
            "verifies": "nothing",
            "needs": ("sure_thing",),
            "speculative_needs": ("long_guess",),
            "run": run,
        },
    )
    return cls()


def test_a_check_does_not_wait_for_its_speculative_reads(monkeypatch: pytest.MonkeyPatch):
    seen: dict[str, Any] = {"guess_done": threading.Event(), "guess_started": threading.Event()}
    release = threading.Event()

    def long_guess(self: TargetView) -> None:
        seen["guess_started"].set()
        release.wait(5)
        seen["guess_done"].set()

    def sure_thing(self: TargetView) -> str:
        seen["guess_started"].wait(5)  # both reads in flight before the check may start
        return "here"

    monkeypatch.setattr(TargetView, "sure_thing", sure_thing, raising=False)
    monkeypatch.setattr(TargetView, "long_guess", long_guess, raising=False)
    config = SuiteConfig.model_validate({"targets": [TARGET]})
    timer = threading.Timer(2.0, release.set)  # let the guess end even if the check waits
    timer.start()
    try:
        suite = run_suite(config, RunOptions(), AwsSessions(), registry=[guessing_check(seen)])
    finally:
        release.set()
        timer.cancel()
    assert suite.reports[0].checks[0].status is Status.OK
    assert seen["guess_started"].is_set()
    assert seen["ran_before_the_guess_was_in"] is True


def test_speculative_needs_are_read_ahead_after_the_sure_ones_of_the_same_weight():
    check = guessing_check({})
    priorities = need_priorities([check], {check.name: 1}, {check.name: 0})
    assert list(priorities) == ["sure_thing", "long_guess"]


def test_targets_are_taken_in_waves():
    targets = [{**TARGET, "name": f"t{i}"} for i in range(2 * WAVE_TARGETS + 1)]
    config = SuiteConfig.model_validate({"targets": targets})
    run = SuiteRun(config, RunOptions(), AwsSessions(), [])
    waves = [r.wave for r in run.runs]
    assert waves == [0] * WAVE_TARGETS + [1] * WAVE_TARGETS + [2]
    run.scheduler.close(wait=True)
