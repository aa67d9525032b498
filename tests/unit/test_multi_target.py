"""Several targets in one run: validated together, reported apart, failing apart."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from support.suite import run_targets

from batch_health.aws.sessions import AwsSessions
from batch_health.config import ConfigError, load_config_file, parse_suite_config
from batch_health.demo import JOBDEF, QUEUE, WorldBuilder
from batch_health.models import Report, Status, SuiteReport
from batch_health.render import render_json, render_text

DENIED_ROLE = "arn:aws:iam::123456789012:role/batch-health-denied"
EXPIRED_ROLE = "arn:aws:iam::123456789012:role/batch-health-expired"
OTHER_REGION = "us-west-2"


def statuses(report: Report) -> dict[str, Status]:
    return {c.name: c.status for c in report.checks}


def run(targets: list[dict[str, Any]], sessions: AwsSessions | None = None) -> SuiteReport:
    return run_targets(targets, sessions)


# --- validation ------------------------------------------------------------------------


def test_every_bad_target_is_named_with_its_key():
    data = {
        "targets": [
            {"name": "video", "job_queue": "q", "job_definition": "jd"},
            {"name": "thumbs", "job_queue": " ", "job_definition": "jd", "role_arn": "admin"},
            {"name": "audio", "job_queue": "q", "region": "Seoul"},
        ]
    }
    with pytest.raises(ConfigError) as raised:
        parse_suite_config(data, source="targets.json")
    lines = str(raised.value).splitlines()
    too_short = "String should have at least 1 character"
    assert f"targets.json: targets[1] (thumbs).job_queue: {too_short}" in lines
    assert any(line.startswith("targets.json: targets[1] (thumbs).role_arn: ") for line in lines)
    assert "targets.json: targets[2] (audio).job_definition: Field required" in lines
    assert any(line.startswith("targets.json: targets[2] (audio).region: ") for line in lines)
    assert not any("targets[0]" in line for line in lines)  # the good target is not blamed


def test_a_config_file_with_several_targets_names_the_bad_one(tmp_path: Path):
    path = tmp_path / "targets.toml"
    path.write_text(
        '[[targets]]\nname = "video"\njob_queue = "q"\njob_definition = "jd"\n\n'
        '[[targets]]\nname = "thumbs"\njob_queue = "q"\njob_definition = "jd"\nqueue = "x"\n'
    )
    with pytest.raises(ConfigError) as raised:
        load_config_file(path)
    assert str(raised.value) == f"{path}: targets[1] (thumbs).queue: unknown key"


def test_an_external_id_without_a_role_is_named():
    data = {
        "targets": [
            {"name": "video", "job_queue": "q", "job_definition": "jd"},
            {"name": "audio", "job_queue": "q", "job_definition": "jd", "external_id": "x-1"},
        ]
    }
    with pytest.raises(ConfigError) as raised:
        parse_suite_config(data)
    assert str(raised.value) == (
        "config: targets[1] (audio): external_id is set but role_arn is not: set the role to assume"
    )


def test_duplicate_target_names_are_rejected_naming_both():
    target = {"name": "video", "job_queue": "q", "job_definition": "jd"}
    with pytest.raises(ConfigError) as raised:
        parse_suite_config({"targets": [target, {**target, "job_queue": "q2"}]})
    assert "targets[1] (video)" in str(raised.value)
    assert "targets[0]" in str(raised.value)


# --- one section per target ----------------------------------------------------------------


def test_the_report_has_one_section_per_target_in_text_and_json(healthy_world):
    suite = run([{**healthy_world, "name": "video"}, {**healthy_world, "name": "thumbs"}])
    text = render_text(suite)
    sections = text.split("########## TARGET ")[1:]
    assert [s.split(" ", 1)[0] for s in sections] == ["video", "thumbs"]
    for section in sections:
        assert section.count("========== FINAL REPORT ==========") == 1
        assert "QUEUE_CHECK: OK" in section
        assert "ROOT_CAUSE_HINTS:" in section
    doc = json.loads(render_json(suite))
    assert [r["target"] for r in doc["reports"]] == ["video", "thumbs"]
    for report in doc["reports"]:
        names = {c["name"] for c in report["checks"]}
        assert {"AWS_ACCESS", "QUEUE_CHECK", "LOG_GROUP_CHECK"} <= names
        assert report["overall"] in ("OK", "WARN")


# --- one target failing ----------------------------------------------------------------------


class RefusingSts:
    """Answers sts:AssumeRole for chosen roles with an error, as STS itself would."""

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = errors

    def __call__(self, params: dict[str, Any], **_: Any) -> Any:
        role = (params.get("body") or {}).get("RoleArn")
        code = self.errors.get(role)
        if code is None:
            return None
        error = {"Code": code, "Message": f"refused for {role}"}
        return AWSResponse("https://sts.amazonaws.com/", 403, {}, None), {"Error": error}

    def sessions(self) -> AwsSessions:
        base = boto3.Session()
        base.events.register("before-call.sts.AssumeRole", self)
        return AwsSessions(base_session=base)


def test_a_denied_or_expired_role_leaves_the_other_targets_intact(healthy_world):
    (alone,) = run([{**healthy_world, "name": "video"}]).reports
    sts = RefusingSts({DENIED_ROLE: "AccessDenied", EXPIRED_ROLE: "ExpiredToken"})
    targets = [
        {**healthy_world, "name": "denied", "role_arn": DENIED_ROLE},
        {**healthy_world, "name": "video"},
        {**healthy_world, "name": "expired", "role_arn": EXPIRED_ROLE},
    ]
    suite = run(targets, sts.sessions())
    denied, video, expired = suite.reports
    assert statuses(video) == statuses(alone)
    assert video.overall is alone.overall is not Status.FAIL
    for report, role, kind in (
        (denied, DENIED_ROLE, "access denied"),
        (expired, EXPIRED_ROLE, "expired token"),
    ):
        access = report.result("AWS_ACCESS")
        assert access.status is Status.FAIL
        assert access.data["error_kind"] == kind
        assert any(role in hint and "trust policy" in hint for hint in access.hints)
        assert report.result("QUEUE_CHECK").status is Status.SKIP
        assert report.result("QUEUE_CHECK").detail.startswith("AWS_ACCESS is FAIL")
    assert suite.overall is Status.FAIL


def deny_in_region(region: str, operation: str) -> AwsSessions:
    """Sessions whose `operation` is AccessDenied in `region` only."""

    def deny(context: dict[str, Any], **_: Any) -> Any:
        if context.get("client_region") != region:
            return None
        error = {"Code": "AccessDeniedException", "Message": "not authorized"}
        return AWSResponse("https://batch.amazonaws.com/", 403, {}, None), {"Error": error}

    base = boto3.Session()
    base.events.register(f"before-call.batch.{operation}", deny)
    return AwsSessions(base_session=base)


def test_an_access_denied_read_fails_only_its_own_target(healthy_world):
    oregon_world = WorldBuilder(None, region=OTHER_REGION)
    oregon_world.queue_with_ce(suffix="-oregon")
    oregon_world.job_definition(command=["python", "-m", "worker"], attempts=3, suffix="-oregon")
    targets = [
        {**healthy_world, "name": "seoul"},
        {
            "name": "oregon",
            "region": OTHER_REGION,
            "job_queue": f"{QUEUE}-oregon",
            "job_definition": f"{JOBDEF}-oregon",
        },
    ]
    seoul, oregon = run(targets, deny_in_region(OTHER_REGION, "DescribeJobQueues")).reports
    queue = oregon.result("QUEUE_CHECK")
    assert queue.status is Status.FAIL
    assert queue.data["error_kind"] == "access denied"
    assert "batch:DescribeJobQueues" in " ".join(queue.hints)
    assert oregon.result("CE_CHECK").status is Status.SKIP
    assert oregon.result("JOBDEF_CHECK").status is Status.OK  # its other reads still work
    assert statuses(seoul)["QUEUE_CHECK"] is Status.OK
    assert statuses(seoul)["CE_CHECK"] is Status.OK
