"""Waiting jobs judged on arrival by the Batch events function: a job that enters RUNNABLE
and can never run is named with its constraint from its own event, long before Batch's
blocked-queue event; one incident per (target, constraint), storm-safe, the queue's facts
read once per few minutes.

Events are AWS's documented "Batch Job State Change" example, a RUNNABLE job
(events/batch/job-state-change.json), with the requirements a test sets; the worlds and the
calls the emulator lacks are support.placement's. Instance type figures: m4.large 2 vCPUs,
8192 MiB installed (moto's stored DescribeInstanceTypes answer and the Batch
memory-management page's example), of which ~7953 MiB are available to containers.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from support.batch_events import Resources, context, documented, queue_arn, sqs_batch
from support.placement import UNDETERMINED, Answers, placement_world, runnable_job
from support.sns import document_of

from batch_health.aws.sessions import AwsSessions
from batch_health.demo import JOBDEF, QUEUE, WorldBuilder
from batch_health.domain.placement_report import CANCEL_PREFIX
from batch_health.runtime import monitor
from batch_health.runtime.batch_events import handle
from batch_health.runtime.monitor import Runtime
from batch_health.runtime.placement_events import FACTS_TTL_S, FactsCache
from batch_health.runtime.settings import BatchEventSettings

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

REGION = "us-east-1"
T0 = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
MEMORY_PK = "video#RUNNABLE_BACKLOG_CHECK#JOB_RESOURCE_REQUIREMENT#MEMORY_ABOVE_INSTANCE_TYPES"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def arrival(job_id: str, *, memory: str = "256", vcpus: str = "2", **kw: Any) -> dict[str, Any]:
    """The documented RUNNABLE state change of job `job_id` on the monitored queue."""
    event = documented("job-state-change")
    event["id"] = f"ev-{job_id}"
    detail = runnable_job(job_id, memory=memory, vcpus=vcpus, **kw)
    detail["jobQueue"] = queue_arn(QUEUE, REGION)
    detail["jobDefinition"] = f"arn:aws:batch:{REGION}:123456789012:job-definition/{JOBDEF}:1"
    event["detail"] = detail
    return event


def blocked_form(event: dict[str, Any], reason: str) -> dict[str, Any]:
    """The same job in Batch's "Job Queue Blocked" event (its documented shape)."""
    out = copy.deepcopy(event)
    out.update({"id": event["id"] + "-blocked", "detail-type": "Batch Job Queue Blocked"})
    out["detail"]["statusReason"] = reason
    return out


@pytest.fixture
def fn(aws, monkeypatch) -> Iterator[SimpleNamespace]:
    monitor.reset_runtime()
    world = WorldBuilder(None, region=REGION)
    answers = Answers().install(monkeypatch)
    res = Resources(REGION)
    env = {
        "AWS_REGION": REGION,
        "JOB_QUEUE": QUEUE,
        "JOB_DEFINITION": JOBDEF,
        "TARGET_NAME": "video",
        "ALERT_TOPIC_ARN": res.topic_arn,
        "INCIDENT_TABLE_NAME": res.table,
        "POWERTOOLS_METRICS_NAMESPACE": "BatchHealth",
    }
    clock = Clock()
    rt = Runtime(sessions=AwsSessions(REGION), placement_facts=FactsCache(clock=clock))

    def run(events: list[dict[str, Any]], prefix: str = "m", **changes: str) -> dict[str, Any]:
        settings = BatchEventSettings.from_env({**env, **changes})
        return handle(sqs_batch(events, prefix), context(REGION), settings, rt=rt, now=T0)

    yield SimpleNamespace(
        run=run, res=res, rt=rt, world=world, answers=answers, clock=clock, env=env
    )
    monitor.reset_runtime()


def test_a_job_that_can_never_run_is_named_from_its_runnable_event(fn):
    placement_world(fn.world, ["m4.large"])
    assert fn.run([arrival("j-mem", memory="8192")]) == {"batchItemFailures": []}
    [envelope] = fn.res.messages()
    doc = document_of(envelope)
    assert (doc["event"], doc["check"], doc["jobs"]) == ("FAIL", "RUNNABLE_BACKLOG_CHECK", 1)
    assert "1 job can never run [MEMORY_ABOVE_INSTANCE_TYPES]" in doc["detail"]
    assert "job asks 8192 MiB; the largest allowed type m4.large gives ~7953 MiB" in doc["detail"]
    assert "lower MEMORY to <= 7953" in doc["hints"][0]
    assert fn.res.item(MEMORY_PK)["state"]["S"] == "FAIL"


def test_batchs_later_undetermined_block_of_the_same_job_is_the_same_incident(fn):
    placement_world(fn.world, ["m4.large"])
    first = arrival("j-mem", memory="8192")
    fn.run([first])
    fn.res.messages()
    assert fn.run([blocked_form(first, UNDETERMINED)], prefix="b") == {"batchItemFailures": []}
    assert fn.res.messages() == []  # one job, one wait: counted once, announced once
    assert fn.res.item(MEMORY_PK)["jobs"]["N"] == "1"


def test_a_blocked_event_alone_quotes_batch_and_names_the_memory_boundary(fn):
    placement_world(fn.world, ["m4.large"])
    fn.run([blocked_form(arrival("j-mem", memory="8192"), UNDETERMINED)])
    [envelope] = fn.res.messages()
    detail = document_of(envelope)["detail"]
    assert "[MEMORY_ABOVE_INSTANCE_TYPES]" in detail
    assert f'Batch says "{UNDETERMINED}"' in detail


def test_a_storm_of_arrivals_is_one_incident_and_one_read_of_the_queue(fn):
    placement_world(fn.world, ["m4.large"])
    jobs = [arrival(f"j-{n}", memory="8192") for n in range(60)]
    assert fn.run(jobs[:30], prefix="a") == {"batchItemFailures": []}
    assert fn.run(jobs[30:], prefix="b") == {"batchItemFailures": []}
    assert len(fn.res.messages()) == 1
    assert fn.res.item(MEMORY_PK)["jobs"]["N"] == "60"
    assert fn.rt.placement_facts.reads == 1  # the second batch is served from the cache
    # The On-Demand Standard quota (L-1216C47A) of its EC2 environment, read once.
    assert [c["QuotaCode"] for c in fn.answers.calls["GetServiceQuota"]] == ["L-1216C47A"]


def test_two_constraints_are_two_incidents(fn):
    placement_world(fn.world, ["m4.large"], max_vcpus=4)
    fn.run([arrival("j-mem", memory="8192"), arrival("j-cpu", vcpus="16")])
    subjects = sorted(document_of(e)["detail"] for e in fn.res.messages())
    assert len(subjects) == 2
    assert any("[MEMORY_ABOVE_INSTANCE_TYPES]" in s for s in subjects)
    assert any("[VCPU_ABOVE_INSTANCE_TYPES]" in s or "[ABOVE_MAX_VCPUS]" in s for s in subjects)


def test_arrivals_that_fit_or_wait_for_capacity_say_nothing(fn):
    placement_world(fn.world, ["m4.large"])
    assert fn.run([arrival("j-ok"), arrival("j-ok2", memory="7000")]) == {"batchItemFailures": []}
    assert fn.res.messages() == []


def test_optimal_is_expanded_so_a_large_arrival_is_not_called_unplaceable(fn):
    placement_world(fn.world, ["optimal"])
    fn.run([arrival("j-opt", memory="8192")])
    assert fn.res.messages() == []


def test_facts_are_read_again_after_their_time(fn):
    placement_world(fn.world, ["m4.large"])
    fn.run([arrival("j-1")])
    fn.clock.now += FACTS_TTL_S - 1
    fn.run([arrival("j-2")], prefix="b")
    assert fn.rt.placement_facts.reads == 1
    fn.clock.now += 2
    fn.run([arrival("j-3")], prefix="c")
    assert fn.rt.placement_facts.reads == 2


def test_unreadable_facts_leave_arrivals_alone_and_blocked_events_to_batchs_reason(fn):
    placement_world(fn.world, ["m4.large"])
    fn.answers.deny["DescribeInstanceTypes"] = "UnauthorizedOperation"
    reason = "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT - The job resource requirement is higher"
    job = arrival("j-mem", memory="8192")
    assert fn.run([job, blocked_form(job, reason)]) == {"batchItemFailures": []}
    [envelope] = fn.res.messages()
    doc = document_of(envelope)
    assert doc["reason_class"] == "job larger than any instance"
    assert "can never run" not in doc["detail"]  # not guessed without the instance types
    assert fn.res.item("video#RUNNABLE_BACKLOG_CHECK#JOB_RESOURCE_REQUIREMENT")["jobs"]["N"] == "1"


def test_cancel_unplaceable_cancels_on_arrival_and_its_failed_event_is_no_second_incident(fn):
    placement_world(fn.world, ["m4.large"])
    fn.run([arrival("j-mem", memory="8192")], CANCEL_UNPLACEABLE="true")
    [cancel] = fn.answers.calls["CancelJob"]
    assert cancel["jobId"] == "j-mem"
    assert cancel["reason"].startswith(f"{CANCEL_PREFIX} (MEMORY_ABOVE_INSTANCE_TYPES)")
    [envelope] = fn.res.messages()
    assert "Cancelled (CancelUnplaceable): j-mem." in document_of(envelope)["detail"]
    # Batch then reports the job FAILED with that reason: it is already in this incident.
    ended = arrival("j-mem", memory="8192")
    ended["detail"].update(status="FAILED", statusReason=cancel["reason"], stoppedAt=1)
    assert fn.run([ended], prefix="f") == {"batchItemFailures": []}
    assert fn.res.messages() == []


def test_without_the_option_nothing_is_cancelled(fn):
    placement_world(fn.world, ["m4.large"])
    fn.run([arrival("j-mem", memory="8192")])
    assert "CancelJob" not in fn.answers.calls


def test_a_smoke_jobs_arrival_is_left_to_the_smoke_check(fn):
    placement_world(fn.world, ["m4.large"])
    smoke = arrival("j-smoke", memory="8192")
    smoke["detail"]["jobName"] = "health-smoke-1"
    assert fn.run([smoke]) == {"batchItemFailures": []}
    assert fn.res.messages() == []


def test_an_array_jobs_children_are_one_waiting_job(fn):
    placement_world(fn.world, ["m4.large"])
    children = []
    for index in range(3):
        child = arrival(f"j-arr:{index}", memory="8192")
        child["detail"]["arrayProperties"] = {"index": index}
        children.append(child)
    fn.run(children)
    [envelope] = fn.res.messages()
    assert document_of(envelope)["jobs"] == 1
    assert json.loads(fn.res.item(MEMORY_PK)["example"]["S"])["job_id"] == "j-arr"


def test_the_incident_ends_when_the_scheduled_check_passes(fn):
    from batch_health.models import CheckResult, Report, Status, SuiteReport
    from batch_health.notify.job_incidents import JobIncidentStore
    from batch_health.notify.job_messages import resolve_by_checks

    placement_world(fn.world, ["m4.large"])
    fn.run([arrival("j-mem", memory="8192")])
    fn.res.messages()
    later = T0 + timedelta(minutes=10)
    passed = CheckResult("RUNNABLE_BACKLOG_CHECK", Status.OK, "no job RUNNABLE")
    suite = SuiteReport([Report("video", REGION, [passed], [], later, later)], later, later)
    store = JobIncidentStore(fn.rt.sessions.client("dynamodb"), fn.res.table)
    resolve_by_checks(suite, store, fn.res.topic_arn, fn.rt.sessions)
    [envelope] = fn.res.messages()
    assert document_of(envelope)["event"] == "RESOLVED"


def test_another_jobs_success_does_not_end_it(fn):
    placement_world(fn.world, ["m4.large"])
    fn.run([arrival("j-mem", memory="8192")])
    fn.res.messages()
    done = arrival("j-small")
    done["detail"].update(status="SUCCEEDED", stoppedAt=int(T0.timestamp() * 1000) + 3_600_000)
    assert fn.run([done], prefix="s") == {"batchItemFailures": []}
    assert fn.res.messages() == []
    assert fn.res.item(MEMORY_PK)["state"]["S"] == "FAIL"


def test_an_array_that_can_never_run_is_cancelled_once_through_its_parent(fn):
    placement_world(fn.world, ["m4.large"])
    children = []
    for index in range(3):
        child = arrival(f"j-arr:{index}", memory="8192")
        child["detail"]["arrayProperties"] = {"index": index}
        children.append(child)
    fn.run(children, CANCEL_UNPLACEABLE="true")
    assert [c["jobId"] for c in fn.answers.calls["CancelJob"]] == ["j-arr"]
    [envelope] = fn.res.messages()
    assert "Cancelled (CancelUnplaceable): j-arr." in document_of(envelope)["detail"]
