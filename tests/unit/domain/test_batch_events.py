"""Batch's EventBridge events, read: AWS's documented examples and the fields taken from them."""

from __future__ import annotations

import pytest
from support.batch_events import documented, failed

from batch_health.domain.batch_events import (
    EventKind,
    InvalidBatchEvent,
    parse_batch_event,
)
from batch_health.domain.status_reasons import ReasonClass


def test_the_documented_job_state_change_example_is_read_as_aws_wrote_it():
    event = parse_batch_event(documented("job-state-change"))
    assert event.detail_type == "Batch Job State Change"
    assert event.kind is EventKind.RUNNABLE and event.waits  # judged on arrival
    assert event.queue_name == "PexjEHappyPathCanary2JobQueue"
    assert event.queue_account == "123456789012"
    assert event.job_definition_name == "first-run-job-definition"
    # Its arrival and a later block of its queue are one wait: one key.
    assert event.key == "123456789012:4c7599ae-0a82-49aa-ba5a-4727fcce14a8:BLOCKED"
    assert event.key == parse_batch_event(documented("job-queue-blocked")).key
    assert not event.is_smoke
    assert event.log_stream() == ""  # the job has not run


def test_the_documented_queue_blocked_example_is_a_block():
    event = parse_batch_event(documented("job-queue-blocked"))
    assert event.kind is EventKind.BLOCKED
    assert event.detail.statusReason == "blocked-reason"  # AWS's placeholder


def test_a_failed_job_gives_its_reason_log_stream_and_log_group():
    event = parse_batch_event(documented("job-failed"))
    assert event.kind is EventKind.FAILED
    assert event.reason().kind is ReasonClass.LOG_GROUP_MISSING
    assert event.log_stream().startswith("first-run-job-definition/default/")
    assert event.log_group() == "/aws/batch/job"
    assert event.occurred_at.isoformat() == "2022-01-11T23:46:52+00:00"


def test_the_newest_attempt_log_stream_wins():
    body = documented("job-failed")
    body["detail"]["container"].pop("logStreamName")
    body["detail"]["attempts"].append({"container": {"logStreamName": "jd/default/second"}})
    assert parse_batch_event(body).log_stream() == "jd/default/second"


def test_hint_names_come_from_the_event_with_the_targets_as_fallback():
    event = parse_batch_event(
        failed(1, queue="q1", region="eu-west-1", reason="x", log_group="/aws/batch/w")
    )
    names = event.hint_context("fallback-jd", "/fallback")
    assert (names.job_queue, names.job_definition, names.log_group) == (
        "q1",
        "academy-video-batch-jobdef",
        "/aws/batch/w",
    )
    assert names.image.endswith("amazonlinux:latest")


def test_smoke_jobs_are_known_by_name_or_tag():
    by_name = failed(2, queue="q", region="eu-west-1", reason="", name="health-smoke-20261127")
    assert parse_batch_event(by_name).is_smoke
    by_tag = failed(3, queue="q", region="eu-west-1", reason="")
    by_tag["detail"]["tags"] = {"batch-health:smoke": "true"}
    assert parse_batch_event(by_tag).is_smoke


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda e: e.pop("detail"), "detail: Field required"),
        (lambda e: e.update(source="aws.ecs"), "source: Input should be 'aws.batch'"),
        (lambda e: e["detail"].pop("jobQueue"), "detail.jobQueue: Field required"),
        (lambda e: e.update(time="yesterday"), "time: Input should be a valid datetime"),
    ],
)
def test_a_malformed_event_is_named_by_field(change, named):
    body = documented("job-failed")
    change(body)
    with pytest.raises(InvalidBatchEvent) as err:
        parse_batch_event(body)
    assert named in str(err.value)


def test_aws_may_add_fields():
    body = documented("job-failed")
    body["new-envelope-field"] = 1
    body["detail"]["newDetailField"] = {"x": 1}
    assert parse_batch_event(body).kind is EventKind.FAILED


def test_a_job_counts_once_whichever_event_announced_it():
    first = documented("job-queue-blocked")
    again = {**first, "id": "another-event-id", "time": "2022-01-11T23:41:40Z"}
    assert parse_batch_event(first).key == parse_batch_event(again).key
    failed_later = documented("job-failed")
    assert parse_batch_event(failed_later).key != parse_batch_event(first).key
