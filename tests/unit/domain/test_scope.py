"""The deployment's scope: what the monitor function's role may read and submit.

A check that would step outside says which parameter limits it, instead of making a call
AWS would deny (tests/unit/stack/test_permission_replay.py shows the calls stay inside).
"""

from __future__ import annotations

from typing import Any

import pytest
from support.suite import run_targets

from batch_health.config import Target
from batch_health.domain.arns import resource_name
from batch_health.domain.scope import DeploymentScope
from batch_health.runtime.settings import MonitorSettings, SettingsError

HOME = "ap-northeast-2"
SCOPE = DeploymentScope(
    home_region=HOME,
    regions=frozenset({HOME, "us-west-2"}),
    log_group_prefix="/aws/batch/",
    log_group="/custom/exact",
    config_parameter_path="/academy/api/",
    smoke_job_queue="video-queue",
    smoke_job_definition="video-jobdef",
)


def target(**fields: Any) -> Target:
    return Target.model_validate(
        {"job_queue": "video-queue", "job_definition": "video-jobdef"} | fields
    )


@pytest.mark.parametrize(
    ("fields", "region", "allowed"),
    [
        ({}, None, True),
        ({}, "us-west-2", True),
        ({}, "eu-west-1", False),
        ({"role_arn": "arn:aws:iam::111122223333:role/r"}, "eu-west-1", True),
    ],
)
def test_regions(fields, region, allowed):
    problem = SCOPE.region_problem(target(**fields), region)
    assert (problem is None) is allowed
    if problem:
        assert "MonitoredRegions" in problem and "eu-west-1" in problem


@pytest.mark.parametrize(
    ("group", "allowed"),
    [("/aws/batch/video", True), ("/custom/exact", True), ("/custom/other", False)],
)
def test_log_reads(group, allowed):
    problem = SCOPE.log_read_problem(target(), group)
    assert (problem is None) is allowed
    if problem:
        assert "LogGroupPrefix /aws/batch/" in problem and group in problem


def test_ssm_reads_only_under_the_config_parameter_path():
    assert SCOPE.ssm_read_problem(target(), "/academy/api/QUEUE") is None
    problem = SCOPE.ssm_read_problem(target(), "/other/QUEUE")
    assert problem and "ConfigParameterPath /academy/api/" in problem
    none = DeploymentScope(home_region=HOME, regions=frozenset({HOME}))
    assert "ConfigParameterPath is empty" in (none.ssm_read_problem(target(), "/a") or "")


@pytest.mark.parametrize(
    ("fields", "region", "allowed"),
    [
        ({}, None, True),
        ({"job_queue": "arn:aws:batch:ap-northeast-2:1:job-queue/video-queue"}, None, True),
        ({"job_definition": "video-jobdef:7"}, None, True),
        ({"job_queue": "other-queue"}, None, False),
        ({}, "us-west-2", False),  # the grant names the stack's region
        ({"role_arn": "arn:aws:iam::111122223333:role/r"}, None, False),
        ({"role_arn": "arn:aws:iam::111122223333:role/r", "smoke": {"enabled": True}}, None, True),
    ],
)
def test_smoke_submits(fields, region, allowed):
    problem = SCOPE.smoke_problem(target(**fields), region)
    assert (problem is None) is allowed, problem


def test_resource_names_compare_by_name():
    assert resource_name("arn:aws:batch:r:1:job-definition/jd:3") == "jd"
    assert resource_name("jd:3") == "jd" and resource_name("q") == "q"


# --- from the function's environment ------------------------------------------------------------

BASE = {"AWS_REGION": HOME, "JOB_QUEUE": "video-queue", "JOB_DEFINITION": "video-jobdef"}


def test_the_scope_comes_from_the_stack_parameters():
    s = MonitorSettings.from_env(
        {
            **BASE,
            "MONITORED_REGIONS": "ap-northeast-2, us-west-2",
            "LOG_GROUP_PREFIX": "/jobs/",
            "LOG_GROUP": "/custom/exact",
            "CONFIG_PARAMETER_PATH": "/academy/api/",
        }
    )
    assert s.scope() == DeploymentScope(
        home_region=HOME,
        regions=frozenset({HOME, "us-west-2"}),
        log_group_prefix="/jobs/",
        log_group="/custom/exact",
        config_parameter_path="/academy/api/",
        smoke_job_queue="video-queue",
        smoke_job_definition="video-jobdef",
    )


def test_no_monitored_regions_means_the_stacks_own():
    assert MonitorSettings.from_env(BASE).scope().regions == frozenset({HOME})


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({**BASE, "MONITORED_REGIONS": "Seoul"}, "MONITORED_REGIONS.0: String should match"),
        ({"AWS_REGION": HOME, "TARGETS_PARAMETER": "/t", "JOB_QUEUE": "q"}, "JOB_DEFINITION: set"),
        ({"JOB_QUEUE": "q", "JOB_DEFINITION": "d"}, "AWS_REGION: not set"),
    ],
)
def test_a_bad_scope_names_the_variable(env, expected):
    with pytest.raises(SettingsError, match=expected):
        MonitorSettings.from_env(env)


# --- what the checks do with it -----------------------------------------------------------------


def scoped(healthy_world: dict[str, Any], **fields: Any) -> DeploymentScope:
    values = {
        "home_region": HOME,
        "regions": frozenset({HOME}),
        "config_parameter_path": "/academy/api/",
        "smoke_job_queue": healthy_world["job_queue"],
        "smoke_job_definition": healthy_world["job_definition"],
    }
    return DeploymentScope(**(values | fields))


def test_a_workload_outside_the_scope_is_named_and_untouched(healthy_world):
    elsewhere = {**healthy_world, "name": "video-eu", "region": "eu-west-1"}
    suite = run_targets([healthy_world, elsewhere], scope=scoped(healthy_world))
    home, eu = suite.reports
    assert home.overall.value in ("OK", "WARN")
    assert eu.result("AWS_ACCESS").status.value == "FAIL"
    assert "outside this deployment's MonitoredRegions" in eu.result("AWS_ACCESS").detail
    assert {c.status.value for c in eu.checks} == {"FAIL", "SKIP"}
    assert eu.region == "eu-west-1"
    assert "MonitoredRegions" in eu.root_cause_hints[0]


def test_smoke_is_skipped_with_the_reason_where_the_deployment_may_not_submit(healthy_world):
    other = {**healthy_world, "name": "other", "job_queue": "other-queue"}
    suite = run_targets(
        [healthy_world, other],
        scope=scoped(healthy_world),
        allow_test_submit=True,
        checks=["SMOKE_SUBMIT_CHECK"],
    )
    allowed, refused = (r.result("SMOKE_SUBMIT_CHECK") for r in suite.reports)
    assert allowed.status.value == "OK", allowed.detail
    assert refused.status.value == "SKIP"
    assert "may submit smoke jobs only to JobQueue/JobDefinition" in refused.detail


def test_a_target_can_refuse_smoke_jobs_even_from_the_cli(healthy_world):
    target = {**healthy_world, "smoke": {"enabled": False}}
    (report,) = run_targets([target], allow_test_submit=True, checks=["SMOKE_SUBMIT_CHECK"]).reports
    result = report.result("SMOKE_SUBMIT_CHECK")
    assert (result.status.value, result.detail) == (
        "SKIP",
        "smoke.enabled is false for this target",
    )


def test_log_events_outside_the_prefix_are_not_read(healthy_world):
    scope = scoped(healthy_world, log_group_prefix="/jobs/")
    (report,) = run_targets([healthy_world], scope=scope).reports
    content = report.result("LOG_CONTENT_CHECK")
    assert content.status.value == "SKIP" and "LogGroupPrefix /jobs/" in content.detail
    assert report.result("LOG_GROUP_CHECK").status.value == "OK"  # describing is allowed


def test_an_ssm_source_outside_the_path_is_a_config_fail_not_a_call(healthy_world):
    scope = scoped(healthy_world, config_parameter_path="/elsewhere/")
    (report,) = run_targets([healthy_world], scope=scope, checks=["CONFIG_MATCH_QUEUE"]).reports
    result = report.result("CONFIG_MATCH_QUEUE")
    assert result.status.value == "FAIL"
    assert "ConfigParameterPath /elsewhere/" in result.detail


# --- the roles it may assume (TargetRoleArns) ---------------------------------------------------
ROLE = "arn:aws:iam::111122223333:role/batch-health-target"


@pytest.mark.parametrize(
    ("roles", "allowed"),
    [
        (None, True),
        (frozenset({ROLE}), True),
        (frozenset(), False),
        (frozenset({ROLE + "-other"}), False),
    ],
)
def test_a_role_the_deployment_may_not_assume_is_named_not_tried(roles, allowed):
    scope = DeploymentScope(home_region=HOME, regions=frozenset({HOME}), target_roles=roles)
    problem = scope.region_problem(target(name="partner", role_arn=ROLE), "eu-west-1")
    assert (problem is None) is allowed
    if problem:
        assert "TargetRoleArns" in problem and ROLE in problem and "partner" in problem


def test_the_functions_read_the_roles_from_the_parameter_the_stack_writes(aws):
    import boto3

    from batch_health.runtime.monitor import Runtime, known_target_roles

    env = {"AWS_REGION": HOME, "JOB_QUEUE": "q", "JOB_DEFINITION": "d"}
    rt = Runtime()
    assert known_target_roles(MonitorSettings.from_env(env), rt) is None  # not the stack's
    none = MonitorSettings.from_env({**env, "TARGET_ROLES_PARAMETER": ""})
    assert known_target_roles(none, rt) == frozenset()  # TargetRoleArns empty
    name = "CFN-TargetRolesList-a1B2c3"  # what CloudFormation names it
    boto3.client("ssm", region_name=HOME).put_parameter(
        Name=name, Type="StringList", Value=f"{ROLE},{ROLE}-b"
    )
    listed = MonitorSettings.from_env({**env, "TARGET_ROLES_PARAMETER": name})
    assert known_target_roles(listed, rt) == frozenset({ROLE, f"{ROLE}-b"})
    assert listed.scope(known_target_roles(listed, rt)).target_roles == frozenset(
        {ROLE, f"{ROLE}-b"}
    )
    gone = MonitorSettings.from_env({**env, "TARGET_ROLES_PARAMETER": "missing"})
    assert known_target_roles(gone, Runtime()) is None  # unread: the role decides


def test_a_target_whose_role_is_not_listed_fails_access_and_is_not_touched(healthy_world):
    partner = {**healthy_world, "name": "partner", "role_arn": ROLE}
    suite = run_targets(
        [healthy_world, partner], scope=scoped(healthy_world, target_roles=frozenset())
    )
    home, other = suite.reports
    assert home.overall.value in ("OK", "WARN")
    access = other.result("AWS_ACCESS")
    assert access.status.value == "FAIL" and "add it to TargetRoleArns" in access.detail
    assert {c.status.value for c in other.checks} == {"FAIL", "SKIP"}
