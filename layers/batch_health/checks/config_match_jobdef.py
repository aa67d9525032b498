"""CONFIG_MATCH_JOBDEF: every configured source names the job definition the monitor checks."""

from __future__ import annotations

from batch_health.checks.config_sources import ConfigMatchCheck


class ConfigMatchJobdef(ConfigMatchCheck):
    name = "CONFIG_MATCH_JOBDEF"
    key = "job_definition"
    noun = "job definition"
    title = "Job definition name agrees across configs"
    verifies = "The job definition named by every configured source is the one the monitor checks"
