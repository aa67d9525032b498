"""The engine asks for its clients ahead (engine.clients_ahead): every account and service
its selected checks will call, in client order, prepared before any is asked for; and each
check declares exactly the services it calls."""

from __future__ import annotations

from typing import Any

import pytest
from support.accounts import EXTERNAL_ID, OTHER_REGION, ROLE_ARN
from support.suite import run_targets

from batch_health.aws.inventory import Inventory
from batch_health.aws.sessions import AwsSessions, ClientKey
from batch_health.checks import REGISTRY, get_check
from batch_health.config import Target
from batch_health.demo import REGION
from batch_health.engine import _TargetRun, clients_ahead, select_checks
from batch_health.models import Status

LOCAL = {"name": "local", "job_queue": "q", "job_definition": "jd"}
REMOTE = {
    "name": "remote",
    "region": OTHER_REGION,
    "role_arn": ROLE_ARN,
    "external_id": EXTERNAL_ID,
    "job_queue": "q",
    "job_definition": "jd",
    "config_sources": {"api": {"job_queue": "ssm:/x/queue"}},
}


def target_runs(*targets: dict[str, Any]) -> list[_TargetRun]:
    inventory = Inventory(AwsSessions())
    return [_TargetRun(t, inventory.view(t), []) for t in map(Target.model_validate, targets)]


def test_clients_ahead_covers_every_account_and_service_in_client_order():
    runs = target_runs(LOCAL, REMOTE)
    keys = clients_ahead(REGISTRY, runs)
    local = {s for c in REGISTRY for s in c.services_for(runs[0].target)}
    remote = {s for c in REGISTRY for s in c.services_for(runs[1].target)}
    assert local == {"batch", "sts", "iam", "logs", "ec2", "service-quotas"}
    assert remote == local | {"ssm"}  # only the target with an ssm: source reads SSM
    assert len(keys) == len(set(keys))
    assert set(keys) == {ClientKey(s, REGION) for s in local} | {
        ClientKey(s, OTHER_REGION, ROLE_ARN, EXTERNAL_ID) for s in remote
    }
    services = [k.service for k in keys]
    assert services == [
        *["batch"] * 2,
        *["sts"] * 2,
        *["iam"] * 2,
        *["logs"] * 2,
        *["ec2"] * 2,
        *["service-quotas"] * 2,
        "ssm",
    ]


def test_clients_ahead_of_aws_access_alone_is_sts_for_each_account():
    runs = target_runs(LOCAL, REMOTE)
    keys = clients_ahead([get_check("AWS_ACCESS")], runs)
    assert sorted(keys) == sorted(
        [ClientKey("sts", REGION), ClientKey("sts", OTHER_REGION, ROLE_ARN, EXTERNAL_ID)]
    )


def test_config_match_wants_ssm_only_for_a_target_with_an_ssm_source():
    runs = target_runs(LOCAL, {**REMOTE, "config_sources": {"api": {"job_queue": "env:Q"}}})
    checks = [get_check("CONFIG_MATCH_QUEUE"), get_check("CONFIG_MATCH_JOBDEF")]
    assert clients_ahead(checks, runs) == []
    runs = target_runs(LOCAL, REMOTE)
    assert clients_ahead(checks, runs) == [ClientKey("ssm", OTHER_REGION, ROLE_ARN, EXTERNAL_ID)]


# --- the engine and the checks ---------------------------------------------------------------


class AskedFor(AwsSessions):
    """Records what `prepare` was given and every service `client()` was asked for, in order.
    The prepare thread makes clients without calling `client()`: what is recorded here is
    what the run's checks and prefetches asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[tuple[str, Any]] = []

    def prepare(self, wanted: Any) -> None:
        wanted = list(wanted)
        self.events.append(("prepare", wanted))
        super().prepare(wanted)

    def client(self, service: str, *args: Any, **kwargs: Any) -> Any:
        self.events.append(("client", service))
        return super().client(service, *args, **kwargs)

    def asked(self) -> set[str]:
        return {service for what, service in self.events if what == "client"}


@pytest.mark.parametrize("check", REGISTRY, ids=lambda c: c.name)
def test_a_check_declares_exactly_the_services_it_calls(healthy_world, check):
    # The check alone: engine runs a check whose dependencies are not selected, and no
    # check reads its dependencies' results, so every call recorded is this check's.
    sessions = AskedFor()
    suite = run_targets([healthy_world], sessions, checks=[check.name], allow_test_submit=True)
    (report,) = suite.reports
    assert report.result(check.name).status is Status.OK, report.result(check.name).detail
    declared = set(check.services_for(Target.model_validate(healthy_world)))
    assert declared == sessions.asked(), f"{check.name} declares {declared}"


def test_run_suite_prepares_the_clients_ahead_before_any_is_asked_for(aws):
    targets = [LOCAL, {**REMOTE, "role_arn": None, "external_id": None}]
    sessions = AskedFor()
    run_targets(targets, sessions)
    expected = clients_ahead(select_checks(None), target_runs(*targets))
    assert sessions.events[0] == ("prepare", expected)
    assert [what for what, _ in sessions.events].count("prepare") == 1
    assert {k.service for k in expected} == {
        "batch",
        "sts",
        "iam",
        "logs",
        "ec2",
        "service-quotas",
        "ssm",
    }
