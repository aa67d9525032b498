"""Array and multi-node jobs through the events function: a failed parent and its failed
children are one job, in one incident, with the children's reasons counted; in any order of
arrival, across batches, and however often SQS delivers them again.

The events are the documented FAILED event with the fields AWS documents for children and
parents (tests/support/batch_events.py names the pages): array children `<parent>:<index>`
with `arrayProperties.index`, the parent with `arrayProperties.size` and `statusSummary`
(https://docs.aws.amazon.com/batch/latest/userguide/array_jobs.html); nodes
`<parent>#<node>` with `nodeDetails` and the parent with `nodeProperties`
(https://docs.aws.amazon.com/batch/latest/userguide/multi-node-parallel-jobs.html). Each
child is a job whose state changes, and Batch sends an event for every such change
(https://docs.aws.amazon.com/batch/latest/userguide/batch_job_events.html).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest
from support.batch_events import (
    Resources,
    array_child,
    array_parent,
    context,
    failed,
    multi_node_parent,
    node_failed,
    sqs_batch,
    succeeded,
)
from support.sns import document_of

from batch_health.aws.sessions import AwsSessions
from batch_health.runtime.batch_events import handle
from batch_health.runtime.monitor import Runtime
from batch_health.runtime.settings import BatchEventSettings

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

REGION, QUEUE, ACCOUNT = "us-east-1", "transcode-queue", "123456789012"
OOM = "OutOfMemoryError: Container killed due to memory usage"
EXIT_1 = ""  # the documented event's own: exit code 1, "Essential container in task exited"
PARENT = "00000000-0000-4000-8000-000000000001"
Run = Callable[[list[dict[str, Any]], str], dict[str, Any]]


@pytest.fixture
def run(aws) -> tuple[Run, Resources]:
    res = Resources(REGION)
    settings = BatchEventSettings.from_env(
        {
            "AWS_REGION": REGION,
            "JOB_QUEUE": QUEUE,
            "JOB_DEFINITION": "academy-video-batch-jobdef",
            "TARGET_NAME": "transcode",
            "ALERT_TOPIC_ARN": res.topic_arn,
            "INCIDENT_TABLE_NAME": res.table,
        }
    )
    rt = Runtime(sessions=AwsSessions(REGION))

    def invoke(events: list[dict[str, Any]], prefix: str = "m") -> dict[str, Any]:
        return handle(sqs_batch(events, prefix), context(REGION), settings, rt=rt)

    return invoke, res


def on_queue(make: Callable[..., dict[str, Any]], *args: Any, reason: str = EXIT_1) -> Any:
    kw: dict[str, Any] = {"queue": QUEUE, "region": REGION, "name": "render"}
    if reason:
        kw["reason"] = reason
    else:
        kw.setdefault("reason", "Essential container in task exited")
        kw["status_reason"] = "Essential container in task exited"
    return make(*args, **kw)


def array_job() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Array job 1 of 8 children: children 2 and 5 out of memory, child 7 exit code 1."""
    children = [
        on_queue(array_child, 1, 2, reason=OOM),
        on_queue(array_child, 1, 5, reason=OOM),
        on_queue(array_child, 1, 7),
    ]
    return on_queue(array_parent, 1, 8, 3, reason=""), children


def multi_node_job() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Multi-node job 1 of 8 nodes: nodes 3 and 6 out of memory, the main node exit code 1."""
    nodes = [
        on_queue(node_failed, 1, 3, reason=OOM),
        on_queue(node_failed, 1, 6, reason=OOM),
        on_queue(node_failed, 1, 0),
    ]
    return on_queue(multi_node_parent, 1, 8, reason=""), nodes


def family_item(res: Resources) -> dict[str, Any]:
    return res.item(f"family#{ACCOUNT}:{PARENT}")


def incident_jobs(res: Resources, reason_class: str) -> int:
    item = res.item(f"transcode#JOB_FAILURES_CHECK#{reason_class}")
    return int(item.get("jobs", {}).get("N", "0"))


@pytest.mark.parametrize(
    ("job", "said"),
    [
        (array_job, "Array job render: 3 of 8 children failed: 2 out of memory, 1 application"),
        (multi_node_job, "Multi-node job render: 3 of 8 nodes failed: 2 out of memory, 1 appl"),
    ],
    ids=["array", "multi-node"],
)
def test_a_family_is_one_job_in_one_incident_with_its_childrens_reasons(run, job, said):
    invoke, res = run
    parent, children = job()
    assert invoke([*children, parent]) == {"batchItemFailures": []}
    [envelope] = res.messages()
    doc = document_of(envelope)
    assert (doc["event"], doc["jobs"], doc["reason_class"]) == ("FAIL", 1, "out of memory")
    assert doc["detail"].startswith("1 job failed: out of memory")
    assert said in doc["detail"]
    assert f"newest: render ({PARENT})" in doc["detail"]  # the parent is what was counted
    assert incident_jobs(res, "OUT_OF_MEMORY") == 1
    assert incident_jobs(res, "EXIT_CODE") == 0  # the exit-code child opened nothing
    family = family_item(res)
    assert (family["failed"], family["c_OUT_OF_MEMORY"], family["c_EXIT_CODE"]) == (
        {"N": "3"},
        {"N": "2"},
        {"N": "1"},
    )


def arrivals() -> list[tuple[str, list[list[int]]]]:
    """Ways the parent (0) and its children (1-3) may arrive: orders, batch splits, and a
    batch delivered again."""
    orders = [list(p) for p in itertools.permutations(range(4))]
    ways = [(f"one batch {o}", [o]) for o in orders[::5]]
    ways += [(f"one at a time {o}", [[i] for i in o]) for o in orders[::7]]
    ways += [("parent first, children later", [[0], [1, 2, 3]])]
    ways += [("children first, parent later", [[1, 2], [3], [0]])]
    ways += [("all, then all again", [[0, 1, 2, 3], [3, 2, 1, 0]])]
    ways += [("a child again with the parent", [[1, 2], [2, 3, 0], [1]])]
    return ways


@pytest.mark.parametrize("job", [array_job, multi_node_job], ids=["array", "multi-node"])
@pytest.mark.parametrize(("name", "batches"), arrivals(), ids=[w[0] for w in arrivals()])
def test_any_arrival_and_redelivery_give_the_same_counts(run, job, name, batches):
    invoke, res = run
    parent, children = job()
    events = [parent, *children]
    for i, batch in enumerate(batches):
        assert invoke([events[j] for j in batch], f"b{i}") == {"batchItemFailures": []}
    messages = res.messages()
    assert len(messages) == 1, name  # one incident, whichever event came first
    doc = document_of(messages[0])
    assert doc["event"] == "FAIL"
    classes = ("OUT_OF_MEMORY", "EXIT_CODE", "OTHER")
    assert sum(incident_jobs(res, c) for c in classes) == 1, name
    family = family_item(res)
    assert family["failed"] == {"N": "3"}, name
    assert (family["c_OUT_OF_MEMORY"], family["c_EXIT_CODE"]) == ({"N": "2"}, {"N": "1"})
    assert family["size"] == {"N": "8"}


def test_plain_jobs_beside_a_family_count_as_before(run):
    invoke, res = run
    parent, children = array_job()
    plain = [failed(n, queue=QUEUE, region=REGION, reason=OOM) for n in (10, 11)]
    invoke([*plain, *children, parent])
    [envelope] = res.messages()
    doc = document_of(envelope)
    assert doc["jobs"] == 3  # two plain jobs and one array job
    assert incident_jobs(res, "OUT_OF_MEMORY") == 3
    assert res.item(f"family#{ACCOUNT}:00000000-0000-4000-8000-000000000010") == {}


def test_a_childs_success_does_not_resolve_its_familys_incident(run):
    invoke, res = run
    _parent, children = array_job()
    invoke(children)
    res.messages()
    ok = succeeded(1, queue=QUEUE, region=REGION, at_ms=children[0]["detail"]["stoppedAt"] + 1)
    ok["detail"]["jobId"] += ":0"
    ok["detail"]["arrayProperties"] = {"index": 0}
    ok["detail"]["stoppedAt"] += 3_600_000  # an hour later: past any quiet period
    assert invoke([ok], "ok") == {"batchItemFailures": []}
    assert res.messages() == []
    assert res.item("transcode#JOB_FAILURES_CHECK#OUT_OF_MEMORY")["state"] == {"S": "FAIL"}
