"""`batch-health` as a user runs it: a subprocess against a moto server on 127.0.0.1."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from batch_health.checks import CHECK_NAMES, REGISTRY
from batch_health.cli import main
from batch_health.demo import QUEUE, REGION, WorldBuilder, build_healthy, build_seed, emulator

pytestmark = pytest.mark.integration

FOUNDATION = ["CONFIG_MATCH_QUEUE", "CONFIG_MATCH_JOBDEF", "AWS_ACCESS", "QUEUE_CHECK", "CE_CHECK"]
ISO_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


def cli_path() -> str:
    beside = Path(sys.executable).parent / "batch-health"
    found = str(beside) if beside.exists() else shutil.which("batch-health")
    assert found, "the batch-health console script is not installed (pip install -e .)"
    return found


def batch_health(*args: str, endpoint: str | None = None, timeout: float = 60, **env: str):
    environ = {**os.environ, **env}
    if endpoint:
        environ["AWS_ENDPOINT_URL"] = endpoint
    return subprocess.run(
        [cli_path(), *args], capture_output=True, text=True, env=environ, timeout=timeout
    )


def post(url: str, body: dict[str, Any] | None = None) -> None:
    data = json.dumps(body).encode() if body is not None else b""
    request = urllib.request.Request(url, data=data, method="POST")
    request.add_header("Content-Type", "application/json")
    urllib.request.urlopen(request, timeout=10).close()


@pytest.fixture(scope="module")
def moto_server() -> Iterator[str]:
    with emulator() as url:
        yield url


@pytest.fixture
def server(moto_server: str) -> str:
    """A moto server with nothing in it, Batch without Docker."""
    post(f"{moto_server}/moto-api/reset")
    post(f"{moto_server}/moto-api/config", {"batch": {"use_docker": False}})
    return moto_server


def write_config(tmp_path: Path, *targets: dict[str, Any], suffix: str = ".json") -> Path:
    path = tmp_path / f"targets{suffix}"
    path.write_text(json.dumps({"targets": list(targets)}))
    return path


def final_report(stdout: str) -> dict[str, str]:
    lines = stdout.splitlines()
    start = lines.index("========== FINAL REPORT ==========") + 1
    out: dict[str, str] = {}
    for line in lines[start:]:
        if not line.strip():
            break
        key, _, status = line.partition(": ")
        out[key] = status
    return out


def root_cause_hints(stdout: str) -> list[str]:
    lines = stdout.splitlines()
    return [line for line in lines[lines.index("ROOT_CAUSE_HINTS:") + 1 :] if line]


# --- check against worlds ------------------------------------------------------------------


def test_seed_world_fails_on_the_missing_log_group_with_exit_1(server, tmp_path):
    world = build_seed(WorldBuilder(server), tmp_path)
    proc = batch_health(
        "check", "--config", str(write_config(tmp_path, world.target)), endpoint=server
    )
    assert proc.returncode == 1, proc.stderr
    final = final_report(proc.stdout)
    assert list(final) == list(CHECK_NAMES)
    for name in FOUNDATION:
        assert final[name] == "OK"
    assert final["JOBDEF_CHECK"] == "WARN"
    assert final["LOG_GROUP_CHECK"] == "FAIL"
    assert final["SMOKE_SUBMIT_CHECK"].startswith("SKIP (")
    assert all(status != "OK/FAIL" for status in final.values())
    hints = root_cause_hints(proc.stdout)
    assert hints and all(h.startswith("- ") for h in hints)
    assert any(h.startswith("- LOG_GROUP_CHECK: ") for h in hints)
    assert "=== STEP 0 CONFIG_DIFF ===" in proc.stdout
    assert proc.stderr == ""


def test_healthy_world_passes_with_exit_0(server, tmp_path):
    world = build_healthy(WorldBuilder(server), tmp_path)
    proc = batch_health(
        "check", "--config", str(write_config(tmp_path, world.target)), endpoint=server
    )
    final = final_report(proc.stdout)
    assert proc.returncode == 0, proc.stdout
    assert list(final) == list(CHECK_NAMES)
    assert "FAIL" not in final.values()
    for name in [*FOUNDATION, "JOBDEF_CHECK"]:
        assert final[name] == "OK"
    assert all(h.startswith("- ") for h in root_cause_hints(proc.stdout))


def test_flags_target_with_a_missing_queue_exits_1(server, tmp_path):
    WorldBuilder(server)  # the account exists; the queue does not
    proc = batch_health(
        "check",
        "--queue",
        "academy-video-queue-typo",
        "--job-definition",
        "jd",
        "--region",
        REGION,
        "--checks",
        "AWS_ACCESS,QUEUE_CHECK,CE_CHECK",
        endpoint=server,
    )
    assert proc.returncode == 1, proc.stderr
    assert final_report(proc.stdout) == {
        "AWS_ACCESS": "OK",
        "QUEUE_CHECK": "FAIL",
        "CE_CHECK": "SKIP (QUEUE_CHECK is FAIL: job queue academy-video-queue-typo does not "
        f"exist in {REGION})",
    }
    assert "- QUEUE_CHECK: Create the queue or fix the name" in proc.stdout


def test_checks_flag_selects_what_runs_and_is_reported(server, tmp_path):
    world = build_seed(WorldBuilder(server), tmp_path)
    config = write_config(tmp_path, world.target)
    proc = batch_health(
        "check", "--config", str(config), "--checks", "queue_check, AWS_ACCESS", endpoint=server
    )
    assert proc.returncode == 0, proc.stderr
    # Registry order, whatever order the flag used; names are case-insensitive.
    assert final_report(proc.stdout) == {"AWS_ACCESS": "OK", "QUEUE_CHECK": "OK"}


def test_ce_check_alone_fetches_what_it_needs(server, tmp_path):
    world = build_seed(WorldBuilder(server), tmp_path)
    config = write_config(tmp_path, world.target)
    proc = batch_health("check", "--config", str(config), "--checks", "CE_CHECK", endpoint=server)
    assert proc.returncode == 0, proc.stderr
    assert final_report(proc.stdout) == {"CE_CHECK": "OK"}


def test_json_output_is_the_spec_schema(server, tmp_path):
    world = build_seed(WorldBuilder(server), tmp_path)
    config = write_config(tmp_path, world.target)
    proc = batch_health("check", "--config", str(config), "--format", "json", endpoint=server)
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    assert set(doc) == {
        "target",
        "region",
        "overall",
        "checks",
        "root_cause_hints",
        "started_at",
        "finished_at",
        "stats",
    }
    assert set(doc["stats"]) == {"aws_calls", "aws_http_attempts", "aws_retries"}
    assert doc["stats"]["aws_calls"] > 0
    assert (doc["target"], doc["region"], doc["overall"]) == ("academy-video", REGION, "FAIL")
    assert ISO_Z.match(doc["started_at"]) and ISO_Z.match(doc["finished_at"])
    assert [c["name"] for c in doc["checks"]] == list(CHECK_NAMES)
    for check in doc["checks"]:
        assert set(check) == {"name", "status", "detail", "hints", "duration_ms", "data"}
        assert check["status"] in {"OK", "WARN", "FAIL", "SKIP"}
        assert isinstance(check["duration_ms"], int) and isinstance(check["data"], dict)
        if check["status"] in {"FAIL", "WARN"}:
            assert check["detail"] and check["hints"]
    by_name = {c["name"]: c for c in doc["checks"]}
    assert by_name["AWS_ACCESS"]["data"]["account"] == "123456789012"
    assert by_name["LOG_GROUP_CHECK"]["status"] == "FAIL"
    assert doc["root_cause_hints"]


def test_several_targets_in_toml_report_under_reports(server, tmp_path):
    world = build_seed(WorldBuilder(server), tmp_path)
    config = tmp_path / "targets.toml"
    sources = world.target["config_sources"]["setup_script"]
    config.write_text(
        f"""
[[targets]]
name = "academy-video"
region = "{REGION}"
job_queue = "{QUEUE}"
job_definition = "{world.target["job_definition"]}"
[targets.config_sources.setup_script]
job_queue = "{sources["job_queue"]}"

[[targets]]
name = "typo"
region = "{REGION}"
job_queue = "academy-video-queue-typo"
job_definition = "jd"
"""
    )
    checks = "AWS_ACCESS,QUEUE_CHECK,CONFIG_MATCH_QUEUE"
    proc = batch_health(
        "check", "--config", str(config), "--checks", checks, "--format", "json", endpoint=server
    )
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    assert set(doc) == {"overall", "reports", "started_at", "finished_at", "stats"}
    assert doc["overall"] == "FAIL"
    statuses = {r["target"]: {c["name"]: c["status"] for c in r["checks"]} for r in doc["reports"]}
    assert statuses == {
        "academy-video": {"CONFIG_MATCH_QUEUE": "OK", "AWS_ACCESS": "OK", "QUEUE_CHECK": "OK"},
        "typo": {"CONFIG_MATCH_QUEUE": "SKIP", "AWS_ACCESS": "OK", "QUEUE_CHECK": "FAIL"},
    }

    # --target picks one of them: the healthy one alone exits 0.
    proc = batch_health(
        "check", "--config", str(config), "--target", "academy-video", "--checks", checks,
        endpoint=server,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert set(final_report(proc.stdout).values()) == {"OK"}


# --- checks --------------------------------------------------------------------------------


def test_checks_lists_every_registered_check_with_its_dependencies():
    proc = batch_health("checks")
    assert proc.returncode == 0, proc.stderr
    blocks = proc.stdout.split("\n")
    for check in REGISTRY:
        header = f"{check.name}  (STEP {check.step} {check.step_title})"
        assert header in blocks
        i = blocks.index(header)
        assert blocks[i + 1].strip() == f"{check.title}: {check.verifies}"
        deps = ", ".join(check.depends_on) or "none"
        assert blocks[i + 2].strip() == f"depends on: {deps}"


def test_python_dash_m_runs_the_same_cli():
    proc = subprocess.run(
        [sys.executable, "-m", "batch_health", "checks"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert "AWS_ACCESS  (STEP 1 AWS)" in proc.stdout


def test_a_reader_that_goes_away_is_not_a_traceback(monkeypatch):
    # `batch-health checks | head -1`: writing to a closed pipe raises BrokenPipeError.
    read_end, write_end = os.pipe()
    os.close(read_end)
    with os.fdopen(write_end, "w", buffering=1) as closed_pipe:
        monkeypatch.setattr(sys, "stdout", closed_pipe)
        assert main(["checks"]) == 1


# --- usage and config errors: exit 2 with the bad flag, line or key ------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["check", "--queue", "q"], "--job-definition required"),
        (["check", "--format", "xml"], "--format: invalid choice: 'xml'"),
    ],
)
def test_usage_errors_exit_2_from_the_console_script(args, message):
    proc = batch_health(*args)
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert proc.stdout == ""
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.fixture
def usage_error(capsys: pytest.CaptureFixture[str]):
    """Run the CLI in-process (the console script's own code path) and expect exit 2."""

    def run(*args: str) -> str:
        with pytest.raises(SystemExit) as exited:
            main(list(args))
        captured = capsys.readouterr()
        assert exited.value.code == 2, (exited.value.code, captured.out, captured.err)
        assert captured.out == ""
        return captured.err

    return run


def test_unknown_check_name(usage_error):
    err = usage_error("check", "--queue", "q", "--job-definition", "j", "--checks", "QUEUE,CE")
    assert "--checks: unknown check QUEUE, CE; valid checks: CONFIG_MATCH_QUEUE" in err


def test_empty_checks_selection(usage_error):
    err = usage_error("check", "--queue", "q", "--job-definition", "j", "--checks", "")
    assert "--checks: no check named" in err


def test_queue_without_job_definition(usage_error):
    err = usage_error("check", "--queue", "q")
    assert "batch-health: error: --job-definition required (or use --config FILE)" in err


def test_nothing_to_check(usage_error):
    assert "--queue and --job-definition required" in usage_error("check")


def test_config_file_missing(usage_error, tmp_path):
    missing = tmp_path / "nope.toml"
    err = usage_error("check", "--config", str(missing))
    assert f"--config {missing}: cannot read: No such file or directory" in err


def test_bad_toml_names_the_line(usage_error, tmp_path):
    config = tmp_path / "targets.toml"
    config.write_text('[[targets]]\nname = "video"\njob_queue = "q\njob_definition = "j"\n')
    err = usage_error("check", "--config", str(config))
    assert str(config) in err and "line 3" in err


def test_bad_json_names_the_line(usage_error, tmp_path):
    config = tmp_path / "targets.json"
    config.write_text('{"targets": [\n {"name": "video",}\n]}')
    err = usage_error("check", "--config", str(config))
    assert f"{config}: line 2 column" in err


def test_unknown_key_in_a_target(usage_error, tmp_path):
    config = tmp_path / "targets.toml"
    config.write_text(
        '[[targets]]\nname = "video"\njob_queue = "q"\njob_definition = "j"\nlog_grup = "/x"\n'
    )
    err = usage_error("check", "--config", str(config))
    assert f"{config}: targets[0] (video).log_grup: unknown key" in err


def test_missing_and_wrong_type_keys_in_a_target(usage_error, tmp_path):
    config = write_config(tmp_path, {"name": "video", "job_queue": 3})
    err = usage_error("check", "--config", str(config))
    assert "targets[0] (video).job_queue: Input should be a valid string" in err
    assert "targets[0] (video).job_definition: Field required" in err


def test_malformed_source_spec_in_a_target(usage_error, tmp_path):
    target = {"name": "video", "job_queue": "q", "job_definition": "j"}
    target["config_sources"] = {"api": {"job_queue": "ssm:"}}
    err = usage_error("check", "--config", str(write_config(tmp_path, target)))
    assert "targets[0] (video).config_sources.api.job_queue: 'ssm:'" in err


def test_smoke_param_without_equals(usage_error):
    err = usage_error("check", "--queue", "q", "--job-definition", "j", "--smoke-param", "job_id")
    assert "--smoke-param 'job_id': expected NAME=VALUE" in err


def test_unknown_format(usage_error):
    err = usage_error("check", "--queue", "q", "--job-definition", "j", "--format", "xml")
    assert "--format: invalid choice: 'xml'" in err


def test_unknown_target(usage_error, tmp_path):
    config = write_config(tmp_path, {"name": "video", "job_queue": "q", "job_definition": "j"})
    err = usage_error("check", "--config", str(config), "--target", "audio")
    assert "--target 'audio' is not in the config (targets: video)" in err


def test_target_without_config(usage_error):
    assert "--target needs --config" in usage_error("check", "--target", "video")


def test_config_combined_with_queue_flag(usage_error, tmp_path):
    config = write_config(tmp_path, {"name": "video", "job_queue": "q", "job_definition": "j"})
    err = usage_error("check", "--config", str(config), "--queue", "other")
    assert "--queue cannot be combined with --config" in err


def test_unknown_subcommand_and_flag(usage_error):
    assert "invalid choice: 'chek'" in usage_error("chek")
    assert "unrecognized arguments: --colour" in usage_error("check", "--colour", "q")


# --- demo ----------------------------------------------------------------------------------


def test_demo_prints_the_seed_report_quickly():
    started = time.monotonic()
    proc = batch_health("demo", timeout=60)
    elapsed = time.monotonic() - started
    assert proc.returncode == 1, proc.stderr  # the ops report's log group is missing
    assert elapsed < 20, f"demo took {elapsed:.1f}s"
    assert proc.stdout.startswith("# batch-health demo: scenario 'seed'")
    final = final_report(proc.stdout)
    assert list(final) == list(CHECK_NAMES)
    assert {k: final[k] for k in FOUNDATION} == dict.fromkeys(FOUNDATION, "OK")
    assert final["JOBDEF_CHECK"] == "WARN"
    assert final["LOG_GROUP_CHECK"] == "FAIL"
    assert "OK/FAIL" not in proc.stdout
    assert root_cause_hints(proc.stdout)[0].startswith("- ")


def test_demo_healthy_scenario_in_json_exits_0():
    proc = batch_health("demo", "--scenario", "healthy", "--format", "json", timeout=60)
    assert proc.returncode == 0, proc.stdout
    doc = json.loads(proc.stdout)
    assert doc["overall"] in {"OK", "WARN"}
    assert "FAIL" not in {c["status"] for c in doc["checks"]}
