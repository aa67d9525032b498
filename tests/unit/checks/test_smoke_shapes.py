"""SMOKE_SUBMIT_CHECK for every job-definition shape: a configured smoke command goes in the
override SubmitJob has for the shape, a multi-node job runs on the fewest nodes an override
allows (or is skipped above smoke.max_nodes), and a `Ref::` no value resolves is named with
the container whose command uses it, wherever it sits.

The job definitions are the shapes corpus's (tests/data/batch_shapes.json: AWS's examples and
the Terraform and CDK acceptance tests, each with its source), registered in moto with the
Batch answer layer (support.shapes); the requests the check sends are recorded as sent.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from support.shape_world import ShapeWorld
from support.shapes_data import answer, entry
from support.suite import run_target

from batch_health.aws.inventory import TargetView
from batch_health.demo import WorldBuilder
from batch_health.models import CheckResult, Status

SMOKE_COMMAND = ["echo", "health smoke"]


@pytest.fixture
def world(shapes_aws) -> WorldBuilder:
    return WorldBuilder(None)


@pytest.fixture
def sent(monkeypatch) -> list[dict[str, Any]]:
    """Every SubmitJob request the check makes (each still goes to moto)."""
    requests: list[dict[str, Any]] = []
    client = TargetView.client

    def recording_client(self: TargetView, service: str) -> Any:
        real = client(self, service)
        if service != "batch":
            return real

        class Recording:
            def __getattr__(self, name: str) -> Any:
                return getattr(real, name)

            def submit_job(self, **kwargs: Any) -> Any:
                requests.append(copy.deepcopy(kwargs))
                return real.submit_job(**kwargs)

        return Recording()

    monkeypatch.setattr(TargetView, "client", recording_client)
    return requests


def shape(world: WorldBuilder, shape_id: str, jd: dict[str, Any] | None = None) -> ShapeWorld:
    """The corpus's job definition `shape_id` (or `jd`, a changed copy of it) and a queue."""
    assert entry("job_definitions", shape_id)["source"].startswith("https://")
    return ShapeWorld(world, jd or answer("job_definitions", shape_id)).build().queue()


def smoke(built: ShapeWorld, **smoke_config: Any) -> CheckResult:
    target = {**built.target, "smoke": smoke_config}
    report = run_target(target, checks=["SMOKE_SUBMIT_CHECK"], allow_test_submit=True)
    result = report.result("SMOKE_SUBMIT_CHECK")
    assert result is not None
    return result


# --- the command override, per shape -------------------------------------------------------


def test_single_container_command_goes_in_container_overrides(world, sent):
    result = smoke(shape(world, "botocore-sleep60-describe"), command=SMOKE_COMMAND)
    assert result.status is Status.OK, result.detail
    [request] = sent
    assert request["containerOverrides"] == {"command": SMOKE_COMMAND}
    assert not {"ecsPropertiesOverride", "eksPropertiesOverride", "nodeOverrides"} & set(request)
    assert result.data["command_override_field"] == "containerOverrides"


def test_multi_container_command_goes_to_the_first_essential_container(world, sent):
    # c1 and c2 are not essential; c3 is the first (and only) essential container.
    result = smoke(shape(world, "docs-multicontainer-ecs-ec2"), command=SMOKE_COMMAND)
    assert result.status is Status.OK, result.detail
    [request] = sent
    assert request["ecsPropertiesOverride"] == {
        "taskProperties": [{"containers": [{"name": "c3", "command": SMOKE_COMMAND}]}]
    }
    assert "containerOverrides" not in request
    assert result.data["command_overridden_in"] == ["container c3"]
    assert result.data["commands"]["container c1"] == ["echo", "hello world"]
    job = world.client("batch").describe_jobs(jobs=[result.data["job_id"]])["jobs"][0]
    commands = {
        c["name"]: c["command"] for c in job["ecsProperties"]["taskProperties"][0]["containers"]
    }
    assert commands == {
        "c1": ["echo", "hello world"],
        "c2": ["echo", "hello world"],
        "c3": SMOKE_COMMAND,
    }


@pytest.mark.parametrize(
    ("shape_id", "container"),
    [
        ("tf-eks-advanced-serviceaccount", "sleep"),
        # Init containers run first and are not what the job is: the first container is.
        ("docs-multicontainer-eks-initcontainers", "c1"),
        # A container without a name is called "Default" (EksContainer.name).
        ("docs-eks-getting-started-sleep", "Default"),
    ],
)
def test_eks_command_goes_in_the_pod_override(world, sent, shape_id, container):
    result = smoke(shape(world, shape_id), command=SMOKE_COMMAND)
    assert result.status is Status.OK, result.detail
    [request] = sent
    assert request["eksPropertiesOverride"] == {
        "podProperties": {"containers": [{"name": container, "command": SMOKE_COMMAND}]}
    }
    assert "containerOverrides" not in request


def test_eks_args_stay_and_are_searched_for_parameters(world, sent):
    jd = answer("job_definitions", "tf-eks-advanced-serviceaccount")
    # Derived from the corpus entry: its args ["60"] made to use a parameter with no default.
    jd["eksProperties"]["podProperties"]["containers"][0]["args"] = ["Ref::seconds"]
    result = smoke(shape(world, "tf-eks-advanced-serviceaccount", jd), command=SMOKE_COMMAND)
    assert result.status is Status.FAIL
    assert "Ref::seconds" in result.detail
    assert result.data["command"] == [*SMOKE_COMMAND, "Ref::seconds"]
    assert sent == []


def test_multi_node_command_goes_to_every_node_range(world, sent):
    result = smoke(shape(world, "tf-node-properties-advanced"), command=SMOKE_COMMAND, max_nodes=4)
    assert result.status is Status.OK, result.detail
    [request] = sent
    assert request["nodeOverrides"]["nodePropertyOverrides"] == [
        {"targetNodes": "0:", "containerOverrides": {"command": SMOKE_COMMAND}},
        {"targetNodes": "1:", "containerOverrides": {"command": SMOKE_COMMAND}},
    ]


def test_multi_node_ecs_ranges_are_overridden_by_container_name(world, sent):
    result = smoke(shape(world, "tf-node-properties-ecs"), command=SMOKE_COMMAND)
    assert result.status is Status.OK, result.detail
    [request] = sent
    assert request["nodeOverrides"]["nodePropertyOverrides"] == [
        {
            "targetNodes": "0:",
            "ecsPropertiesOverride": {
                "taskProperties": [
                    {"containers": [{"name": "container_a", "command": SMOKE_COMMAND}]}
                ]
            },
        }
    ]


# --- how many nodes -------------------------------------------------------------------------


def test_open_ranges_are_overridden_down_to_the_main_node(world, sent):
    # Ranges "0:" and "1:", numNodes 4, mainNode 1: the override must exceed the main node.
    result = smoke(shape(world, "tf-node-properties-advanced"))
    assert result.status is Status.OK, result.detail
    [request] = sent
    assert request["nodeOverrides"] == {"numNodes": 2}
    assert result.data["num_nodes"] == 2
    assert result.data["num_nodes_source"].startswith("nodeOverrides.numNodes=2")
    assert "; 2 nodes (nodeOverrides.numNodes=2" in result.detail
    job = world.client("batch").describe_jobs(jobs=[result.data["job_id"]])["jobs"][0]
    assert job["nodeProperties"]["numNodes"] == 2


def test_a_closed_range_runs_on_the_job_definitions_own_nodes(world, sent):
    # One range "0:1" (numNodes 2): nothing is open at the top, so no override is valid.
    result = smoke(shape(world, "docs-gromacs-mnp"))
    assert result.status is Status.OK, result.detail
    [request] = sent
    assert "nodeOverrides" not in request
    assert result.data["num_nodes"] == 2
    assert "no node range is open at the top" in result.data["num_nodes_source"]


def test_a_one_node_job_needs_no_override(world, sent):
    # Range "0:" but numNodes 1 already: an override could not ask for fewer.
    result = smoke(shape(world, "tf-node-properties-ecs"))
    assert result.status is Status.OK, result.detail
    assert "nodeOverrides" not in sent[0]
    assert "already the fewest" in result.data["num_nodes_source"]


@pytest.mark.parametrize(
    ("shape_id", "nodes"),
    [("cdk-multinode-two-ranges-r4", 21), ("docs-multicontainer-mnp", 6)],
)
def test_more_nodes_than_max_nodes_is_skipped(world, sent, shape_id, nodes):
    result = smoke(shape(world, shape_id))
    assert result.status is Status.SKIP
    assert result.detail.startswith(f"a smoke job would hold {nodes} instances")
    assert "smoke.max_nodes=2" in result.detail
    assert sent == []


def test_max_nodes_lets_a_bigger_job_through(world, sent):
    result = smoke(shape(world, "docs-multicontainer-mnp"), max_nodes=6)
    assert result.status is Status.OK, result.detail
    assert result.data["num_nodes"] == 6


# --- Ref:: in any container ----------------------------------------------------------------


def test_an_unresolved_parameter_in_a_sidecar_is_named_with_it(world, sent):
    jd = answer("job_definitions", "docs-multicontainer-ecs-ec2")
    # Derived from the corpus entry: the non-essential c1 made to need a parameter.
    jd["ecsProperties"]["taskProperties"][0]["containers"][0]["command"] = ["up", "Ref::token"]
    result = smoke(shape(world, "docs-multicontainer-ecs-ec2", jd))
    assert result.status is Status.FAIL
    assert "uses Ref::token (in container c1) but no value is configured" in result.detail
    assert result.data["unresolved_in"] == {"token": ["container c1"]}
    assert sent == []


def test_a_sidecar_parameter_is_still_resolved_under_a_smoke_command(world, sent):
    jd = answer("job_definitions", "docs-multicontainer-ecs-ec2")
    jd["ecsProperties"]["taskProperties"][0]["containers"][0]["command"] = ["up", "Ref::token"]
    built = shape(world, "docs-multicontainer-ecs-ec2", jd)
    result = smoke(built, command=SMOKE_COMMAND, parameters={"token": "t"})
    assert result.status is Status.OK, result.detail
    assert result.data["parameters"] == {"token": {"value": "t", "source": "configured"}}
    assert sent[0]["parameters"] == {"token": "t"}


def test_a_node_range_parameter_is_named_with_the_range(world, sent):
    jd = answer("job_definitions", "tf-node-properties-advanced")
    jd["nodeProperties"]["nodeRangeProperties"][1]["container"]["command"] = ["w", "Ref::rank"]
    result = smoke(shape(world, "tf-node-properties-advanced", jd))
    assert result.status is Status.FAIL
    assert "Ref::rank (in node range 1: container)" in result.detail
