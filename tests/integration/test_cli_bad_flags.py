"""Every flag with a wrong value: exit 2, one clear line naming the flag, no traceback.

In-process (the console script's own code path: `main`), one case per flag and kind of
wrong value; tests/integration/test_cli.py and test_invoke_cli.py hold the ones not
repeated here (unknown --checks name, bad --format, config file syntax and keys,
--event missing or not JSON, --env-vars not an object).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from batch_health.cli import main

pytestmark = [
    pytest.mark.integration,
    # A failed invocation has no metric to flush; Powertools warns about the empty flush.
    pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning"),
]

ROOT = Path(__file__).resolve().parents[2]
HANDLER = str(ROOT / "functions" / "monitor" / "app.py")
EVENT = str(ROOT / "events" / "manual-full.json")
TARGET = ("check", "--queue", "q", "--job-definition", "j")


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        code = main(list(args))
    except SystemExit as exited:
        code = exited.code if isinstance(exited.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "empty.json").write_text("")
    (tmp_path / "empty.toml").write_text("")
    (tmp_path / "list.json").write_text("[]")
    (tmp_path / "env.json").write_text(
        json.dumps({"MonitorFunction": {"JOB_QUEUE": "q", "JOB_DEFINITION": "j"}})
    )
    return {
        "dir": str(tmp_path),
        "empty_json": str(tmp_path / "empty.json"),
        "empty_toml": str(tmp_path / "empty.toml"),
        "list_json": str(tmp_path / "list.json"),
        "env_json": str(tmp_path / "env.json"),
    }


CASES = [
    # check: what and how
    (
        [*TARGET, "--time-budget", "abc"],
        "argument --time-budget: expected a number of seconds, got 'abc'",
    ),
    ([*TARGET, "--time-budget", "0"], "argument --time-budget: must be > 0 and <= 86400, got '0'"),
    (
        [*TARGET, "--time-budget", "-5"],
        "argument --time-budget: must be > 0 and <= 86400, got '-5'",
    ),
    ([*TARGET, "--concurrency", "0"], "argument --concurrency: must be >= 1, got '0'"),
    ([*TARGET, "--concurrency", "-2"], "argument --concurrency: must be >= 1, got '-2'"),
    ([*TARGET, "--concurrency", "1.5"], "argument --concurrency: expected an integer, got '1.5'"),
    ([*TARGET, "--concurrency", "many"], "argument --concurrency: expected an integer, got 'many'"),
    ([*TARGET, "--region", "garbage"], "flags: targets[0].region: String should match pattern"),
    ([*TARGET, "--region", "US-EAST-1"], "flags: targets[0].region: String should match pattern"),
    ([*TARGET, "--smoke-param", "=v"], "--smoke-param '=v': expected NAME=VALUE"),
    ([*TARGET, "--smoke-param", "1x=v"], "--smoke-param '1x=v': expected NAME=VALUE"),
    ([*TARGET, "--smoke-param", ""], "--smoke-param '': expected NAME=VALUE"),
    ([*TARGET, "--checks", ",,"], "--checks: no check named; valid checks: CONFIG_MATCH_QUEUE"),
    ([*TARGET, "--checks", "QUEUE_CHECK,NOPE"], "--checks: unknown check NOPE; valid checks:"),
    (
        ["check", "--queue", "  ", "--job-definition", "j"],
        "flags: targets[0].job_queue: String should have at least 1 character",
    ),
    (["check", "--queue", "q", "--job-definition", ""], "--job-definition required"),
    (
        [*TARGET, "--log-group", "  "],
        "flags: targets[0].log_group: String should have at least 1 character",
    ),
    (["check", "--config", "{dir}"], "--config {dir}: cannot read: Is a directory"),
    (["check", "--config", "{empty_json}"], "{empty_json}: line 1 column 1: Expecting value"),
    (["check", "--config", "{empty_toml}"], "{empty_toml}: targets: Field required"),
    (["check", "--config", "{list_json}"], "{list_json}: expected an object with a 'targets'"),
    (
        ["check", "--config", f"{ROOT}/events/manual-full.json", "--target", ""],
        "manual-full.json: targets: Field required",
    ),
    # demo: rejected before the emulator starts
    (["demo", "--scenario", "nope"], "argument --scenario: invalid choice: 'nope'"),
    (["demo", "--concurrency", "0"], "argument --concurrency: must be >= 1, got '0'"),
    (["demo", "--time-budget", "-1"], "argument --time-budget: must be > 0 and <= 86400, got '-1'"),
    (["demo", "--format", "yaml"], "argument --format: invalid choice: 'yaml'"),
    # invoke
    (["invoke"], "the following arguments are required: --event"),
    (["invoke", "--event", "{dir}"], "--event {dir}: cannot read: Is a directory"),
    (
        ["invoke", "--event", "{empty_json}"],
        "--event {empty_json}: invalid JSON at line 1 column 1: Expecting value",
    ),
    (
        ["invoke", "--event", EVENT, "--timeout", "0"],
        "argument --timeout: must be > 0 and <= 86400, got '0'",
    ),
    (
        ["invoke", "--event", EVENT, "--timeout", "-1"],
        "argument --timeout: must be > 0 and <= 86400, got '-1'",
    ),
    (
        ["invoke", "--event", EVENT, "--timeout", "x"],
        "argument --timeout: expected a number of seconds, got 'x'",
    ),
    (
        ["invoke", "--event", EVENT, "--demo-world", "nope"],
        "argument --demo-world: invalid choice: 'nope'",
    ),
    (["invoke", "--event", EVENT, "--handler", "{dir}/nope.py"], "handler {dir}/nope.py not found"),
    (["invoke", "--event", EVENT, "--env-vars", "{dir}"], "--env-vars {dir}: cannot read"),
    (
        ["invoke", "--event", EVENT, "--env-vars", "{empty_json}"],
        "--env-vars {empty_json}: invalid JSON at line 1 column 1",
    ),
    # notify-test
    (
        ["notify-test", "--topic-arn", "arn:aws:sqs:ap-northeast-2:123456789012:q"],
        "--topic-arn: not an SNS topic ARN: 'arn:aws:sqs:ap-northeast-2:123456789012:q'",
    ),
]


@pytest.mark.parametrize(("args", "message"), CASES, ids=[" ".join(a) for a, _ in CASES])
def test_a_wrong_value_exits_2_naming_the_flag(capsys, files, args, message):
    args = [a.format(**files) for a in args]
    code, out, err = run(capsys, *args)
    assert code == 2, (code, out, err)
    assert message.format(**files) in err, err
    assert out == ""
    assert "Traceback" not in err
    assert len(err.strip().splitlines()[-1]) < 400  # one line to read, not a dump


def test_a_non_object_event_fails_the_invocation_with_exit_2(capsys, files):
    code, out, err = run(
        capsys,
        "invoke",
        "--event",
        files["list_json"],
        "--env-vars",
        files["env_json"],
        "--handler",
        HANDLER,
    )
    assert code == 2, err
    response = json.loads(out)  # Lambda's error document, as `sam remote invoke` shows it
    assert response["errorType"] == "InvalidEventError"
    assert response["errorMessage"].startswith("event: expected a JSON object, got list")
    assert "the invocation failed: event: expected a JSON object" in err


def test_demo_rejects_a_bad_check_name_with_exit_2():
    # A process of its own: the demo's emulator starts from an empty account only there.
    proc = subprocess.run(
        [sys.executable, "-m", "batch_health", "demo", "--checks", "NOPE"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    assert "--checks: unknown check NOPE; valid checks:" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert "FINAL REPORT" not in proc.stdout  # nothing was checked


# Non-finite or absurd numbers are rejected by the flag itself, not later by a traceback.
NON_FINITE = [
    ([*TARGET, "--time-budget", "nan", "--checks", "CONFIG_MATCH_QUEUE"], "--time-budget"),
    ([*TARGET, "--time-budget", "inf", "--checks", "CONFIG_MATCH_QUEUE"], "--time-budget"),
    ([*TARGET, "--time-budget", "1e308", "--checks", "CONFIG_MATCH_QUEUE"], "--time-budget"),
    (["invoke", "--event", EVENT, "--env-vars", "{env_json}", "--timeout", "inf"], "--timeout"),
    (["invoke", "--event", EVENT, "--env-vars", "{env_json}", "--timeout", "nan"], "--timeout"),
]


@pytest.mark.parametrize(("args", "flag"), NON_FINITE, ids=[" ".join(a) for a, _ in NON_FINITE])
def test_a_non_finite_number_exits_2_naming_the_flag(capsys, files, aws, args, flag):
    args = [a.format(**files) for a in args] + (["--handler", HANDLER] if "invoke" in args else [])
    try:
        code, _, err = run(capsys, *args)
    except (ValueError, OverflowError) as exc:  # the traceback the console script shows
        pytest.fail(f"{type(exc).__name__}: {exc}")
    assert code == 2 and flag in err, (code, err)
