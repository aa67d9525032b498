"""Config files (TOML and JSON, same schema): what loads, and what each mistake says."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from batch_health.config import (
    ConfigError,
    SuiteConfig,
    load_config_file,
    parse_key_values,
    parse_suite_config,
)

ISSUE_EXAMPLE_TOML = """\
[[targets]]
name = "academy-video"
region = "ap-northeast-2"
job_queue = "academy-video-batch-queue"
job_definition = "academy-video-batch-jobdef"
log_group = "/aws/batch/academy-video-worker"      # optional: default from the job definition
[targets.config_sources.api]
job_queue = "ssm:/academy/api/VIDEO_BATCH_JOB_QUEUE"
job_definition = "ssm:/academy/api/VIDEO_BATCH_JOB_DEFINITION"
[targets.config_sources.setup_script]
job_queue = "file:scripts/infra/batch_video_setup_full.ps1#JobQueueName"
job_definition = "academy-video-batch-jobdef"        # a literal
[targets.smoke]
command = ["echo", "health-smoke"]
[targets.smoke.parameters]
job_id = "health-smoke"
"""

ISSUE_EXAMPLE = {
    "targets": [
        {
            "name": "academy-video",
            "region": "ap-northeast-2",
            "job_queue": "academy-video-batch-queue",
            "job_definition": "academy-video-batch-jobdef",
            "log_group": "/aws/batch/academy-video-worker",
            "config_sources": {
                "api": {
                    "job_queue": "ssm:/academy/api/VIDEO_BATCH_JOB_QUEUE",
                    "job_definition": "ssm:/academy/api/VIDEO_BATCH_JOB_DEFINITION",
                },
                "setup_script": {
                    "job_queue": "file:scripts/infra/batch_video_setup_full.ps1#JobQueueName",
                    "job_definition": "academy-video-batch-jobdef",
                },
            },
            "smoke": {
                "command": ["echo", "health-smoke"],
                "parameters": {"job_id": "health-smoke"},
            },
        }
    ]
}


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def target(**overrides):
    base = {"name": "video", "job_queue": "q", "job_definition": "jd"}
    base.update(overrides)
    return base


def config_error(data) -> str:
    with pytest.raises(ConfigError) as err:
        parse_suite_config(data, source="cfg.toml")
    return str(err.value)


def assert_issue_example(config: SuiteConfig) -> None:
    (t,) = config.targets
    assert t.name == "academy-video"
    assert t.region == "ap-northeast-2"
    assert t.job_queue == "academy-video-batch-queue"
    assert t.job_definition == "academy-video-batch-jobdef"
    assert t.log_group == "/aws/batch/academy-video-worker"
    assert t.config_sources["api"]["job_queue"] == "ssm:/academy/api/VIDEO_BATCH_JOB_QUEUE"
    assert t.config_sources["setup_script"] == {
        "job_queue": "file:scripts/infra/batch_video_setup_full.ps1#JobQueueName",
        "job_definition": "academy-video-batch-jobdef",
    }
    assert t.smoke.command == ["echo", "health-smoke"]
    assert t.smoke.parameters == {"job_id": "health-smoke"}


def test_toml_file_with_the_documented_schema_loads(tmp_path):
    assert_issue_example(load_config_file(write(tmp_path, "targets.toml", ISSUE_EXAMPLE_TOML)))


def test_json_file_with_the_same_structure_loads_the_same(tmp_path):
    from_json = load_config_file(write(tmp_path, "targets.json", json.dumps(ISSUE_EXAMPLE)))
    from_toml = load_config_file(write(tmp_path, "targets.toml", ISSUE_EXAMPLE_TOML))
    assert_issue_example(from_json)
    assert from_json == from_toml


def test_json_without_json_suffix_is_recognised(tmp_path):
    config = load_config_file(write(tmp_path, "targets.conf", json.dumps(ISSUE_EXAMPLE)))
    assert config.targets[0].name == "academy-video"


def test_optional_keys_have_defaults():
    (t,) = parse_suite_config({"targets": [{"job_queue": "q", "job_definition": "jd"}]}).targets
    assert t.name == "default"
    assert t.region is None and t.log_group is None and t.role_arn is None
    assert t.config_sources == {}
    assert t.smoke.parameters == {} and t.smoke.command is None


def test_several_targets_load_in_order():
    config = parse_suite_config({"targets": [target(name="a"), target(name="b")]})
    assert [t.name for t in config.targets] == ["a", "b"]


def test_unknown_key_in_a_target_names_target_index_name_and_key():
    msg = config_error({"targets": [target(), target(name="second", colour="red")]})
    assert msg == "cfg.toml: targets[1] (second).colour: unknown key"


def test_unknown_top_level_key_is_named():
    msg = config_error({"targets": [target()], "target": []})
    assert "cfg.toml: target: unknown key" in msg


def test_unknown_key_in_smoke_is_named_with_its_path():
    msg = config_error({"targets": [target(smoke={"paramaters": {"a": "b"}})]})
    assert "targets[0] (video).smoke.paramaters: unknown key" in msg


def test_unknown_config_source_key_is_named_without_pydantic_markers():
    msg = config_error({"targets": [target(config_sources={"api": {"jobqueue": "q"}})]})
    assert "targets[0] (video).config_sources.api.jobqueue: invalid key" in msg
    assert "'job_queue' or 'job_definition'" in msg
    assert "[key]" not in msg


def test_missing_required_key_names_target_and_key():
    msg = config_error({"targets": [{"name": "video", "job_queue": "q"}]})
    assert msg == "cfg.toml: targets[0] (video).job_definition: Field required"


def test_missing_required_key_of_unnamed_target_names_the_index():
    msg = config_error({"targets": [{"job_definition": "jd"}]})
    assert msg == "cfg.toml: targets[0].job_queue: Field required"


@pytest.mark.parametrize(
    ("override", "where"),
    [
        ({"job_queue": 5}, "job_queue"),
        ({"region": 42}, "region"),
        ({"config_sources": {"api": "ssm:/x"}}, "config_sources.api"),
        ({"smoke": {"command": "echo hi"}}, "smoke.command"),
        ({"smoke": {"command": ["echo", 3]}}, "smoke.command[1]"),
        ({"smoke": {"parameters": {"job_id": 5}}}, "smoke.parameters.job_id"),
        ({"smoke": {"parameters": ["job_id=x"]}}, "smoke.parameters"),
        ({"smoke": {"timeout_seconds": "300"}}, "smoke.timeout_seconds"),
    ],
)
def test_wrong_type_names_target_and_key(override, where):
    msg = config_error({"targets": [target(**override)]})
    assert msg.startswith(f"cfg.toml: targets[0] (video).{where}: "), msg
    assert "valid" in msg  # pydantic's "Input should be a valid ..."


def test_every_problem_is_reported_one_per_line():
    msg = config_error({"targets": [target(colour="red", job_queue=1)]})
    lines = msg.splitlines()
    assert len(lines) == 2
    assert any(line.endswith("targets[0] (video).colour: unknown key") for line in lines)
    assert any("targets[0] (video).job_queue:" in line for line in lines)


def test_empty_string_is_not_a_queue_name():
    msg = config_error({"targets": [target(job_queue="  ")]})
    assert "targets[0] (video).job_queue:" in msg


def test_bad_region_and_role_arn_are_named():
    msg = config_error({"targets": [target(region="Seoul", role_arn="monitor-role")]})
    assert "targets[0] (video).region:" in msg
    assert "targets[0] (video).role_arn:" in msg


def test_duplicate_target_names_name_both_indices_and_the_name():
    msg = config_error({"targets": [target(name="a"), target(name="b"), target(name="a")]})
    assert "targets[2] (a)" in msg and "targets[0]" in msg
    assert "unique" in msg
    assert "Value error" not in msg


def test_empty_or_missing_targets_list_is_an_error():
    assert "cfg.toml: targets:" in config_error({"targets": []})
    assert "cfg.toml: targets: Field required" in config_error({})
    assert "cfg.toml: targets:" in config_error({"targets": "video"})


def test_a_document_that_is_not_an_object_is_an_error():
    assert "expected an object with a 'targets' list" in config_error([target()])


@pytest.mark.parametrize(
    ("spec", "why"),
    [
        ("ssm:", "ssm: needs a parameter name"),
        ("file:settings.env", "file: needs path#KEY"),
        ("file:settings.env#", "file: needs path#KEY"),
        ("env:1BAD", "env: needs a variable name"),
    ],
)
def test_malformed_source_spec_is_a_config_error_naming_target_source_and_key(spec, why):
    msg = config_error({"targets": [target(config_sources={"api": {"job_queue": spec}})]})
    assert msg.startswith("cfg.toml: targets[0] (video).config_sources.api.job_queue: "), msg
    assert why in msg


def test_bad_toml_syntax_names_the_file_and_line(tmp_path):
    path = write(tmp_path, "targets.toml", '[[targets]]\nname = "x"\njob_queue = "q\n')
    with pytest.raises(ConfigError) as err:
        load_config_file(path)
    assert str(path) in str(err.value)
    assert "line 3" in str(err.value)


def test_bad_json_syntax_names_the_file_and_line(tmp_path):
    path = write(tmp_path, "targets.json", '{"targets": [\n  {"name": "x",}\n]}\n')
    with pytest.raises(ConfigError) as err:
        load_config_file(path)
    assert str(err.value).startswith(f"{path}: line 2 column")


def test_validation_errors_in_a_file_name_the_file(tmp_path):
    path = write(tmp_path, "targets.toml", '[[targets]]\nname = "x"\njob_queue = "q"\n')
    with pytest.raises(ConfigError) as err:
        load_config_file(path)
    assert str(err.value) == f"{path}: targets[0] (x).job_definition: Field required"


def test_missing_file_is_named_with_the_flag(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_config_file(tmp_path / "nope.toml")
    assert (
        str(err.value)
        == f"--config {tmp_path / 'nope.toml'}: cannot read: No such file or directory"
    )


def test_select_a_target_by_name_and_an_unknown_one_lists_the_known():
    config = parse_suite_config({"targets": [target(name="a"), target(name="b")]})
    assert [t.name for t in config.select("b").targets] == ["b"]
    assert config.select(None) is config
    with pytest.raises(ConfigError) as err:
        config.select("c")
    assert str(err.value) == "--target 'c' is not in the config (targets: a, b)"


def test_key_values_parse_and_malformed_items_name_the_flag():
    assert parse_key_values(["job_id=x", "uri=s3://b/k=v"], "--smoke-param") == {
        "job_id": "x",
        "uri": "s3://b/k=v",
    }
    with pytest.raises(ConfigError) as err:
        parse_key_values(["job_id"], "--smoke-param")
    assert str(err.value) == "--smoke-param 'job_id': expected NAME=VALUE"
    with pytest.raises(ConfigError):
        parse_key_values(["=x"], "--smoke-param")
