"""Generated config documents and files: each one loads, or is rejected naming the key.

The same schema arrives three ways: a config file for the CLI (`--config`), and the
TARGETS_PARAMETER document the Lambda reads from SSM. A rejected document runs nothing
and sends nothing; an accepted one runs. Derandomized, so CI tries the same inputs.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import tomlkit
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from batch_health import cli
from batch_health.checks import CHECK_NAMES, RunOptions
from batch_health.cli import check as cli_check
from batch_health.cli.invoke import LocalContext
from batch_health.config import (
    ConfigError,
    SmokeConfig,
    SuiteConfig,
    Target,
    Thresholds,
    load_config_file,
    parse_suite_config,
)
from batch_health.models import CheckResult, Report, Status, SuiteReport
from batch_health.runtime import monitor
from batch_health.runtime.observability import metrics
from batch_health.runtime.settings import MonitorSettings

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

REGION = "ap-northeast-2"
PARSE_EXAMPLES = 1500
FILE_EXAMPLES = 500
CLI_EXAMPLES = 300
PARAMETER_EXAMPLES = 300
PROPERTY = settings(
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

# --- what the generated documents are made of ---------------------------------------------


def printable(max_size: int) -> st.SearchStrategy[str]:
    """Text without control characters or line breaks: a message quotes names and keys as
    they are, one problem a line."""
    return st.text(st.characters(exclude_categories=["Cc", "Cs", "Zl", "Zp"]), max_size=max_size)


# Keys a person might type (the messages name keys as they are, so a key holding "." or a
# line break would be ambiguous to read back here, not to the loader).
keys = st.text(
    st.characters(codec="ascii", categories=["L", "N"]) | st.sampled_from("_- "), max_size=8
)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | printable(12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3),
    max_leaves=8,
)


def mostly(good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(good, good, good, bad)


names = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,20}", fullmatch=True)
resource_names = mostly(names, st.sampled_from(["", "  "]) | printable(20))
source_specs = mostly(
    st.sampled_from(["ssm:/app/QUEUE", "env:VIDEO_QUEUE", "file:.env#QUEUE", "video-queue"]),
    st.sampled_from(["ssm:", "env:1x", "file:nokey", "file:#K", ""]) | printable(15),
)
smoke = st.fixed_dictionaries(
    {},
    optional={
        "command": mostly(st.lists(names, max_size=3), json_values),
        "parameters": mostly(st.dictionaries(names, printable(8), max_size=2), json_values),
        "default_job_id": mostly(st.booleans(), json_values),
        "require_succeeded": mostly(st.booleans(), json_values),
        "runnable_timeout_seconds": mostly(st.integers(1, 3600), st.integers() | json_values),
        "timeout_seconds": mostly(st.integers(1, 3600), st.integers() | json_values),
        "poll_seconds": mostly(st.floats(0.1, 60), st.floats(allow_nan=False) | json_values),
    },
)
thresholds = st.fixed_dictionaries(
    {},
    optional={
        "log_max_age_hours": mostly(st.floats(0.1, 1000), st.floats(allow_nan=False) | json_values),
        "log_scan_events": mostly(st.integers(1, 10_000), st.integers() | json_values),
        "runnable_warn_minutes": mostly(st.floats(0.1, 1000), st.floats(allow_nan=False)),
        "runnable_fail_minutes": mostly(st.floats(0.1, 1000), json_values),
        "job_failure_window_minutes": mostly(st.floats(0.1, 1000), json_values),
        "job_failures_warn_count": mostly(st.integers(1, 100), st.integers() | json_values),
        "job_failures_fail_ratio": mostly(st.floats(0.01, 1), st.floats(allow_nan=False)),
    },
)
targets = st.tuples(
    st.fixed_dictionaries(
        {},
        optional={
            "name": mostly(
                names, printable(70) | st.text("ab-", min_size=63, max_size=70) | json_values
            ),
            "region": mostly(st.sampled_from([REGION, "us-east-1"]), printable(12)),
            "role_arn": mostly(
                st.just("arn:aws:iam::123456789012:role/batch-health-target"), printable(20)
            ),
            "external_id": mostly(names, printable(5) | json_values),
            "job_queue": mostly(resource_names, json_values),
            "job_definition": mostly(resource_names, json_values),
            "log_group": mostly(st.just("/aws/batch/worker"), resource_names | json_values),
            "config_sources": mostly(
                st.dictionaries(
                    names,
                    st.dictionaries(
                        mostly(st.sampled_from(["job_queue", "job_definition"]), keys),
                        source_specs,
                        max_size=2,
                    ),
                    max_size=2,
                ),
                json_values,
            ),
            "smoke": mostly(smoke, json_values),
            "thresholds": mostly(thresholds, json_values),
        },
    ),
    mostly(st.just({}), st.dictionaries(keys, json_values, max_size=2)),
).map(lambda pair: {**pair[1], **pair[0]})
documents = st.one_of(
    st.fixed_dictionaries({"targets": st.lists(targets, max_size=3)}),
    st.tuples(
        st.fixed_dictionaries({"targets": mostly(st.lists(targets, max_size=3), json_values)}),
        st.dictionaries(st.sampled_from(["target", "version", "checks"]), json_values, max_size=1),
    ).map(lambda pair: {**pair[1], **pair[0]}),
    json_values,
)

# Only valid parts, so the accepted space gets examples of its own.
valid_targets = st.fixed_dictionaries(
    {"job_queue": names, "job_definition": names},
    optional={
        "region": st.sampled_from([REGION, "us-east-1"]),
        "log_group": st.just("/aws/batch/worker"),
        "config_sources": st.dictionaries(
            names,
            st.dictionaries(st.sampled_from(["job_queue", "job_definition"]), names),
            max_size=2,
        ),
        "smoke": st.fixed_dictionaries({}, optional={"timeout_seconds": st.integers(1, 3600)}),
        "thresholds": st.fixed_dictionaries(
            {}, optional={"log_scan_events": st.integers(1, 10_000)}
        ),
    },
)
valid_documents = st.lists(valid_targets, min_size=1, max_size=3).map(
    lambda ts: {"targets": [{**t, "name": f"target-{i}"} for i, t in enumerate(ts)]}
)

# --- what a rejection must say -------------------------------------------------------------

TARGET_FIELDS = set(Target.model_fields)
NESTED_FIELDS = {"smoke": set(SmokeConfig.model_fields), "thresholds": set(Thresholds.model_fields)}
TARGET_INDEX = re.compile(r"^targets\[(\d+)\]")


def key_path_ok(target: Any, path: str) -> bool:
    """`path` (after `targets[i] (name).`) starts with a field of Target or a key the target
    has; inside smoke/thresholds, with one of theirs."""
    key, _, inner = path.partition(".")
    present = set(target) if isinstance(target, dict) else set()
    if key not in TARGET_FIELDS | present:
        return False
    nested = NESTED_FIELDS.get(key)
    if nested and inner:
        given = target.get(key) if isinstance(target, dict) else None
        field = re.split(r"[.\[]", inner, maxsplit=1)[0]
        return field in nested | (set(given) if isinstance(given, dict) else set())
    return True


def assert_names_the_key(message: str, doc: Any, source: str) -> None:
    """Every line names the source, then the key (with the target's index and name)."""
    if not isinstance(doc, dict):
        assert message == f"{source}: expected an object with a 'targets' list", message
        return
    lines = message.split("\n")
    for line in lines:
        assert line.startswith(f"{source}: "), (line, message)
        text = line.removeprefix(f"{source}: ")
        found = TARGET_INDEX.match(text)
        if found:
            index = int(found[1])
            assert isinstance(doc.get("targets"), list) and index < len(doc["targets"]), line
            target = doc["targets"][index]
            name = target.get("name") if isinstance(target, dict) else None
            # The target as the file has it: its index, and its name when it has one.
            expected = f"targets[{index}]" + (
                f" ({name})" if isinstance(name, str) and name else ""
            )
            assert text.startswith(expected), (expected, line)
            rest = text.removeprefix(expected)
            if rest.startswith("."):
                assert key_path_ok(target, rest[1:].split(": ", 1)[0]), line
            else:  # the target itself: not an object, or a rule over several of its keys
                assert rest.startswith(": "), line
        else:
            where = text.split(": ", 1)[0]
            # `targets` itself, or a top-level key the document has that is not allowed
            # (an empty key reads "(top level)").
            assert where == "targets" or where in doc or (where == "(top level)" and "" in doc)


def label(doc: Any) -> str:
    return "object" if isinstance(doc, dict) else type(doc).__name__


# --- a suite runner that records what reached it ----------------------------------------------


class Recorder:
    def __init__(self) -> None:
        self.runs: list[SuiteConfig] = []
        self.notified = 0

    def run_suite(self, config: SuiteConfig, options: RunOptions, sessions: Any) -> SuiteReport:
        self.runs.append(config)
        now = datetime(2026, 1, 15, 3, 5, tzinfo=UTC)
        results = [CheckResult(n, Status.OK, "fine") for n in options.checks or CHECK_NAMES]
        reports = [Report(t.name, REGION, results, [], now, now) for t in config.targets]
        return SuiteReport(reports, now, now, stats={"aws_calls": 0})

    def notifier(self, suite: SuiteReport, s: Any, sessions: Any) -> list[str]:
        self.notified += 1
        return []


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Iterator[Recorder]:
    rec = Recorder()
    monkeypatch.setattr(monitor, "run_suite", rec.run_suite)
    monkeypatch.setattr(cli_check, "run_suite", rec.run_suite)
    monitor.reset_runtime()
    yield rec
    monitor.reset_runtime()


@pytest.fixture(scope="module")
def workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="batch-health-config-") as tmp:
        yield Path(tmp)


def write(doc: Any, workdir: Path, fmt: str) -> Path:
    """The document as a TOML or JSON file (JSON when TOML cannot hold it, e.g. null)."""
    if fmt == "toml" and isinstance(doc, dict):
        try:
            path = workdir / "targets.toml"
            path.write_text(tomlkit.dumps(doc), encoding="utf-8")
            event("file: toml")
            return path
        except (tomlkit.exceptions.ConvertError, ValueError, TypeError):
            pass
    path = workdir / "targets.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    event("file: json")
    return path


# --- the properties ---------------------------------------------------------------------------


@settings(PROPERTY, max_examples=PARSE_EXAMPLES)
@given(doc=documents | valid_documents)
def test_every_document_loads_or_is_rejected_naming_the_key(doc):
    try:
        config = parse_suite_config(doc, source="config")
    except ConfigError as exc:
        event(f"rejected {label(doc)}")
        assert_names_the_key(str(exc), doc, "config")
        return
    event("accepted")
    assert [t.name for t in config.targets] == [t.get("name", "default") for t in doc["targets"]]


@settings(PROPERTY, max_examples=FILE_EXAMPLES)
@given(
    doc=documents | valid_documents,
    fmt=st.sampled_from(["toml", "json"]),
    garbage=st.none() | st.text(max_size=40),
)
def test_every_config_file_loads_or_is_rejected_naming_the_file(doc, fmt, garbage, workdir):
    if garbage is not None:  # whatever text a file may hold, under either suffix
        path = workdir / f"targets.{fmt}"
        path.write_text(garbage, encoding="utf-8")
        event("file: text")
    else:
        path = write(doc, workdir, fmt)
    try:
        config = load_config_file(path)
    except ConfigError as exc:
        event("rejected")
        assert str(exc).startswith(str(path)), str(exc)
        return
    event("accepted")
    assert config.targets


def run_cli(path: Path) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = cli.main(["check", "--config", str(path)], environ={})
        except SystemExit as exited:
            code = int(exited.code or 0)
    return code, err.getvalue()


@settings(PROPERTY, max_examples=CLI_EXAMPLES)
@given(doc=documents | valid_documents, fmt=st.sampled_from(["toml", "json"]))
def test_the_cli_runs_an_accepted_config_and_nothing_for_a_rejected_one(
    doc, fmt, workdir, recorder
):
    path = write(doc, workdir, fmt)
    before = len(recorder.runs)
    code, err = run_cli(path)
    if code == 2:
        event("exit 2")
        assert err.startswith(f"batch-health: error: {path}"), err
        assert "Traceback" not in err
        assert len(recorder.runs) == before  # nothing ran
        return
    event(f"exit {code}")
    assert code == 0 and err == ""
    [config] = recorder.runs[before:]
    assert len(config.targets) == len(doc["targets"])


class Parameter:
    """Powertools' SSMProvider as the monitor calls it: the parameter's value, the
    document as JSON text (a JSON string is a document too, and not an object)."""

    def __init__(self, doc: Any) -> None:
        self.doc = doc

    def get(self, name: str, **_: Any) -> Any:
        return json.dumps(self.doc)


@settings(PROPERTY, max_examples=PARAMETER_EXAMPLES)
@given(doc=documents | valid_documents)
def test_a_targets_parameter_runs_or_is_rejected_and_nothing_is_sent(doc, recorder):
    name = "/batch-health/targets"
    settings_ = MonitorSettings.from_env(
        {
            "AWS_REGION": "ap-northeast-2",
            "CONFIG_PARAMETER_PATH": "/academy/api/",
            "TARGETS_PARAMETER": name,
            "ALERT_TOPIC_ARN": f"arn:aws:sns:{REGION}:123456789012:alerts",
            "POWERTOOLS_METRICS_NAMESPACE": "BatchHealth",
        }
    )
    rt = monitor.Runtime(_ssm_provider=Parameter(doc))
    before, notified = len(recorder.runs), recorder.notified
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            report = monitor.handle(
                {}, LocalContext(region=REGION), settings_, rt=rt, notifier=recorder.notifier
            )
        except ConfigError as exc:
            report = None
            assert_names_the_key(str(exc), doc, f"TARGETS_PARAMETER {name}")
        finally:
            metrics.flush_metrics()
    emitted = [x for x in out.getvalue().splitlines() if '"_aws"' in x]
    if report is None:
        event("rejected: nothing ran or was sent")
        assert (len(recorder.runs), recorder.notified, emitted) == (before, notified, [])
        return
    event("ran and notified")
    [config] = recorder.runs[before:]
    assert len(config.targets) == len(doc["targets"])
    assert recorder.notified == notified + 1
    assert sum('"SuiteRun"' in x for x in emitted) == 1  # one heartbeat per run
