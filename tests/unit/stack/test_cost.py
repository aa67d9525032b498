"""The monthly bill (bench/cost.py), computed from the template as deployed and from what a
healthy run sends: within its budget, the same as README.md says, and moved by the options
that cost money."""

from __future__ import annotations

import importlib.util
import io
import json
import sys
from types import ModuleType
from typing import Any

import boto3
import pytest
from support.cfn import ROOT

from batch_health.checks import REGISTRY
from batch_health.cli.invoke import LocalContext
from batch_health.runtime import monitor
from batch_health.runtime.observability import logger

ONE_TARGET_BUDGET = 4.00
FURTHER_TARGET_BUDGET = 0.60
# Lambda's own START, END and REPORT lines (request id, durations, memory, X-Ray trace id).
LAMBDA_PLATFORM_BYTES = 400
TRACE_ID = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
SCHEDULED = {"detail-type": "Scheduled Event", "source": "aws.scheduler", "detail": {}}


def load_cost() -> ModuleType:
    if "cost" in sys.modules:
        return sys.modules["cost"]
    spec = importlib.util.spec_from_file_location("cost", ROOT / "bench" / "cost.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["cost"] = module
    spec.loader.exec_module(module)
    return module


cost = load_cost()
ONE, TWO, TWENTY = cost.bills()


def items(bill: Any) -> dict[str, float]:
    return {item: usd for item, _, usd in bill}


def costs_section() -> str:
    text = (ROOT / "README.md").read_text()
    return text.split("\n## Costs\n", 1)[1].split("\n## ", 1)[0]


def test_one_target_and_each_further_target_within_budget():
    assert ONE.total <= ONE_TARGET_BUDGET, ONE
    further = TWO.total - ONE.total
    assert 0 < further <= FURTHER_TARGET_BUDGET, TWO
    # Linear in the targets: 20 is the first plus 19 further ones.
    assert TWENTY.total == pytest.approx(ONE.total + 19 * further)


def test_the_readme_shows_the_bill_this_computes():
    section = costs_section()
    assert cost.render_markdown(ONE, TWO, TWENTY) in section, (
        "run `python bench/cost.py --markdown`"
    )
    # The numbers the section's text gives beside the table.
    assert f"${cost.failing_check_cost(24):.3f}" in section
    assert f"${cost.monthly_bill(1, year=9).total:.2f}" in section
    durations = cost.monthly_bill(1, {"PublishDurationMetrics": "true"}).total - ONE.total
    assert f"${durations:.2f}" in section
    assert "$3.00" in section


def test_a_healthy_run_sends_no_check_failed_series_only_the_heartbeat():
    for smoke_run in (False, True):
        for targets in (1, 20):
            suite = cost.healthy_suite(targets, smoke_run)
            series, _ = cost.run_series(suite, "BatchHealth", False)
            assert {(name, tuple(sorted(dims))) for _, name, dims in series} == {
                ("SuiteRun", (("service", "batch-health"),))
            }


def test_an_idle_queue_sends_no_queue_depth_a_busy_one_5_depths_and_2_ages_per_target():
    """QueueDepth per status and the two oldest-age gauges, only while above 0: the healthy
    month's idle queues send none, a busy target's queue 7 metrics, each billed per hour."""
    (report,) = cost.healthy_suite(1).reports
    (backlog,) = [c for c in report.checks if c.name == "RUNNABLE_BACKLOG_CHECK"]
    assert backlog.data["queue_depth"] == dict.fromkeys(
        ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING"), 0
    )
    for targets in (1, 3):
        series, _ = cost.run_series(cost.healthy_suite(targets, busy=True), "BatchHealth", False)
        gauges = {(name, tuple(sorted(dims))) for _, name, dims in series if name != "SuiteRun"}
        assert len(gauges) == 7 * targets
    assert {(name, tuple(sorted(dims))) for _, name, dims in cost.queue_depth_series()} == {
        *(
            ("QueueDepth", (("Status", s), ("Target", "target-00")))
            for s in backlog.data["queue_depth"]
        ),
        ("OldestRunnableAgeSeconds", (("Target", "target-00"),)),
        ("OldestStartingAgeSeconds", (("Target", "target-00"),)),
    }
    assert cost.queue_depth_cost(24 * 30) == pytest.approx(7 * 0.30)
    assert cost.queue_depth_cost(24) == pytest.approx(7 * 0.30 / 30)


def test_busy_queues_show_in_the_bill_per_target():
    one = items(cost.monthly_bill(1, busy=True))
    two = items(cost.monthly_bill(2, busy=True))
    assert one["custom metrics"] - items(ONE)["custom metrics"] == pytest.approx(7 * 0.30)
    assert two["custom metrics"] - one["custom metrics"] == pytest.approx(7 * 0.30)
    # Their EMF lines are logged too.
    assert one["CloudWatch Logs ingestion"] > items(ONE)["CloudWatch Logs ingestion"]


def test_the_healthy_suite_is_every_registered_check():
    (report,) = cost.healthy_suite(1).reports
    assert [c.name for c in report.checks] == sorted(
        (c.name for c in REGISTRY), key=lambda n: n == "SMOKE_SUBMIT_CHECK"
    )
    assert {c.name for c in report.checks if c.status.value == "SKIP"} == {"SMOKE_SUBMIT_CHECK"}


def test_while_healthy_the_check_alarms_analyze_nothing():
    """The per-check alarms' queries match no series a healthy month sends: not the suite
    runs', nor the smoke jobs' verdicts from their events (sent only while they fail)."""
    u = cost.usage(1)
    queries = [
        m["Expression"]
        for alarm in u.of_type("AWS::CloudWatch::Alarm")
        for m in alarm.get("Metrics", [])
        if "SELECT" in m.get("Expression", "")
    ]
    assert len(queries) == len(REGISTRY)
    assert u.hours, "a healthy month sends the heartbeat at least"
    assert {s for q in queries for s in u.hours if cost.query_matches(q, s)} == set()
    assert items(ONE)["Metrics Insights alarms"] == pytest.approx(0.0)


def test_the_query_matcher_reads_the_alarm_queries():
    series = (
        "BatchHealth",
        "CheckFailed",
        frozenset({"Target": "t", "Check": "QUEUE_CHECK"}.items()),
    )
    query = 'SELECT MAX(CheckFailed) FROM "BatchHealth" WHERE "Check" = \'{}\' GROUP BY "Target"'
    assert cost.query_matches(query.format("QUEUE_CHECK"), series)
    assert not cost.query_matches(query.format("CE_CHECK"), series)
    assert not cost.query_matches('SELECT SUM(SuiteRun) FROM "BatchHealth"', series)


def test_the_dashboard_shows_in_the_bill():
    enabled = cost.monthly_bill(1, {"Dashboard": "enabled"})
    assert enabled.total - ONE.total == pytest.approx(3.00)
    assert items(enabled)["dashboard"] == pytest.approx(3.00)
    assert items(ONE)["dashboard"] == 0


def test_duration_metrics_show_in_the_bill_per_target():
    looked = len(REGISTRY) - 1  # a suite run SKIPs the smoke check: no duration
    one = items(cost.monthly_bill(1, {"PublishDurationMetrics": "true"}))
    two = items(cost.monthly_bill(2, {"PublishDurationMetrics": "true"}))
    assert one["custom metrics"] - items(ONE)["custom metrics"] == pytest.approx(looked * 0.30)
    assert two["custom metrics"] - one["custom metrics"] == pytest.approx(looked * 0.30)


def test_the_events_function_is_billed_only_when_deployed():
    without = cost.monthly_bill(1, {"BatchEvents": "disabled"})
    assert "SQS (the events queue)" in items(ONE)
    assert "SQS (the events queue)" not in items(without)
    # Nor the smoke verdict its event carries: the smoke run then waits for the job.
    assert items(without)["Metrics Insights alarms"] == 0


def test_the_key_rotations_add_to_later_years():
    # RotationPeriodInDays 2560: the first rotation in the eighth year, $1.00 from then on;
    # AWS charges the first two rotations only.
    assert cost.monthly_bill(1, year=8).total == pytest.approx(ONE.total)
    assert cost.monthly_bill(1, year=9).total - ONE.total == pytest.approx(1.00)
    assert cost.monthly_bill(1, year=30).total - ONE.total == pytest.approx(2.00)
    assert cost.monthly_bill(1, year=9).total <= ONE_TARGET_BUDGET
    yearly = {"EnableKeyRotation": True}
    assert cost.kms_rotations(yearly, 2) == 1 and cost.kms_rotations(yearly, 3) == 2


def test_runs_follow_the_schedules():
    assert cost.runs_per_month("rate(5 minutes)") == 8_640
    assert cost.runs_per_month("rate(1 hour)") == 720
    no_smoke = cost.usage(1, {"SmokeSchedule": "disabled"})
    assert (no_smoke.suite_runs, no_smoke.smoke_runs) == (8_640, 0)


# A healthy run adds nothing to the shared metrics object: Powertools warns of the empty flush.
@pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")
def test_the_log_bytes_assumed_cover_a_measured_healthy_run(healthy_world, monkeypatch):
    """ "run starting" and "target checked" of a healthy scheduled run through the handler
    (Powertools adds the Lambda context and the X-Ray trace id to each line), as deployed:
    a topic and the incident table. Within LOG_BYTES_PER_RUN and LOG_BYTES_PER_TARGET."""
    import app  # functions/monitor/app.py

    boto3.client("dynamodb").create_table(
        TableName="incidents",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    env = {
        "CONFIG_PARAMETER_PATH": "/academy/api/",
        "TARGET_NAME": healthy_world["name"],
        "JOB_QUEUE": healthy_world["job_queue"],
        "JOB_DEFINITION": healthy_world["job_definition"],
        "CONFIG_SOURCES": json.dumps(healthy_world.get("config_sources", {})),
        "POWERTOOLS_METRICS_NAMESPACE": "BatchHealth",
        "INCIDENT_TABLE_NAME": "incidents",
        # Healthy: the incidents are read, nothing is published.
        "ALERT_TOPIC_ARN": "arn:aws:sns:ap-northeast-2:123456789012:alerts",
        "_X_AMZN_TRACE_ID": TRACE_ID,
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monitor.reset_runtime()
    stream = io.StringIO()
    handler = logger.registered_handler
    original = handler.setStream(stream)
    try:
        result = app.lambda_handler(SCHEDULED, LocalContext(region="ap-northeast-2"))
    finally:
        handler.setStream(original)
        monitor.reset_runtime()
    assert result["overall"] in ("OK", "WARN")
    logged = {
        json.loads(line)["message"]: len(line.encode()) + 1
        for line in stream.getvalue().splitlines()
    }
    assert "xray_trace_id" in stream.getvalue() and "function_arn" in stream.getvalue()
    assert set(logged) == {"run starting", "target checked"}, logged
    assert logged["run starting"] + LAMBDA_PLATFORM_BYTES <= cost.LOG_BYTES_PER_RUN
    assert logged["target checked"] <= cost.LOG_BYTES_PER_TARGET


def test_the_readme_says_how_many_stacks_one_region_holds():
    per_stack, fit = cost.stacks_per_region()
    assert per_stack == 12  # one per check (generate_check_alarms.py)
    assert fit == 200 // 12
    text = (ROOT / "README.md").read_text()
    assert f"{per_stack} Metrics Insights alarms" in text and f"{fit} stacks" in text
