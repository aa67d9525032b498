"""The JSON view: exactly the documented keys, UTC timestamps, several targets; a real run
renders in both views."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone

from support.reports import SEED_LIKE, STATUS_LINE, report, section, suite

from batch_health.models import CheckResult, Status, SuiteReport
from batch_health.render import render_json, render_text

ISO_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
REPORT_KEYS = {
    "target",
    "region",
    "overall",
    "checks",
    "root_cause_hints",
    "started_at",
    "finished_at",
}
CHECK_KEYS = {"name", "status", "detail", "hints", "duration_ms", "data"}


def assert_spec_report(doc: dict) -> None:
    assert set(doc) == REPORT_KEYS
    assert isinstance(doc["target"], str) and isinstance(doc["region"], str)
    assert doc["overall"] in {"OK", "WARN", "FAIL"}
    assert ISO_Z.match(doc["started_at"]) and ISO_Z.match(doc["finished_at"])
    assert all(isinstance(h, str) for h in doc["root_cause_hints"])
    for check in doc["checks"]:
        assert set(check) == CHECK_KEYS
        assert check["status"] in {"OK", "WARN", "FAIL", "SKIP"}
        assert isinstance(check["name"], str) and isinstance(check["detail"], str)
        assert isinstance(check["hints"], list) and all(isinstance(h, str) for h in check["hints"])
        assert isinstance(check["duration_ms"], int) and check["duration_ms"] >= 0
        assert isinstance(check["data"], dict)


def test_json_is_exactly_the_spec_shape():
    doc = json.loads(render_json(suite()))
    assert_spec_report(doc)
    assert doc["target"] == "academy-video" and doc["region"] == "ap-northeast-2"
    assert doc["overall"] == "FAIL"
    assert doc["started_at"] == "2025-03-01T09:30:00Z"
    assert doc["finished_at"] == "2025-03-01T09:30:04Z"
    assert [c["name"] for c in doc["checks"]] == [c.name for c in SEED_LIKE]
    ce = doc["checks"][4]
    assert ce == {
        "name": "CE_CHECK",
        "status": "FAIL",
        "detail": "CE ce-1 status=INVALID: CLIENT_ERROR - role missing",
        "hints": ["Fix what CE ce-1's statusReason names"],
        "duration_ms": 12,
        "data": {"compute_environments": [{"ce": "ce-1", "status": "INVALID"}]},
    }
    assert doc["root_cause_hints"] == [
        "CE_CHECK: Fix what CE ce-1's statusReason names",
        "JOBDEF_CHECK: Set retryStrategy on jd",
    ]


def test_json_timestamps_are_utc_whatever_the_input_zone():
    seoul = timezone(timedelta(hours=9))
    r = report()
    r.started_at = datetime(2025, 3, 1, 18, 30, 0, tzinfo=seoul)
    doc = json.loads(render_json(suite(r)))
    assert doc["started_at"] == "2025-03-01T09:30:00Z"


def test_json_timestamps_inside_check_data_are_iso_utc():
    when = datetime(2025, 3, 1, 9, 0, 0, tzinfo=UTC)
    checks = [CheckResult("LOG_CONTENT_CHECK", Status.OK, data={"newest_event": when})]
    doc = json.loads(render_json(suite(report(checks))))
    assert doc["checks"][0]["data"]["newest_event"] == "2025-03-01T09:00:00Z"


def test_json_overall_is_warn_or_ok_without_fails():
    warn = [CheckResult("AWS_ACCESS", Status.OK), CheckResult("JOBDEF_CHECK", Status.WARN, "w")]
    assert json.loads(render_json(suite(report(warn))))["overall"] == "WARN"
    skipped = [CheckResult("SMOKE_SUBMIT_CHECK", Status.SKIP, "ALLOW_TEST_SUBMIT not set")]
    assert json.loads(render_json(suite(report(skipped))))["overall"] == "OK"


def test_json_keeps_non_ascii_text():
    checks = [CheckResult("QUEUE_CHECK", Status.FAIL, "큐 없음", ["큐를 만드세요"])]
    text = render_json(suite(report(checks)))
    assert "큐 없음" in text
    assert json.loads(text)["checks"][0]["hints"] == ["큐를 만드세요"]


def test_json_several_targets_go_under_reports():
    healthy = report([CheckResult("AWS_ACCESS", Status.OK)], target="healthy")
    doc = json.loads(render_json(suite(report(), healthy)))
    assert set(doc) == {"overall", "reports", "started_at", "finished_at"}
    assert doc["overall"] == "FAIL"
    assert [r["target"] for r in doc["reports"]] == ["academy-video", "healthy"]
    for r in doc["reports"]:
        assert_spec_report(r)
    assert [r["overall"] for r in doc["reports"]] == ["FAIL", "OK"]
    assert ISO_Z.match(doc["started_at"]) and ISO_Z.match(doc["finished_at"])


def test_a_real_run_renders_in_both_formats(seed_world):
    from support.suite import run_target

    from batch_health.checks import CHECK_NAMES

    r = run_target(seed_world)
    s = SuiteReport([r], r.started_at, r.finished_at)
    final = section(render_text(s), "========== FINAL REPORT ==========")
    assert [line.split(":")[0] for line in final] == list(CHECK_NAMES)
    assert all(STATUS_LINE.match(line) for line in final)
    doc = json.loads(render_json(s))
    assert_spec_report(doc)
    assert [c["name"] for c in doc["checks"]] == list(CHECK_NAMES)


def test_run_stats_are_reported_beside_the_spec_keys():
    run = suite(report())
    run.stats = {"aws_calls": 12, "aws_http_attempts": 15, "aws_retries": 3}
    doc = json.loads(render_json(run))
    assert doc["stats"] == {"aws_calls": 12, "aws_http_attempts": 15, "aws_retries": 3}
    assert_spec_report({k: v for k, v in doc.items() if k != "stats"})
    assert "AWS_CALLS: 12 (HTTP attempts 15, retries 3)" in render_text(run).splitlines()
