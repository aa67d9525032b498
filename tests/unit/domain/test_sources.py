"""Config sources: literal, ssm:/name, env:VAR, file:path#KEY, and what an unreadable one says."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest

from batch_health.aws.inventory import Inventory
from batch_health.aws.sessions import AwsSessions
from batch_health.config import parse_suite_config
from batch_health.domain.sources import SourceError, parse_source, read_file_key, resolve_source


def no_ssm(name: str) -> str | None:
    raise AssertionError(f"SSM must not be read for this source (asked for {name})")


def resolve(spec: str, environ=None, ssm_lookup=no_ssm) -> str:
    return resolve_source(spec, ssm_lookup=ssm_lookup, environ=environ or {})[1]


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --- literal and env ---------------------------------------------------------------------


def test_literal_is_its_own_value():
    ref, value = resolve_source("academy-video-batch-queue", ssm_lookup=no_ssm, environ={})
    assert value == "academy-video-batch-queue"
    assert ref.kind == "literal" and ref.label == "literal"


def test_arn_literal_is_not_mistaken_for_a_source_kind():
    arn = "arn:aws:batch:ap-northeast-2:123456789012:job-queue/q"
    assert resolve(arn) == arn


def test_env_reads_the_given_environment():
    ref, value = resolve_source(
        "env:VIDEO_QUEUE", ssm_lookup=no_ssm, environ={"VIDEO_QUEUE": "q-from-env"}
    )
    assert value == "q-from-env"
    assert ref.label == "env:VIDEO_QUEUE"


def test_missing_env_var_names_the_variable():
    with pytest.raises(SourceError) as err:
        resolve("env:VIDEO_QUEUE", environ={"OTHER": "x"})
    assert str(err.value) == "environment variable VIDEO_QUEUE is not set"


# --- ssm (moto) ----------------------------------------------------------------------------


@pytest.fixture
def ssm_view(aws):
    ssm = boto3.client("ssm")
    ssm.put_parameter(Name="/academy/api/VIDEO_BATCH_JOB_QUEUE", Value="q-ssm", Type="String")
    ssm.put_parameter(Name="/academy/api/SECRET_QUEUE", Value="q-secure", Type="SecureString")
    config = parse_suite_config({"targets": [{"job_queue": "q", "job_definition": "jd"}]})
    return Inventory(AwsSessions()).view(config.targets[0])


def test_ssm_parameter_value_is_read(ssm_view):
    ref, value = resolve_source(
        "ssm:/academy/api/VIDEO_BATCH_JOB_QUEUE", ssm_lookup=ssm_view.ssm_parameter, environ={}
    )
    assert value == "q-ssm"
    assert ref.label == "ssm:/academy/api/VIDEO_BATCH_JOB_QUEUE"


def test_ssm_secure_string_is_decrypted(ssm_view):
    assert resolve("ssm:/academy/api/SECRET_QUEUE", ssm_lookup=ssm_view.ssm_parameter) == "q-secure"


def test_missing_ssm_parameter_names_the_parameter(ssm_view):
    with pytest.raises(SourceError) as err:
        resolve("ssm:/academy/api/NOPE", ssm_lookup=ssm_view.ssm_parameter)
    assert str(err.value) == "SSM parameter /academy/api/NOPE does not exist"


# --- files ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "VIDEO_QUEUE=q-file",
        "VIDEO_QUEUE = q-file",
        'VIDEO_QUEUE="q-file"',
        "VIDEO_QUEUE='q-file'",
        "export VIDEO_QUEUE=q-file",
        'export VIDEO_QUEUE="q-file"',
        "  VIDEO_QUEUE=q-file   # the API's queue",
        'VIDEO_QUEUE = "q-file"  # Python settings module',
    ],
)
def test_env_and_python_style_assignments(tmp_path, line):
    path = write(tmp_path, "settings.env", f"# comment\nOTHER=x\n{line}\nMORE=y\n")
    assert resolve(f"file:{path}#VIDEO_QUEUE") == "q-file"


@pytest.mark.parametrize(
    "line",
    [
        '$JobQueueName = "q-ps"',
        "$JobQueueName='q-ps'",
        "$JobQueueName = q-ps",
        '$jobqueuename = "q-ps"',  # PowerShell names are case-insensitive
    ],
)
def test_powershell_assignments(tmp_path, line):
    path = write(tmp_path, "batch_video_setup_full.ps1", f'$Region = "ap-northeast-2"\n{line}\n')
    assert resolve(f"file:{path}#JobQueueName") == "q-ps"


def test_quoted_value_keeps_spaces_and_hashes(tmp_path):
    path = write(tmp_path, "a.env", 'NAME="my queue #1"\n')
    assert resolve(f"file:{path}#NAME") == "my queue #1"


def test_a_longer_or_prefixed_name_is_not_the_key(tmp_path):
    path = write(tmp_path, "a.env", "VIDEO_QUEUE_OLD=old\nMY_VIDEO_QUEUE=mine\nVIDEO_QUEUE=right\n")
    assert resolve(f"file:{path}#VIDEO_QUEUE") == "right"


def test_commented_out_assignment_is_ignored(tmp_path):
    path = write(tmp_path, "a.env", "# VIDEO_QUEUE=old\nVIDEO_QUEUE=new\n")
    assert resolve(f"file:{path}#VIDEO_QUEUE") == "new"


def test_last_assignment_wins_as_when_sourced(tmp_path):
    path = write(tmp_path, "a.env", "VIDEO_QUEUE=first\nVIDEO_QUEUE=second\n")
    assert resolve(f"file:{path}#VIDEO_QUEUE") == "second"


def test_utf8_bom_does_not_hide_the_first_line(tmp_path):
    path = tmp_path / "setup.ps1"
    path.write_bytes('\ufeff$JobQueueName = "q-bom"\n'.encode())
    assert resolve(f"file:{path}#JobQueueName") == "q-bom"


def test_json_top_level_key(tmp_path):
    path = write(
        tmp_path,
        "video_job_definition.json",
        '{"jobDefinitionName": "jd-json", "containerProperties": {"jobDefinitionName": "inner"}}',
    )
    assert resolve(f"file:{path}#jobDefinitionName") == "jd-json"


def test_json_nested_key_is_not_top_level(tmp_path):
    path = write(tmp_path, "a.json", '{"containerProperties": {"image": "x"}}')
    with pytest.raises(SourceError) as err:
        resolve(f"file:{path}#image")
    assert str(err.value) == f"{path}: no top-level key 'image'"


@pytest.mark.parametrize("value", ["true", "null", "[1]", '{"a": 1}'])
def test_json_value_that_is_not_a_name_is_an_error(tmp_path, value):
    path = write(tmp_path, "a.json", f'{{"queue": {value}}}')
    with pytest.raises(SourceError) as err:
        resolve(f"file:{path}#queue")
    assert str(err.value) == f"{path}: key 'queue' is not a string"


def test_invalid_json_names_the_line(tmp_path):
    path = write(tmp_path, "a.json", '{\n"queue": ,\n}')
    with pytest.raises(SourceError) as err:
        resolve(f"file:{path}#queue")
    assert str(err.value).startswith(f"{path}: invalid JSON at line 2")


def test_missing_key_in_file_names_file_and_key(tmp_path):
    path = write(tmp_path, "a.env", "OTHER=x\n")
    with pytest.raises(SourceError) as err:
        resolve(f"file:{path}#VIDEO_QUEUE")
    assert str(err.value) == f"{path}: no assignment to 'VIDEO_QUEUE'"


def test_unreadable_file_names_the_path_and_reason(tmp_path):
    missing = tmp_path / "nope.env"
    with pytest.raises(SourceError) as err:
        resolve(f"file:{missing}#VIDEO_QUEUE")
    assert str(err.value) == f"cannot read {missing}: No such file or directory"


def test_a_directory_is_unreadable_not_a_crash(tmp_path):
    with pytest.raises(SourceError) as err:
        read_file_key(tmp_path, "KEY")
    assert str(err.value).startswith(f"cannot read {tmp_path}:")


def test_file_label_names_path_and_key(tmp_path):
    path = write(tmp_path, "a.env", "K=v\n")
    ref, _ = resolve_source(f"file:{path}#K", ssm_lookup=no_ssm, environ={})
    assert ref.label == f"file:{path}#K"


def test_path_may_contain_hash_the_last_one_separates_the_key(tmp_path):
    ref = parse_source("file:dir#1/a.env#KEY")
    assert (ref.kind, ref.location, ref.key) == ("file", "dir#1/a.env", "KEY")


@pytest.mark.parametrize("spec", ["ssm:", "env:", "env:1X", "file:a.env", "file:#K", "file:a#"])
def test_malformed_specs_say_what_form_is_expected(spec):
    with pytest.raises(SourceError) as err:
        parse_source(spec)
    assert repr(spec) in str(err.value)
    assert "e.g." in str(err.value)
