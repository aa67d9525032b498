"""CONFIG_MATCH_QUEUE: every configured source names the job queue the monitor checks."""

from __future__ import annotations

from batch_health.checks.config_sources import ConfigMatchCheck


class ConfigMatchQueue(ConfigMatchCheck):
    name = "CONFIG_MATCH_QUEUE"
    key = "job_queue"
    noun = "job queue"
    title = "Job queue name agrees across configs"
    verifies = (
        "The job queue named by every configured source (API settings, .env, setup script, "
        "SSM) is the one the monitor checks"
    )
