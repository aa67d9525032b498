"""The permission replay's machinery: a deployment mode's stack created offline, the monitor
run in-process with that stack's environment, and every request it made evaluated against
the role that answers it (the monitor's, the notifier's, or a target account's role).

Requests are recorded by tests/support/recorder.py, mapped to what AWS authorizes by
tests/support/authorization.py, and evaluated by the project's own policy evaluator.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from batch_health.cli.invoke import LocalContext
from batch_health.demo import REGION, WorldBuilder
from batch_health.domain.iam_policy import Decision, PolicyDocument, evaluate, parse_document
from batch_health.runtime import monitor
from batch_health.runtime.observability import metrics
from batch_health.runtime.settings import MonitorSettings
from support.authorization import Authorization, Knowledge, Request, authorizations
from support.cfn import ROOT, Stack, deploy
from support.recorder import Recorder

TARGET_ACCOUNT = "111122223333"
TARGET_ROLE = f"arn:aws:iam::{TARGET_ACCOUNT}:role/batch-health-monitor-target"


@dataclass
class Replay:
    """One mode's run: its requests and what AWS would have answered each."""

    requests: list[Request]
    denied: list[str] = field(default_factory=list)

    @property
    def operations(self) -> Counter[str]:
        return Counter(r.name for r in self.requests)


def policies_of(stack: Stack, role: str) -> list[PolicyDocument]:
    return [
        PolicyDocument(f"{role} policy {name}", parse_document(doc))
        for name, doc in [
            *stack.role_policy_documents(role),
            *stack.managed_policy_documents(role),
        ]
    ]


def authorize(
    requests: list[Request], roles: dict[str, list[PolicyDocument]], known: Knowledge
) -> list[str]:
    """One line per check AWS would refuse."""
    denied = []
    for req in requests:
        for check in authorizations(req, known):
            decision = evaluate(roles[req.principal], check.action, check.resource, check.context)
            if decision.decision is not Decision.ALLOWED:
                denied.append(describe(req, check, decision.decision))
    return denied


def describe(req: Request, check: Authorization, decision: Decision) -> str:
    return (
        f"{req.principal} {req.name} in {req.region}: {check.action} on {check.resource} "
        f"{decision.value} (context {check.context})"
    )


class Deployment:
    """A mode's stack in the monitor's account, its resources made in moto, and the roles
    that may answer its requests."""

    def __init__(self, parameters: dict[str, str], target_account: dict[str, str] | None = None):
        self.stack = deploy(parameters=parameters)
        self.env = {**self.stack.properties("MonitorFunction")["Environment"]["Variables"]}
        self.env["AWS_REGION"] = REGION
        self.known = Knowledge()
        topic = self.env["ALERT_TOPIC_ARN"]
        self.known.topic_keys[topic] = self.stack.get_att("AlertTopicKey", "Arn")
        self.roles = {"monitor": policies_of(self.stack, "MonitorFunctionRole")}
        if self.stack.exists("SlackNotifierFunction"):
            self.roles["notifier"] = policies_of(self.stack, "SlackNotifierFunctionRole")
        if target_account is not None:
            monitor_role = self.stack.get_att("MonitorFunctionRole", "Arn")
            target = deploy(
                ROOT / "templates" / "target-account-role.yaml",
                {"MonitorRoleArn": monitor_role, **target_account},
                account=TARGET_ACCOUNT,
            )
            assert target.get_att("TargetRole", "Arn") == TARGET_ROLE
            trust = target.properties("TargetRole")["AssumeRolePolicyDocument"]["Statement"]
            assert [s["Principal"] for s in trust] == [{"AWS": monitor_role}]
            self.roles[TARGET_ROLE] = policies_of(target, "TargetRole")

    def create_resources(self, world: WorldBuilder) -> None:
        """The topic and table the stack would create, under the stack's names."""
        topic_name = self.env["ALERT_TOPIC_ARN"].rsplit(":", 1)[-1]
        world.client("sns").create_topic(Name=topic_name)
        table = self.stack.properties("IncidentTable")
        world.client("dynamodb").create_table(
            TableName=self.env["INCIDENT_TABLE_NAME"],
            AttributeDefinitions=table["AttributeDefinitions"],
            KeySchema=table["KeySchema"],
            BillingMode=table["BillingMode"],
        )

    def run(self, *events: dict[str, Any]) -> tuple[Replay, list[dict[str, Any]]]:
        recorder = Recorder("monitor")
        results = []
        monitor.reset_runtime()
        with recorder.active():
            settings = MonitorSettings.from_env(self.env)
            for event in events:
                try:
                    results.append(monitor.handle(event, LocalContext(region=REGION), settings))
                finally:
                    metrics.flush_metrics()
        monitor.reset_runtime()
        replay = Replay(recorder.requests)
        replay.denied = authorize(replay.requests, self.roles, self.known)
        return replay, results


def statuses(report: dict[str, Any]) -> dict[str, str]:
    return {c["name"]: c["status"] for c in report["checks"]}


def details(report: dict[str, Any]) -> str:
    return " | ".join(f"{c['name']}: {c['detail']}" for c in report["checks"])


def assert_no_access_denied(reports: list[dict[str, Any]]) -> None:
    for report in reports:
        for check in report["checks"]:
            assert check["data"].get("error_kind") != "access denied", (report["target"], check)
