"""What a deployment's role may do, so that the checks stay inside it.

The monitor function's role is written from the stack's parameters (template.yaml): it
describes log groups and reads SSM parameters only in MonitoredRegions, reads log events
only under LogGroupPrefix (and of LogGroup), reads `ssm:` config sources only under
ConfigParameterPath, and submits smoke jobs only to JobQueue/JobDefinition in the stack's
own region. A check that would step outside says so, naming the parameter to change,
instead of making a call AWS would deny: an AccessDenied in a report is then always news.

Targets in another account (`role_arn`) are read with that account's role
(templates/target-account-role.yaml), whose scope this deployment does not know; they are
smoke-tested only when the target says its role allows it (`smoke.enabled = true`).

The CLI runs with the operator's own credentials: no scope (None), everything is tried.
"""

from __future__ import annotations

from dataclasses import dataclass

from batch_health.config import Target


def resource_name(value: str) -> str:
    """`arn:...:job-queue/name` or `name:revision` -> `name`."""
    name = value.strip().rsplit("/", 1)[-1] if value.startswith("arn:") else value.strip()
    return name.split(":", 1)[0]


@dataclass(frozen=True)
class DeploymentScope:
    home_region: str  # the stack's region
    regions: frozenset[str]  # MonitoredRegions (the home region when empty)
    log_group_prefix: str = "/aws/batch/"
    log_group: str | None = None  # LogGroup: readable whatever the prefix
    config_parameter_path: str | None = None  # None: no ssm: config sources
    smoke_job_queue: str | None = None  # JobQueue / JobDefinition: the smoke target
    smoke_job_definition: str | None = None
    # TargetRoleArns: the roles the deployment may assume (None: not known, any is tried).
    target_roles: frozenset[str] | None = None

    def region_problem(self, target: Target, region: str | None) -> str | None:
        """Why this deployment cannot check `target` at all (its role, its region), or
        None."""
        if target.role_arn:
            return self.role_problem(target)
        if (region or self.home_region) in self.regions:
            return None
        return (
            f"target {target.name} is in {region}, outside this deployment's MonitoredRegions "
            f"({', '.join(sorted(self.regions))}): add {region} to MonitoredRegions and "
            "redeploy, or give the target a role_arn in an account that lets the monitor read it"
        )

    def role_problem(self, target: Target) -> str | None:
        """Why the deployment may not assume the target's role (not in TargetRoleArns:
        sts:AssumeRole would be denied), or None."""
        roles = self.target_roles
        if roles is None or not target.role_arn or target.role_arn in roles:
            return None
        listed = ", ".join(sorted(roles)) if roles else "none"
        return (
            f"target {target.name} names role_arn {target.role_arn}, which this deployment may "
            f"not assume (TargetRoleArns: {listed}): add it to TargetRoleArns and redeploy"
        )

    def log_read_problem(self, target: Target, group: str) -> str | None:
        """Why the monitor may not read `group`'s streams and events, or None."""
        if target.role_arn or group == self.log_group:
            return None
        if self.log_group_prefix and group.startswith(self.log_group_prefix):
            return None
        return (
            f"the monitor may read log events only under LogGroupPrefix "
            f"{self.log_group_prefix or '(none)'}"
            + (f" and of LogGroup {self.log_group}" if self.log_group else "")
            + f"; {group} is outside: set LogGroupPrefix (or LogGroup) to include it"
        )

    def ssm_read_problem(self, target: Target, name: str) -> str | None:
        """Why the monitor may not read SSM parameter `name` for this target, or None."""
        if target.role_arn:
            return None
        path = self.config_parameter_path
        if path and name.startswith(path):
            return None
        where = f"under ConfigParameterPath {path}" if path else "(ConfigParameterPath is empty)"
        return (
            f"this deployment reads ssm: config sources only {where}; {name} is outside: "
            "set ConfigParameterPath to a path that holds it"
        )

    def smoke_problem(self, target: Target, region: str | None) -> str | None:
        """Why this deployment may not submit a smoke job for `target`, or None."""
        if target.role_arn:
            if target.smoke.enabled:
                return None
            return (
                f"the target account's role ({target.role_arn}) submits smoke jobs only when "
                "deployed with SmokeJobQueue/SmokeJobDefinition: then set smoke.enabled = true "
                "on this target"
            )
        allowed = (self.smoke_job_queue, self.smoke_job_definition)
        here = (resource_name(target.job_queue), resource_name(target.job_definition))
        if (
            None not in allowed
            and here == allowed
            and (region or self.home_region) == (self.home_region)
        ):
            return None
        named = (
            f"{allowed[0]} / {allowed[1]} in {self.home_region}"
            if None not in allowed
            else "no workload (JobQueue and JobDefinition are empty)"
        )
        return (
            f"this deployment may submit smoke jobs only to JobQueue/JobDefinition: {named}; "
            f"{here[0]} / {here[1]} in {region or self.home_region} is not it"
        )
