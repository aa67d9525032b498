"""CONFIG_MATCH_QUEUE and CONFIG_MATCH_JOBDEF, both a ConfigMatchCheck (checks/config_sources.py):
every configured source names what the monitor checks; a mismatch says which source holds
which value, an unreadable source why it is unreadable.
"""

from __future__ import annotations

import pytest
from support.checks import (
    ACCOUNT,
    JOBDEF_ARN,
    PLAIN_TARGET,
    QUEUE_ARN,
    assert_explained,
    check,
    client_error,
    patch_view,
    result,
    run,
)

from batch_health.demo import JOBDEF, QUEUE, REGION
from batch_health.models import Status


def test_config_match_skips_with_reason_when_no_sources(aws):
    report = run(PLAIN_TARGET, ["CONFIG_MATCH_QUEUE", "CONFIG_MATCH_JOBDEF"])
    queue, jobdef = result(report, "CONFIG_MATCH_QUEUE"), result(report, "CONFIG_MATCH_JOBDEF")
    assert queue.status is Status.SKIP and jobdef.status is Status.SKIP
    assert queue.detail.startswith("no config sources for job_queue")
    assert "config_sources" in jobdef.detail


def test_config_match_skips_the_key_no_source_names(aws):
    target = {**PLAIN_TARGET, "config_sources": {"api": {"job_queue": QUEUE}}}
    report = run(target, ["CONFIG_MATCH_QUEUE", "CONFIG_MATCH_JOBDEF"])
    assert result(report, "CONFIG_MATCH_QUEUE").status is Status.OK
    assert result(report, "CONFIG_MATCH_JOBDEF").status is Status.SKIP


def test_config_match_ok_on_the_seed_world_lists_every_source(seed_world):
    report = run(seed_world, ["CONFIG_MATCH_QUEUE", "CONFIG_MATCH_JOBDEF"])
    queue, jobdef = result(report, "CONFIG_MATCH_QUEUE"), result(report, "CONFIG_MATCH_JOBDEF")
    assert queue.status is Status.OK and jobdef.status is Status.OK
    assert queue.detail == (f"monitor={QUEUE} api={QUEUE} setup_script={QUEUE} -> MATCH")
    assert jobdef.data["values"] == {
        "monitor": JOBDEF,
        "api": JOBDEF,
        "setup_script": JOBDEF,
        "jobdef_json": JOBDEF,
    }
    assert jobdef.data["sources"]["api"] == "ssm:/academy/api/VIDEO_BATCH_JOB_DEFINITION"


def test_config_match_mismatch_names_which_source_holds_which_value(seed_world, tmp_path):
    setup = tmp_path / "old_setup.ps1"
    setup.write_text('$JobQueueName = "academy-video-batch-queue-old"\n')
    target = {
        **seed_world,
        "config_sources": {
            **seed_world["config_sources"],
            "setup_script": {"job_queue": f"file:{setup}#JobQueueName"},
            "dotenv": {"job_queue": "env:VIDEO_BATCH_JOB_QUEUE"},
        },
    }
    res = check(
        target, "CONFIG_MATCH_QUEUE", environ={"VIDEO_BATCH_JOB_QUEUE": "academy-video-queue"}
    )
    assert res.status is Status.FAIL
    assert_explained(res)
    assert res.detail == (
        f"monitor={QUEUE} api={QUEUE} setup_script=academy-video-batch-queue-old "
        "dotenv=academy-video-queue -> MISMATCH"
    )
    assert len(res.hints) == 2
    assert (
        f"setup_script (file:{setup}#JobQueueName) says 'academy-video-batch-queue-old'"
        in (res.hints[0])
    )
    assert "dotenv (env:VIDEO_BATCH_JOB_QUEUE) says 'academy-video-queue'" in res.hints[1]
    assert all(f"the monitor checks {QUEUE!r}" in h for h in res.hints)


def test_config_match_when_the_monitor_is_the_odd_one(aws):
    target = {
        **PLAIN_TARGET,
        "job_queue": "typo-queue",
        "config_sources": {"api": {"job_queue": QUEUE}, "script": {"job_queue": QUEUE}},
    }
    res = check(target, "CONFIG_MATCH_QUEUE")
    assert res.status is Status.FAIL
    assert res.detail == f"monitor=typo-queue api={QUEUE} script={QUEUE} -> MISMATCH"


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ("env:NOT_SET_ANYWHERE", "environment variable NOT_SET_ANYWHERE is not set"),
        ("ssm:/academy/api/MISSING", "SSM parameter /academy/api/MISSING does not exist"),
        ("file:/nonexistent/settings.env#QUEUE", "cannot read /nonexistent/settings.env"),
    ],
)
def test_config_match_unreadable_source_fails_naming_it(seed_world, spec, reason):
    target = {**seed_world, "config_sources": {**seed_world["config_sources"], "broken": {}}}
    target["config_sources"]["broken"] = {"job_queue": spec}
    res = check(target, "CONFIG_MATCH_QUEUE")
    assert res.status is Status.FAIL
    assert_explained(res)
    assert res.detail.startswith(f"source broken unreadable: {reason}")
    assert res.hints[0].startswith(f"Fix config source broken ({spec}): {reason}")
    assert res.data["unreadable"] == {
        "broken": res.detail.removeprefix("source broken unreadable: ")
    }


def test_config_match_ssm_access_denied_is_an_unreadable_source(aws, monkeypatch):
    patch_view(monkeypatch, ssm_parameter=client_error("AccessDeniedException", "GetParameters"))
    target = {**PLAIN_TARGET, "config_sources": {"api": {"job_queue": "ssm:/academy/QUEUE"}}}
    res = check(target, "CONFIG_MATCH_QUEUE")
    assert res.status is Status.FAIL
    assert "source api unreadable: ssm:/academy/QUEUE: access denied" in res.detail


def test_config_match_arn_and_revision_spellings_name_the_same_resource(aws):
    target = {
        **PLAIN_TARGET,
        "config_sources": {
            "api": {"job_queue": QUEUE_ARN, "job_definition": f"{JOBDEF_ARN}:7"},
            "script": {"job_queue": QUEUE, "job_definition": f"{JOBDEF}:3"},
            "json": {"job_definition": JOBDEF},
        },
    }
    report = run(target, ["CONFIG_MATCH_QUEUE", "CONFIG_MATCH_JOBDEF"])
    assert result(report, "CONFIG_MATCH_QUEUE").status is Status.OK
    assert result(report, "CONFIG_MATCH_JOBDEF").status is Status.OK


def test_config_match_a_different_name_behind_an_arn_is_a_mismatch(aws):
    other = f"arn:aws:batch:{REGION}:{ACCOUNT}:job-definition/other-jobdef:1"
    target = {**PLAIN_TARGET, "config_sources": {"api": {"job_definition": other}}}
    res = check(target, "CONFIG_MATCH_JOBDEF")
    assert res.status is Status.FAIL
    assert f"api (literal) says {other!r}" in res.hints[0]
