"""A job's conventional exit codes are named for what they mean, in the incident's words and
its hint (the meanings and their sources: batch_health.domain.exit_codes). The reason is
AWS Batch's for a container that exited, "Essential container in task exited"
(tests/data/reason_corpus.json: https://github.com/ryerkerk/aws-batch-python-tutorial/issues/1)."""

from __future__ import annotations

import pytest

from batch_health.domain.exit_codes import exit_code_meaning
from batch_health.domain.reason_hints import HintContext, reason_hint
from batch_health.domain.status_reasons import ReasonClass, classify_reason

EXITED = "Essential container in task exited"


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (126, "could not be invoked"),
        (127, "not found in the image"),
        (137, "SIGKILL"),
        (139, "SIGSEGV"),
        (143, "SIGTERM"),
    ],
)
def test_conventional_exit_codes_are_named_in_the_reason_and_the_hint(code, words):
    reason = classify_reason(EXITED, exit_code=code)
    assert reason.kind is ReasonClass.EXIT_CODE
    assert f"(exit code {code}: " in reason.describe() and words in reason.describe()
    hint = reason_hint(reason, HintContext(job_definition="render", log_group="/aws/batch/job"))
    assert f"code {code} (" in hint and words in hint


@pytest.mark.parametrize("code", [1, 2, 255])
def test_other_codes_keep_their_number_alone(code):
    assert exit_code_meaning(code) == ""
    described = classify_reason(EXITED, exit_code=code).describe()
    assert described.startswith(f"application exit code (exit code {code}): ")


def test_no_code_no_meaning():
    assert exit_code_meaning(None) == ""
    assert "(exit code" not in classify_reason(EXITED).describe()
