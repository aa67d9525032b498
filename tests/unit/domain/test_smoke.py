"""The smoke job's decisions (domain/smoke.py): the Ref:: parameters a command references and
which nothing resolves; the share and priority on a fair-share queue; how many nodes a
multi-node smoke job takes. The policies and node layouts are the shapes corpus's
(tests/data/batch_shapes.json, each entry with its public source) or NodeOverrides' own
examples (https://docs.aws.amazon.com/batch/latest/APIReference/API_NodeOverrides.html)."""

from __future__ import annotations

import pytest
from support.shapes_data import answer

from batch_health.config import ConfigError, parse_suite_config
from batch_health.demo import WORKER_COMMAND
from batch_health.domain.job_definition import JobDefinitionView
from batch_health.domain.job_parts import parse_target_nodes
from batch_health.domain.smoke import (
    SCHEDULING_PRIORITY_MIN,
    SHARE_IDENTIFIER_MAX_CHARS,
    SMOKE_SHARE_IDENTIFIER,
    choose_nodes,
    choose_share,
    find_unresolved_job_parameters,
    quota_share_only,
    referenced_parameters,
    share_from_policy,
    smallest_node_override,
)


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (WORKER_COMMAND, ["job_id"]),
        (
            ["run", "--id=Ref::job_id", "Ref::src", "Ref::src", "Ref::out-dir"],
            ["job_id", "src", "out-dir"],
        ),
        (["echo", "no refs"], []),
    ],
)
def test_referenced_parameters(command, expected):
    assert referenced_parameters(command) == expected


def test_find_unresolved_job_parameters_checks_every_source():
    command = ["w", "Ref::job_id", "Ref::source_uri", "Ref::quality"]
    assert find_unresolved_job_parameters(command, {}, {}) == ["job_id", "source_uri", "quality"]
    assert (
        find_unresolved_job_parameters(
            command, {"source_uri": "s3://b/k"}, {"quality": "hd"}, {"job_id": "health-smoke-1"}
        )
        == []
    )
    assert find_unresolved_job_parameters(command, {}, {"quality": "hd"}, {"job_id": "x"}) == [
        "source_uri"
    ]


# --- the share of a fair-share queue (SubmitJob, FairsharePolicy, ShareAttributes) ---------


def test_share_from_the_corpus_policies():
    assert share_from_policy(answer("scheduling_policies", "tf-jq-fairshare-policy-a1")) == (
        "A1healthsmoke",
        "scheduling policy tf-acc-test-8675309-sp1, prefix A1* (weightFactor 0.1)",
    )
    identifier, _ = share_from_policy(answer("scheduling_policies", "tf-sched-policy-two-shares"))
    assert identifier == "A2"  # the highest weightFactor: the share the policy favours least


def test_share_ties_keep_the_first_listed_and_unweighted_shares_weigh_one():
    policy = {
        "name": "p",
        "fairsharePolicy": {
            "shareDistribution": [
                {"shareIdentifier": "teamA", "weightFactor": 1.0},
                {"shareIdentifier": "teamB"},  # no weightFactor: the default 1.0
                {"shareIdentifier": "fast", "weightFactor": 0.5},
            ]
        },
    }
    assert share_from_policy(policy)[0] == "teamA"


def test_odd_distributions_fall_back_to_the_built_in_share():
    for fairshare in ({}, {"shareDistribution": None}, {"shareDistribution": [None, {"x": 1}]}):
        identifier, source = share_from_policy({"name": "p", "fairsharePolicy": fairshare})
        assert identifier == SMOKE_SHARE_IDENTIFIER
        assert source.startswith("built-in default: scheduling policy p lists no share")


def test_a_prefix_share_stays_within_the_documented_length():
    long_prefix = "A" * SHARE_IDENTIFIER_MAX_CHARS
    policy = {"fairsharePolicy": {"shareDistribution": [{"shareIdentifier": f"{long_prefix}*"}]}}
    assert share_from_policy(policy)[0] == long_prefix
    bare = {"fairsharePolicy": {"shareDistribution": [{"shareIdentifier": "*"}]}}
    assert share_from_policy(bare)[0] == SMOKE_SHARE_IDENTIFIER


def test_choose_share_configured_then_policy_then_lowest_priority():
    policy = answer("scheduling_policies", "tf-sched-policy-two-shares")
    chosen = choose_share(None, None, policy)
    assert (chosen.identifier, chosen.priority) == ("A2", SCHEDULING_PRIORITY_MIN)
    assert chosen.priority_source.startswith("lowest")
    configured = choose_share("ops", 9999, policy)
    assert (configured.identifier, configured.priority) == ("ops", 9999)
    assert configured.source == "configured (smoke.share_identifier)"


def test_quota_share_policies_are_told_apart():
    assert quota_share_only({"quotaSharePolicy": {"idleResourceAssignmentStrategy": "FIFO"}})
    assert not quota_share_only(answer("scheduling_policies", "tf-sched-policy-two-shares"))
    assert not quota_share_only(None)


@pytest.mark.parametrize(
    ("smoke", "problem"),
    [
        ({"share_identifier": "A" * 256}, "share_identifier"),
        ({"share_identifier": "team-a"}, "share_identifier"),  # alphanumeric only
        ({"share_identifier": ""}, "share_identifier"),
        ({"scheduling_priority": -1}, "scheduling_priority"),
        ({"scheduling_priority": 10_000}, "scheduling_priority"),
        ({"max_nodes": 0}, "max_nodes"),
    ],
)
def test_smoke_config_keeps_to_submit_jobs_bounds(smoke, problem):
    with pytest.raises(ConfigError, match=rf"targets\[0\]\.smoke\.{problem}"):
        parse_suite_config({"targets": [{"job_queue": "q", "job_definition": "d", "smoke": smoke}]})


def test_smoke_config_accepts_the_documented_extremes():
    config = parse_suite_config(
        {
            "targets": [
                {
                    "job_queue": "q",
                    "job_definition": "d",
                    "smoke": {"share_identifier": "A" * 255, "scheduling_priority": 9999},
                },
                {
                    "name": "t2",
                    "job_queue": "q",
                    "job_definition": "d",
                    "smoke": {"share_identifier": "lowCpu*", "scheduling_priority": 0},
                },
            ]
        }
    )
    assert config.targets[0].smoke.max_nodes == 2


# --- how many nodes (NodeOverrides.numNodes) -----------------------------------------------


def layout(shape_id: str) -> tuple[list[tuple[int | None, bool]], int | None, int | None]:
    jd = JobDefinitionView.parse(answer("job_definitions", shape_id))
    return [(r.first, r.open_end) for r in jd.node_ranges], jd.main_node, jd.num_nodes


@pytest.mark.parametrize(
    ("shape_id", "num_nodes", "override"),
    [
        ("tf-node-properties-advanced", 2, True),  # "0:" and "1:", main node 1, 4 nodes
        ("docs-gromacs-mnp", 2, False),  # "0:1": nothing open at the top
        ("cdk-multinode-two-ranges-r4", 21, False),  # "0:10" and "11:20"
        ("docs-multicontainer-mnp", 6, False),  # "0:5"
        ("tf-node-properties-ecs", 1, False),  # "0:" with 1 node: already the fewest
    ],
)
def test_choose_nodes_for_the_corpus_layouts(shape_id, num_nodes, override):
    ranges, main, nodes = layout(shape_id)
    chosen = choose_nodes(ranges, main, nodes)
    assert (chosen.num_nodes, chosen.override) == (num_nodes, override)


@pytest.mark.parametrize(
    ("targets", "main", "expected"),
    [
        ([":"], 0, 1),  # the whole job in one open range
        (["0:3", "4:"], 0, 5),  # the open range starts at 4: an override needs 5 nodes
        (["0:0", "1:"], 0, 2),  # a main node and open workers
        (["0:", "2:5"], 3, 4),  # main node 3 must be below the override
        (["0:3"], 0, None),  # no open upper bound: no override is valid
        (["x:"], 0, None),  # not a node range Batch accepts
    ],
)
def test_smallest_node_override_follows_node_overrides_rules(targets, main, expected):
    ranges = [parse_target_nodes(t)[0::2] for t in targets]
    assert smallest_node_override(ranges, main) == expected


def test_no_node_override_on_fargate():
    chosen = choose_nodes([(0, True)], 0, 4, on_fargate=True)
    assert (chosen.num_nodes, chosen.override) == (4, False)
    assert "Fargate" in chosen.why
