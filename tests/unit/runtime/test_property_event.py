"""Generated Lambda events: each one runs, or is rejected naming the field, and sends nothing.

Hypothesis builds events around the shapes the monitor accepts (scheduled envelopes,
manual requests) with every field sometimes right, sometimes any JSON value, plus keys
nobody defined. Derandomized, so every CI run tries the same inputs.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from batch_health.aws.sessions import AwsSessions
from batch_health.checks import CHECK_NAMES, RunOptions
from batch_health.cli.invoke import LocalContext
from batch_health.config import SuiteConfig
from batch_health.models import CheckResult, Report, Status, SuiteReport
from batch_health.runtime import monitor
from batch_health.runtime.event import InvalidEventError, RunRequest, parse_event
from batch_health.runtime.observability import metrics
from batch_health.runtime.settings import MonitorSettings

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

REGION = "ap-northeast-2"
TARGET = "academy-video"
PARSE_EXAMPLES = 3000
HANDLE_EXAMPLES = 1000
VALID_EXAMPLES = 500
PROPERTY = settings(
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

# --- what the generated events are made of ------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


def mostly(good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """`good` five times in six: enough valid events get through to run."""
    return st.one_of(good, good, good, good, good, bad)


check_names = mostly(
    st.sampled_from(CHECK_NAMES) | st.sampled_from(CHECK_NAMES).map(str.lower),
    st.sampled_from(["", " ", "LOGS_CHECK", "queue", "QUEUE_CHECK "]) | st.text(max_size=20),
)
target_names = mostly(
    st.just(TARGET), st.sampled_from(["other-target", "", " "]) | st.text(max_size=130)
)
REQUEST_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "checks": mostly(st.lists(check_names, min_size=1, max_size=3), json_values),
    "allow_test_submit": mostly(st.booleans(), json_values),
    "notify": mostly(st.booleans(), json_values),
    "targets": mostly(st.lists(target_names, min_size=1, max_size=2), json_values),
}
unknown_keys = st.dictionaries(
    st.sampled_from(["notfy", "check", "Checks", "detail", "source", ""]) | st.text(max_size=10),
    json_values,
    max_size=2,
)


def with_extras(fields: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """The fields, and now and then keys the model does not define."""
    extras = mostly(st.just({}), unknown_keys)
    return st.tuples(fields, extras).map(lambda pair: {**pair[1], **pair[0]})


manual_requests = with_extras(st.fixed_dictionaries({}, optional=REQUEST_FIELDS))
scheduled_events = with_extras(
    st.fixed_dictionaries(
        {
            "detail-type": mostly(st.just("Scheduled Event"), st.text(max_size=20)),
            "source": mostly(st.sampled_from(["aws.events", "aws.scheduler"]), json_values),
        },
        optional={
            "id": mostly(st.text(max_size=36), json_values),
            "time": mostly(st.just("2026-01-15T03:05:00Z"), json_values),
            "resources": mostly(st.lists(st.text(max_size=40), max_size=2), json_values),
            "detail": mostly(manual_requests, json_values),
            "replay-name": st.text(max_size=10),
            "account": st.just("123456789012"),
        },
    )
)
events = st.one_of(manual_requests, scheduled_events, json_values)

# Only valid parts: Hypothesis spends most examples above on the branches with more to
# vary (the invalid ones), so the valid space gets its own property.
valid_requests = st.fixed_dictionaries(
    {},
    optional={
        "checks": st.lists(
            st.sampled_from(CHECK_NAMES) | st.sampled_from(CHECK_NAMES).map(str.lower),
            min_size=1,
            max_size=4,
        ),
        "allow_test_submit": st.booleans(),
        "notify": st.booleans(),
        "targets": st.lists(st.just(TARGET), min_size=1, max_size=2),
    },
)
valid_events = valid_requests | st.fixed_dictionaries(
    {
        "detail-type": st.just("Scheduled Event"),
        "source": st.sampled_from(["aws.events", "aws.scheduler"]),
    },
    optional={
        "id": st.text(max_size=36),
        "time": st.just("2026-01-15T03:05:00Z"),
        "resources": st.lists(st.text(max_size=40), max_size=2),
        "detail": valid_requests,
        "replay-name": st.text(max_size=10),  # envelope fields AWS may add are ignored
    },
)

# --- what a rejection must say -------------------------------------------------------------

ENVELOPE_REQUIRED = {"detail-type", "source"}
FIELD_PATH = re.compile(r"^([^.\[:]+)")


def assert_names_the_field(message: str, event: Any) -> None:
    """The message says which field is wrong: one the event has, or a required one it lacks."""
    if not isinstance(event, dict):
        assert message.startswith(f"event: expected a JSON object, got {type(event).__name__} "), (
            message
        )
        return
    assert message.startswith("invalid event: "), message
    problems = message.removeprefix("invalid event: ")
    scheduled = "detail-type" in event
    if scheduled and "detail" in event:
        detail = event["detail"]
        if isinstance(detail, dict):
            for key in set(detail) - set(RunRequest.model_fields):
                assert f"detail.{key}: unknown field" in problems, (key, message)
    if not scheduled:
        # Every key the model does not define is named as such.
        for key in set(event) - set(RunRequest.model_fields):
            assert f"{key}: unknown field (valid fields: " in problems, (key, message)
    known = set(event) | (ENVELOPE_REQUIRED if scheduled else set())
    # "targets" names the field of a valid event whose target is not configured.
    assert any(problems.startswith(f"{field}") for field in known | {"targets"}), message


# --- the monitor, with a recording run_suite and notifier -----------------------------------


def monitor_settings() -> MonitorSettings:
    return MonitorSettings.from_env(
        {
            "AWS_REGION": "ap-northeast-2",
            "CONFIG_PARAMETER_PATH": "/academy/api/",
            "TARGET_NAME": TARGET,
            "JOB_QUEUE": "academy-video-batch-queue",
            "JOB_DEFINITION": "academy-video-batch-jobdef",
            "ALERT_TOPIC_ARN": f"arn:aws:sns:{REGION}:123456789012:alerts",
            "POWERTOOLS_METRICS_NAMESPACE": "BatchHealth",
        }
    )


class Recorder:
    """Stands in for the suite (a canned report) and the notifier; counts what reached them."""

    def __init__(self) -> None:
        self.runs: list[RunOptions] = []
        self.notified: list[SuiteReport] = []

    def run_suite(self, config: SuiteConfig, options: RunOptions, sessions: Any) -> SuiteReport:
        self.runs.append(options)
        now = datetime(2026, 1, 15, 3, 5, tzinfo=UTC)
        names = options.checks or list(CHECK_NAMES)
        results = [
            CheckResult(n, Status.FAIL if n == "LOG_GROUP_CHECK" else Status.OK, f"{n} said so")
            for n in names
        ]
        reports = [Report(t.name, REGION, results, [], now, now) for t in config.targets]
        return SuiteReport(reports, now, now, stats={"aws_calls": 0})

    def notifier(self, suite: SuiteReport, s: MonitorSettings, sessions: AwsSessions) -> list[str]:
        self.notified.append(suite)
        return []


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Iterator[Recorder]:
    rec = Recorder()
    monkeypatch.setattr(monitor, "run_suite", rec.run_suite)
    monitor.reset_runtime()
    yield rec
    monitor.reset_runtime()


def emf_lines(text: str) -> list[dict[str, Any]]:
    lines = [json.loads(x) for x in text.splitlines() if x.startswith("{")]
    return [x for x in lines if "_aws" in x]


# --- the properties -------------------------------------------------------------------------


@settings(PROPERTY, max_examples=PARSE_EXAMPLES)
@given(candidate=events)
def test_every_event_parses_or_is_rejected_naming_the_field(candidate):
    try:
        parsed = parse_event(candidate)
    except InvalidEventError as exc:
        event("rejected")
        assert_names_the_field(str(exc), candidate)
        return
    event(f"accepted ({parsed.trigger})")
    request = parsed.request
    assert parsed.trigger == ("schedule" if "detail-type" in candidate else "manual")
    assert request.checks is None or set(request.checks) <= set(CHECK_NAMES)
    assert isinstance(request.allow_test_submit, bool) and isinstance(request.notify, bool)
    assert request.targets is None or all(t.strip() for t in request.targets)


@settings(PROPERTY, max_examples=HANDLE_EXAMPLES)
@given(candidate=events)
def test_the_monitor_runs_a_valid_event_and_sends_nothing_for_a_rejected_one(candidate, recorder):
    handle_and_check(candidate, recorder)


@settings(PROPERTY, max_examples=VALID_EXAMPLES)
@given(candidate=valid_events)
def test_every_valid_event_runs(candidate, recorder):
    assert handle_and_check(candidate, recorder) is not None


def handle_and_check(candidate: Any, recorder: Recorder) -> dict[str, Any] | None:
    """monitor.handle on the event, and what must follow: a run, or nothing at all."""
    runs, notified = len(recorder.runs), len(recorder.notified)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            report = monitor.handle(
                candidate,
                LocalContext(region=REGION),
                monitor_settings(),
                notifier=recorder.notifier,
            )
        except InvalidEventError as exc:
            report = None
            assert_names_the_field(str(exc), candidate)
        finally:
            metrics.flush_metrics()
    emitted = emf_lines(out.getvalue())
    if report is None:
        event("rejected")
        # Rejected before anything ran: no check, no metric, no message.
        assert (len(recorder.runs), len(recorder.notified), emitted) == (runs, notified, [])
        return None
    request = parse_event(candidate).request
    event("ran and notified" if request.notify else "ran, notify false")
    [options] = recorder.runs[runs:]
    assert options.checks == request.checks
    assert options.allow_test_submit is request.allow_test_submit
    assert len(recorder.notified) - notified == (1 if request.notify else 0)
    assert [x["SuiteRun"] for x in emitted if "SuiteRun" in x] == [[1.0]]
    assert report["target"] == TARGET
    assert [c["name"] for c in report["checks"]] == (request.checks or list(CHECK_NAMES))
    return report
