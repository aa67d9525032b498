"""The text view (the ops report's format): step sections, the final report, root causes."""

from __future__ import annotations

from support.reports import STATUS_LINE, report, section, suite

from batch_health.models import CheckResult, Status
from batch_health.render import render_text


def test_text_has_step_sections_in_the_seed_format():
    text = render_text(suite())
    headers = [line for line in text.splitlines() if line.startswith("=== ")]
    assert headers == [
        "=== STEP 0 CONFIG_DIFF ===",
        "=== STEP 1 AWS ===",
        "=== STEP 2 QUEUE ===",
        "=== STEP 2 CE ===",
        "=== STEP 3 JOBDEF ===",
    ]


def test_text_step_sections_show_the_key_facts_and_hints():
    text = render_text(suite())
    ce = section(text, "=== STEP 2 CE ===")
    assert ce == [
        "CE ce-1 status=INVALID: CLIENT_ERROR - role missing",
        "CE_CHECK: FAIL",
        "  hint: Fix what CE ce-1's statusReason names",
    ]
    assert section(text, "=== STEP 1 AWS ===") == [
        "account=123456789012 arn=arn:aws:sts::1:user/x",
        "AWS_ACCESS: OK",
    ]


def test_text_final_report_has_one_status_line_per_check_in_order():
    final = section(render_text(suite()), "========== FINAL REPORT ==========")
    assert final == [
        "CONFIG_MATCH_QUEUE: OK",
        "CONFIG_MATCH_JOBDEF: SKIP (no config sources for job_definition)",
        "AWS_ACCESS: OK",
        "QUEUE_CHECK: OK",
        "CE_CHECK: FAIL",
        "JOBDEF_CHECK: WARN",
    ]
    assert all(STATUS_LINE.match(line) for line in final)


def test_text_root_cause_hints_are_dash_lines_fail_before_warn():
    text = render_text(suite())
    lines = text.splitlines()
    hints = lines[lines.index("ROOT_CAUSE_HINTS:") + 1 :]
    hints = [h for h in hints if h]
    assert hints == [
        "- CE_CHECK: Fix what CE ce-1's statusReason names",
        "- JOBDEF_CHECK: Set retryStrategy on jd",
    ]


def test_text_never_prints_a_placeholder_for_a_result():
    text = render_text(suite())
    assert "OK/FAIL" not in text and "from above" not in text
    for line in section(text, "========== FINAL REPORT =========="):
        assert STATUS_LINE.match(line), line


def test_text_when_everything_passed():
    ok = [CheckResult("AWS_ACCESS", Status.OK, "fine"), CheckResult("QUEUE_CHECK", Status.OK)]
    text = render_text(suite(report(ok)))
    assert text.endswith("ROOT_CAUSE_HINTS:\n- none: every check passed or was skipped\n")


def test_text_a_fail_without_hint_or_detail_is_not_called_passed():
    bare = [CheckResult("QUEUE_CHECK", Status.FAIL)]
    text = render_text(suite(report(bare)))
    assert "every check passed" not in text
    assert "- QUEUE_CHECK: FAIL" in text


def test_text_unknown_check_gets_its_own_section():
    text = render_text(suite(report([CheckResult("CUSTOM_CHECK", Status.OK, "custom")])))
    assert "=== STEP 99 OTHER ===" in text
    assert "CUSTOM_CHECK: OK" in text


def test_text_several_targets_each_with_a_final_report_and_an_overall_line():
    healthy = report([CheckResult("AWS_ACCESS", Status.OK)], target="healthy")
    text = render_text(suite(report(), healthy))
    assert "########## TARGET academy-video (ap-northeast-2) ##########" in text
    assert "########## TARGET healthy (ap-northeast-2) ##########" in text
    assert text.count("========== FINAL REPORT ==========") == 2
    assert text.rstrip().splitlines()[-1] == "OVERALL: FAIL (1 of 2 targets failing: academy-video)"
