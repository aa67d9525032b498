"""Targets from an SSM parameter (TARGETS_PARAMETER, aws/targets_store.py): one document or
one parameter per target under a path; many targets, no redeploy, cached; a bad one named."""

from __future__ import annotations

import json
from typing import Any

import pytest

from batch_health.aws.targets_store import TargetsParameterError
from batch_health.cli.invoke import LocalContext
from batch_health.config import ConfigError
from batch_health.runtime import monitor
from batch_health.runtime.event import InvalidEventError
from batch_health.runtime.settings import MonitorSettings

PARAMETER = "/batch-health/targets"


def settings(max_age: int = 300) -> MonitorSettings:
    return MonitorSettings.from_env(
        {
            "AWS_REGION": "ap-northeast-2",
            "CONFIG_PARAMETER_PATH": "/academy/api/",
            "TARGETS_PARAMETER": PARAMETER,
            "TARGETS_MAX_AGE_SECONDS": str(max_age),
            "POWERTOOLS_METRICS_NAMESPACE": "BatchHealth",
        }
    )


def put_targets(world, document: Any, kind: str = "String") -> None:
    text = document if isinstance(document, str) else json.dumps(document)
    world.client("ssm").put_parameter(Name=PARAMETER, Value=text, Type=kind, Overwrite=True)


def run(rt: monitor.Runtime, event: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
    # notify is off, so the run-level `metrics` stay empty: nothing to flush.
    return monitor.handle(
        {"notify": False, "checks": ["QUEUE_CHECK"], **(event or {})},
        LocalContext(),
        settings(**kw),
        rt=rt,
    )


def two_targets(seed_world: dict[str, Any]) -> dict[str, Any]:
    video = {k: seed_world[k] for k in ("name", "region", "job_queue", "job_definition")}
    missing = {**video, "name": "thumbnails", "job_queue": "thumbnail-queue"}
    return {"targets": [video, missing]}


def test_one_report_section_per_target(seed_world, world):
    put_targets(world, two_targets(seed_world), kind="SecureString")
    result = run(monitor.Runtime())
    assert result["overall"] == "FAIL"
    sections = {r["target"]: r for r in result["reports"]}
    assert set(sections) == {"academy-video", "thumbnails"}
    assert sections["academy-video"]["checks"][0]["status"] == "OK"
    # One target's missing queue does not touch the other's result.
    assert sections["thumbnails"]["checks"][0]["status"] == "FAIL"


def test_metrics_carry_each_target(seed_world, world, capsys):
    put_targets(world, two_targets(seed_world))
    run(monitor.Runtime())
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x[:1] == "{"]
    failed = {x["Target"]: x["CheckFailed"] for x in lines if "CheckFailed" in x}
    assert failed == {"academy-video": [0.0], "thumbnails": [1.0]}
    # The heartbeat is one value per run, whatever the number of targets.
    assert [x["SuiteRun"] for x in lines if "SuiteRun" in x] == [[1.0]]


def test_the_parameter_is_read_once_within_its_cache_age(seed_world, world):
    put_targets(world, two_targets(seed_world))
    rt = monitor.Runtime()
    run(rt)
    run(rt)
    assert rt.sessions.stats.calls["ssm:GetParameter"] == 1


def test_targets_added_to_the_parameter_are_picked_up_after_the_cache_age(seed_world, world):
    doc = two_targets(seed_world)
    put_targets(world, {"targets": doc["targets"][:1]})
    rt = monitor.Runtime()
    assert run(rt, max_age=0)["target"] == "academy-video"
    put_targets(world, doc)
    assert len(run(rt, max_age=0)["reports"]) == 2
    assert rt.sessions.stats.calls["ssm:GetParameter"] == 2


def test_the_event_selects_targets_by_name(seed_world, world):
    put_targets(world, two_targets(seed_world))
    result = run(monitor.Runtime(), {"targets": ["thumbnails"]})
    assert result["target"] == "thumbnails"
    with pytest.raises(InvalidEventError, match="configured targets: academy-video, thumbnails"):
        run(monitor.Runtime(), {"targets": ["video"]})


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (
            {"targets": [{"name": "video", "job_queue": "q"}]},
            f"TARGETS_PARAMETER {PARAMETER}: targets[0] (video).job_definition: Field required",
        ),
        (
            {"targets": [{"name": "a", "job_queue": "q", "job_definition": "d", "smoke": 1}]},
            "targets[0] (a).smoke: Input should be a valid dictionary",
        ),
        (
            {"targets": [{"name": "a", "job_queue": "q", "job_definition": "d", "queue": "x"}]},
            "targets[0] (a).queue: unknown key",
        ),
        ({"targets": []}, "targets: List should have at least 1 item"),
        ([1, 2], "expected an object with a 'targets' list"),
        ("{targets", f"TARGETS_PARAMETER {PARAMETER}: not a JSON document"),
    ],
)
def test_invalid_documents_name_the_target_and_key(world, document, expected):
    put_targets(world, document)
    with pytest.raises(ConfigError) as err:
        run(monitor.Runtime())
    assert expected in str(err.value)


def test_a_missing_parameter_says_so_and_what_to_do(aws):
    with pytest.raises(TargetsParameterError) as err:
        run(monitor.Runtime())
    message = str(err.value)
    assert f"TARGETS_PARAMETER {PARAMETER}: cannot read it: not found" in message
    assert "ParameterNotFound" in message


# --- one parameter per target under a path --------------------------------------------------

PATH = "/batch-health/targets/"


def path_settings() -> MonitorSettings:
    return MonitorSettings.from_env(
        {"AWS_REGION": "ap-northeast-2", "TARGETS_PARAMETER": PATH, "TARGETS_MAX_AGE_SECONDS": "0"}
    )


def run_path(rt: monitor.Runtime) -> dict[str, Any]:
    return monitor.handle(
        {"notify": False, "checks": ["QUEUE_CHECK"]}, LocalContext(), path_settings(), rt=rt
    )


def put(world, name: str, value: Any) -> None:
    text = value if isinstance(value, str) else json.dumps(value)
    world.client("ssm").put_parameter(Name=f"{PATH}{name}", Value=text, Type="String")


def test_each_parameter_under_the_path_is_a_target(seed_world, world):
    for target in two_targets(seed_world)["targets"]:
        put(world, target["name"], target)
    rt = monitor.Runtime()
    result = run_path(rt)
    assert [r["target"] for r in result["reports"]] == ["academy-video", "thumbnails"]
    assert rt.sessions.stats.calls["ssm:GetParametersByPath"] == 1


def test_a_bad_parameter_under_the_path_is_named(world):
    put(world, "good", {"name": "good", "job_queue": "q", "job_definition": "d"})
    put(world, "bad", {"name": "bad", "job_queue": "q"})
    with pytest.raises(ConfigError) as err:
        run_path(monitor.Runtime())
    assert f"(parameter {PATH}bad): targets[0] (bad).job_definition: Field required" in str(
        err.value
    )


def test_an_empty_path_says_how_to_fill_it(aws):
    with pytest.raises(TargetsParameterError, match="batch-health targets push --config FILE"):
        run_path(monitor.Runtime())


def test_the_same_name_in_two_parameters_is_refused(world):
    put(world, "a", {"name": "same", "job_queue": "q", "job_definition": "d"})
    put(world, "b", {"name": "same", "job_queue": "q2", "job_definition": "d"})
    with pytest.raises(TargetsParameterError, match="same name"):
        run_path(monitor.Runtime())


def test_more_than_200_targets_are_refused(world):
    for i in range(201):
        put(world, f"t{i:03d}", {"name": f"t{i:03d}", "job_queue": "q", "job_definition": "d"})
    with pytest.raises(TargetsParameterError, match="at most 200"):
        run_path(monitor.Runtime())
