"""AWS Batch's reasons as AWS writes them: every text in tests/data/reason_corpus.json (each
with the public page it was read from) gets its class, its blocked-queue code, a fix for
that class, and a quote that keeps the words that decided the class."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from batch_health.checks import REGISTRY
from batch_health.domain.reason_hints import FIXES, OWNING_CHECK, HintContext, reason_hint
from batch_health.domain.status_reasons import (
    ClassifiedReason,
    ReasonClass,
    classify_ce_reason,
    classify_reason,
)
from batch_health.text import one_line

CORPUS_PATH = Path(__file__).resolve().parents[2] / "data" / "reason_corpus.json"
CORPUS: list[dict[str, Any]] = json.loads(CORPUS_PATH.read_text())
FIELDS = {
    "statusReason",
    "container.reason",
    "queue blocked reason",
    "compute environment statusReason",
}
ORIGINS = {
    "batch_user_guide",
    "batch_api_reference",
    "ecs_stopped_task_errors",
    "ecs_developer_guide",
    "aws_knowledge_center",
    "project_issue",
}
# Classes a text falls into when it names no cause of its own: they need no corpus entry.
FALLBACKS = {ReasonClass.OTHER, ReasonClass.CE_INVALID}
# A word of each class's fix that only a fix for that cause would say.
HINT_WORDS: dict[ReasonClass, str] = {
    ReasonClass.LOG_GROUP_MISSING: "create-log-group",
    ReasonClass.LOGS_UNREACHABLE: "logs.eu-west-1.amazonaws.com",
    ReasonClass.LOGS_DENIED: "logs:PutLogEvents",
    ReasonClass.AWSLOGS_OPTIONS: "logConfiguration",
    ReasonClass.CREDENTIALS_ENDPOINT: "169.254.170.2",
    ReasonClass.ECR_DENIED: "repository policy",
    ReasonClass.IMAGE_NOT_FOUND: "tag that exists",
    ReasonClass.IMAGE_PLATFORM: "architecture",
    ReasonClass.DOCKER_HUB_RATE_LIMIT: "pull-through cache",
    ReasonClass.REGISTRY_UNREACHABLE: "ecr.dkr",
    ReasonClass.IMAGE_PULL: "ecr:BatchGetImage",
    ReasonClass.SECRET_SSM: "ssm:GetParameters",
    ReasonClass.SECRET_MANAGER: "secretsmanager:GetSecretValue",
    ReasonClass.SECRET_KMS: "kms:Decrypt",
    ReasonClass.SECRET_TIMEOUT: "route to Secrets Manager",
    ReasonClass.DISK_FULL: "volume size",
    ReasonClass.ENTRYPOINT_NOT_FOUND: "ENTRYPOINT",
    ReasonClass.CONTAINER_RUNTIME: "onReason",
    ReasonClass.TASK_NOT_STARTED: "container.reason",
    ReasonClass.OUT_OF_MEMORY: "MEMORY",
    ReasonClass.JOB_ROLE_NOT_ASSUMABLE: "ecs-tasks.amazonaws.com",
    ReasonClass.HOST_INTERRUPTED: "Host EC2*",
    ReasonClass.ENI_TIMEOUT: "free IPs",
    ReasonClass.ATTEMPT_TIMEOUT: "attemptDurationSeconds",
    ReasonClass.EXIT_CODE: "aws logs tail",
    ReasonClass.CE_MAX_RESOURCE: "maxvCpus=<n>",
    ReasonClass.JOB_RESOURCE_REQUIREMENT: "larger instance types",
    ReasonClass.SERVICE_ROLE_PERMISSIONS: "AWSBatchServiceRole",
    ReasonClass.INSTANCE_CONFIGURATION_UNSUPPORTED: "supported instance types",
    ReasonClass.SERVICE_ENVIRONMENT_MAX_RESOURCE: "service environment",
    ReasonClass.QUOTA_MANAGEMENT_LIMIT: "quota share",
    ReasonClass.INSUFFICIENT_CAPACITY: "Availability Zones",
    ReasonClass.CE_ACTION_REQUIRED: "INVALID",
    ReasonClass.BLOCKED_UNDETERMINED: "could not tell",
    ReasonClass.CE_SERVICE_ROLE: "batch.amazonaws.com",
    ReasonClass.CE_INSTANCE_PROFILE: "instance profile",
    ReasonClass.CE_LAUNCH_TEMPLATE: "MIME multipart",
    ReasonClass.CE_SPOT_FLEET_ROLE: "AmazonEC2SpotFleetTaggingRole",
    ReasonClass.CE_NETWORK: "one VPC",
    ReasonClass.CE_ECS_CLUSTER: "ECS agent",
    ReasonClass.CE_EKS: "access entry",
    ReasonClass.CE_INVALID: "statusReason",
    ReasonClass.SUBMIT_REJECTED: "container overrides",
}
CTX = HintContext(
    region="eu-west-1",
    job_queue="render-queue",
    job_definition="render-jobdef",
    image="123456789012.dkr.ecr.eu-west-1.amazonaws.com/render:2.1",
    execution_role="render-execution-role",
    log_group="/aws/batch/render",
    compute_environments=("render-ce-spot",),
    job_id="0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
)


def entry_id(entry: dict[str, Any]) -> str:
    return f"{CORPUS.index(entry):03d}-{entry['class']}"


def classified(entry: dict[str, Any]) -> ClassifiedReason:
    """The text, given to the classifier in the field Batch reports it in."""
    if entry["field"] == "container.reason":
        return classify_reason(None, entry["text"])
    if entry["field"] == "compute environment statusReason":
        return classify_ce_reason(entry["text"])
    return classify_reason(entry["text"])


@pytest.mark.parametrize("entry", CORPUS, ids=entry_id)
def test_the_reason_gets_its_class(entry: dict[str, Any]):
    reason = classified(entry)
    assert reason.kind is ReasonClass[entry["class"]], reason.deciding_words
    assert reason.code == entry.get("code", "")
    assert reason.by_time_limit is entry.get("by_time_limit", False)


CONTAINER_REASONS = [e for e in CORPUS if e["field"] == "container.reason"]


@pytest.mark.parametrize("status", ["Task failed to start", "Essential container in task exited"])
@pytest.mark.parametrize("entry", CONTAINER_REASONS, ids=entry_id)
def test_a_container_reason_outweighs_the_jobs_generic_status(entry: dict[str, Any], status):
    """Batch writes a generic statusReason next to the container's reason; the container's
    reason decides."""
    reason = classify_reason(status, entry["text"])
    assert reason.kind is ReasonClass[entry["class"]]
    assert one_line(reason.deciding_words) in reason.quote(120)


@pytest.mark.parametrize("entry", CORPUS, ids=entry_id)
def test_the_fix_is_the_one_for_the_class(entry: dict[str, Any]):
    reason = classified(entry)
    hint = reason_hint(reason, CTX)
    assert HINT_WORDS[reason.kind] in hint
    assert hint != reason_hint(ClassifiedReason(ReasonClass.OTHER, entry["text"]), CTX)


@pytest.mark.parametrize("limit", [80, 120])
@pytest.mark.parametrize("entry", CORPUS, ids=entry_id)
def test_the_quoted_reason_keeps_the_words_that_decide_its_class(entry: dict[str, Any], limit):
    """The quoted reason is never truncated before the words that decide its class."""
    reason = classified(entry)
    quote = reason.quote(limit)
    assert reason.deciding_words.strip()
    assert one_line(reason.deciding_words) in quote
    assert len(quote) <= limit
    assert one_line(reason.deciding_words) in reason.describe(limit)


def test_every_class_but_the_fallbacks_has_a_real_reason():
    counts = Counter(ReasonClass[e["class"]] for e in CORPUS)
    assert {kind for kind in ReasonClass if not counts[kind]} == FALLBACKS


def test_every_reason_names_where_it_was_read():
    for entry in CORPUS:
        url = urlparse(entry["source"])
        assert (url.scheme, bool(url.netloc)) == ("https", True), entry["source"]
        assert entry["origin"] in ORIGINS, entry
        assert entry["field"] in FIELDS, entry
        assert entry["class"] in ReasonClass.__members__, entry
        assert entry["text"] == entry["text"].strip() and entry["text"], entry


def test_the_corpus_is_large_and_without_repeats():
    assert len(CORPUS) >= 60
    pairs = [(e["text"], e["source"]) for e in CORPUS]
    assert len(set(pairs)) == len(pairs)


def test_every_class_has_a_fix_and_its_owner_is_a_real_check():
    assert set(FIXES) == set(ReasonClass)
    assert set(HINT_WORDS) == set(ReasonClass) - {ReasonClass.OTHER}
    checks = {check.name for check in REGISTRY}
    assert set(OWNING_CHECK.values()) <= checks
