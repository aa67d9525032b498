"""The monitor's environment (runtime/settings.py), validated on entry; every error names the
variable."""

from __future__ import annotations

import pytest

from batch_health.runtime.settings import MonitorSettings, SettingsError

BASE = {
    "AWS_REGION": "ap-northeast-2",
    "JOB_QUEUE": "academy-video-batch-queue",
    "JOB_DEFINITION": "academy-video-batch-jobdef",
}


def test_defaults_match_the_contract():
    s = MonitorSettings.from_env(BASE)
    assert s.job_queue == "academy-video-batch-queue"
    assert s.log_group is None and s.targets_parameter is None
    assert s.config_sources == {} and s.smoke_parameters == {}
    assert s.target_name == "default"
    assert s.critical_checks == ("LOG_GROUP_CHECK", "SMOKE_SUBMIT_CHECK")
    assert (s.failure_threshold, s.remind_after_minutes) == (1, 360)
    assert s.publish_duration_metrics is False
    assert (s.time_budget_margin_ms, s.check_concurrency) == (10_000, 16)
    assert s.metrics_namespace == "BatchHealth"
    assert s.alert_topic_arn is None and s.incident_table_name is None


def test_template_values_are_parsed():
    s = MonitorSettings.from_env(
        {
            **BASE,
            "LOG_GROUP": "/aws/batch/academy-video-worker",
            "TARGET_NAME": "academy-video",
            "CONFIG_SOURCES": '{"api": {"job_queue": "ssm:/academy/api/Q"}}',
            "SMOKE_PARAMETERS": '{"source_uri": "s3://b/k.mp4"}',
            "CRITICAL_CHECKS": " log_group_check , QUEUE_CHECK ",
            "ALERT_TOPIC_ARN": "arn:aws:sns:ap-northeast-2:123456789012:alerts",
            "INCIDENT_TABLE_NAME": "incidents",
            "FAILURE_THRESHOLD": "3",
            "REMIND_AFTER_MINUTES": "60",
            "PUBLISH_DURATION_METRICS": "true",
            "POWERTOOLS_METRICS_NAMESPACE": "BatchHealth/prod",
        }
    )
    assert s.critical_checks == ("LOG_GROUP_CHECK", "QUEUE_CHECK")
    assert s.failure_threshold == 3 and s.publish_duration_metrics is True
    target = s.single_target()
    assert target.name == "academy-video"
    assert target.log_group == "/aws/batch/academy-video-worker"
    assert target.config_sources == {"api": {"job_queue": "ssm:/academy/api/Q"}}
    assert target.smoke.parameters == {"source_uri": "s3://b/k.mp4"}


def test_empty_optional_variables_mean_unset():
    s = MonitorSettings.from_env(
        {**BASE, "LOG_GROUP": "", "TARGETS_PARAMETER": " ", "ALERT_TOPIC_ARN": ""}
    )
    assert s.log_group is None and s.targets_parameter is None and s.alert_topic_arn is None


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "JOB_QUEUE and JOB_DEFINITION: required when TARGETS_PARAMETER is not set"),
        ({"JOB_QUEUE": "q"}, "JOB_DEFINITION: required when TARGETS_PARAMETER is not set"),
        ({**BASE, "FAILURE_THRESHOLD": "0"}, "FAILURE_THRESHOLD: Input should be greater than"),
        ({**BASE, "CHECK_CONCURRENCY": "many"}, "CHECK_CONCURRENCY: Input should be a valid int"),
        ({**BASE, "PUBLISH_DURATION_METRICS": "maybe"}, "PUBLISH_DURATION_METRICS: expected true"),
        ({**BASE, "CONFIG_SOURCES": "{api"}, "CONFIG_SOURCES: invalid JSON at column 2"),
        ({**BASE, "CONFIG_SOURCES": "[1]"}, "CONFIG_SOURCES: Input should be a valid dict"),
        ({**BASE, "SMOKE_PARAMETERS": '{"n": 1}'}, "SMOKE_PARAMETERS: values must be strings"),
        ({**BASE, "CRITICAL_CHECKS": "LOGS_CHECK"}, "CRITICAL_CHECKS: unknown check LOGS_CHECK"),
        ({**BASE, "ALERT_TOPIC_ARN": "alerts"}, "ALERT_TOPIC_ARN: String should match pattern"),
        ({**BASE, "POWERTOOLS_METRICS_NAMESPACE": "AWS/Batch"}, "reserved for AWS"),
        ({**BASE, "TARGET_NAME": "has space"}, "TARGET_NAME: String should match pattern"),
        (
            {**BASE, "CONFIG_SOURCES": '{"api": {"jop_queue": "x"}}'},
            "CONFIG_SOURCES.api.jop_queue: invalid key: Input should be 'job_queue' or "
            "'job_definition', got 'jop_queue'",
        ),
    ],
)
def test_errors_name_the_variable(env, expected):
    with pytest.raises(SettingsError) as err:
        MonitorSettings.from_env(env)
    assert expected in str(err.value)


def test_targets_parameter_replaces_the_single_target():
    s = MonitorSettings.from_env(
        {"AWS_REGION": "ap-northeast-2", "TARGETS_PARAMETER": "/batch-health/targets"}
    )
    assert s.targets_parameter == "/batch-health/targets"
    assert s.targets_max_age_seconds == 300


def test_env_sources_read_the_function_environment_but_not_its_credentials():
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    s = MonitorSettings.from_env({**BASE, "VIDEO_QUEUE": "q", "AWS_SECRET_ACCESS_KEY": secret})
    assert s.source_environ["VIDEO_QUEUE"] == "q"
    assert "AWS_SECRET_ACCESS_KEY" not in s.source_environ
    assert secret not in repr(s)


def test_from_env_reads_the_process_environment(monkeypatch):
    for key, value in BASE.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("TARGET_NAME", "from-process")
    assert MonitorSettings.from_env().target_name == "from-process"
