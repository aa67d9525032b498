"""`batch-health targets push`: one SSM parameter per target, which the monitor reads back;
a target over the parameter's size limit is refused with nothing written; --prune."""

from __future__ import annotations

import json
import re
from typing import Any

import boto3
import pytest

from batch_health.config import parse_suite_config

PATH = "/batch-health/targets/"


def write_config(tmp_path, targets: list[dict[str, Any]]) -> str:
    path = tmp_path / "targets.json"
    path.write_text(json.dumps({"targets": targets}))
    return str(path)


def test_push_writes_one_parameter_per_target_that_the_monitor_reads_back(aws, tmp_path, capsys):
    from aws_lambda_powertools.utilities.parameters import SSMProvider

    from batch_health.aws.targets_store import read_targets
    from batch_health.cli import main

    targets = [
        {"name": f"video-{i}", "job_queue": f"q{i}", "job_definition": "jd", "region": "us-west-2"}
        for i in range(30)
    ]
    config = write_config(tmp_path, targets)
    assert main(["targets", "push", "--config", config, "--path", PATH]) == 0
    assert "30 target(s) under /batch-health/targets/" in capsys.readouterr().out
    provider = SSMProvider(boto3_client=boto3.client("ssm"))
    back = read_targets(PATH, provider, max_age=0)
    # Parameters have no order: the monitor reads them sorted by name.
    expected = parse_suite_config({"targets": targets}).targets
    assert sorted(t.model_dump_json() for t in back.targets) == sorted(
        t.model_dump_json() for t in expected
    )


def test_push_refuses_a_target_over_4_kb_naming_its_size_and_writes_nothing(aws, tmp_path, capsys):
    from batch_health.cli import main

    big = {"smoke": {"parameters": {f"p{i}": "v" * 100 for i in range(45)}}}
    targets = [
        {"name": "small", "job_queue": "q", "job_definition": "d"},
        {"name": "big", "job_queue": "q", "job_definition": "d", **big},
    ]
    with pytest.raises(SystemExit) as exit_:
        main(["targets", "push", "--config", write_config(tmp_path, targets), "--path", PATH])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "nothing was written" in err
    assert re.search(rf"{PATH}big: 4,\d{{3}} bytes, over the 4,096 bytes a standard parameter", err)
    assert boto3.client("ssm").get_parameters_by_path(Path=PATH.rstrip("/"))["Parameters"] == []
    # The advanced tier holds 8 KB: the same config goes through.
    assert (
        main(
            [
                "targets",
                "push",
                "--config",
                write_config(tmp_path, targets),
                "--path",
                PATH,
                "--tier",
                "Advanced",
            ]
        )
        == 0
    )


def test_push_prune_removes_targets_no_longer_in_the_config(aws, tmp_path, capsys):
    from batch_health.cli import main

    two = [{"name": n, "job_queue": "q", "job_definition": "d"} for n in ("a", "b")]
    main(["targets", "push", "--config", write_config(tmp_path, two), "--path", PATH])
    main(
        ["targets", "push", "--config", write_config(tmp_path, two[:1]), "--path", PATH, "--prune"]
    )
    assert f"deleted {PATH}b" in capsys.readouterr().out
    names = [
        p["Name"]
        for p in boto3.client("ssm").get_parameters_by_path(Path=PATH.rstrip("/"))["Parameters"]
    ]
    assert names == [f"{PATH}a"]


def test_push_names_a_bad_path(tmp_path, capsys):
    from batch_health.cli import main

    with pytest.raises(SystemExit):
        main(["targets", "push", "--config", "x.json", "--path", "batch-health"])
    assert "--path 'batch-health': expected an SSM path" in capsys.readouterr().err
