"""Incidents per (target, check): notify once when one starts, remind while it lasts, resolve.

State lives in DynamoDB so it survives restarts and is shared by overlapping runs (two
deployments, a manual invoke during a scheduled run). Every write is conditional on the
`version` it read: of two runs that saw the same transition, only the one whose write
wins publishes; the other re-reads and finds nothing left to say. When the table cannot
be reached the run notifies anyway (fail open) and counts it in `state_errors`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError

from batch_health.aws.dynamodb import conditional_write, get_item
from batch_health.aws.errors import AWS_ERRORS, classify
from batch_health.aws.sessions import AwsSessions
from batch_health.models import CheckResult, Report, Status, SuiteReport, iso, utc_now
from batch_health.notify import sns
from batch_health.notify.messages import Event, Notification, console_links, subject
from batch_health.text import clip

logger = logging.getLogger(__name__)

OK, FAIL = "OK", "FAIL"
STATE_TTL = timedelta(days=30)  # items of removed targets or checks expire on their own
MAX_WRITE_ATTEMPTS = 3  # re-read and decide again after losing a conditional write
# What an on-call reader reads in one message; SNS's own limit is kept by publish_request.
DETAIL_MAX, HINT_MAX, HINTS_MAX = 1000, 1000, 20
FAIL_OPEN_NOTE = (
    "incident state is unavailable (DynamoDB): this message repeats every run until it is back"
)
STATELESS_NOTE = "incident tracking is off (no incident table): this message repeats every run"


@dataclass(frozen=True)
class NotifyConfig:
    topic_arn: str | None  # the stack's SNS topic; None: nothing is published
    table_name: str | None  # the incident table; None: stateless, every FAIL is published
    critical_checks: tuple[str, ...] = ("LOG_GROUP_CHECK", "SMOKE_SUBMIT_CHECK")
    failure_threshold: int = 1  # consecutive failed runs before an incident opens
    remind_after_minutes: int = 360  # 0: no reminders

    def __post_init__(self) -> None:
        if self.failure_threshold < 1:
            raise ValueError(f"failure_threshold must be >= 1, got {self.failure_threshold}")
        if self.remind_after_minutes < 0:
            raise ValueError(f"remind_after_minutes must be >= 0, got {self.remind_after_minutes}")

    @property
    def remind_after(self) -> timedelta | None:
        return timedelta(minutes=self.remind_after_minutes) if self.remind_after_minutes else None


@dataclass
class NotifyOutcome:
    published: list[dict[str, Any]]  # {"target", "check", "event", "subject", "message_id"}
    failures: list[str]  # one line per failed channel or state operation
    state_errors: int = 0  # items handled without state (table unreachable): fail open


@dataclass(frozen=True)
class IncidentState:
    """One (target, check) as the table remembers it; version 0 means no item yet."""

    state: str = OK
    failures: int = 0  # consecutive failed runs
    since: datetime | None = None  # first failed run of the current streak
    notified_at: datetime | None = None  # last FAIL or REMINDER sent
    reminders: int = 0
    version: int = 0


def decide(
    prev: IncidentState,
    status: Status,
    now: datetime,
    threshold: int = 1,
    remind_after: timedelta | None = None,
) -> tuple[IncidentState | None, Event | None]:
    """The next state (None: nothing to write) and the event to publish, if any."""
    if status is Status.SKIP:
        return None, None
    version = prev.version + 1
    failing = status is Status.FAIL
    if prev.state == FAIL:
        if not failing:
            return IncidentState(version=version), Event.RESOLVED
        failures = prev.failures + 1
        due = (
            remind_after is not None
            and prev.notified_at is not None
            and now - prev.notified_at >= remind_after
        )
        if due:
            return (
                replace(
                    prev,
                    failures=failures,
                    notified_at=now,
                    reminders=prev.reminders + 1,
                    version=version,
                ),
                Event.REMINDER,
            )
        return replace(prev, failures=failures, version=version), None
    if not failing:
        # A streak shorter than the threshold ended: forget it; otherwise nothing changed.
        return (IncidentState(version=version), None) if prev.failures else (None, None)
    failures = prev.failures + 1
    since = prev.since or now
    if failures >= threshold:
        return IncidentState(FAIL, failures, since, now, 0, version), Event.FAIL
    return IncidentState(OK, failures, since, None, 0, version), None


class StateUnavailable(Exception):
    """The incident table could not be read or written (not a lost conditional write)."""


class IncidentStore:
    """The DynamoDB table: PK `pk` = "<target>#<check>", TTL attribute `expires_at`."""

    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self.table_name = table_name

    @staticmethod
    def key(target: str, check: str) -> str:
        return f"{target}#{check}"

    def load(self, pk: str) -> IncidentState:
        item = get_item(self._client, self.table_name, pk, StateUnavailable)
        if not item:
            return IncidentState()
        try:
            return _from_item(item)
        except (ValueError, TypeError, AttributeError) as exc:
            raise StateUnavailable(f"read {pk}: unreadable item ({exc})") from exc

    def save(self, pk: str, new: IncidentState, expected_version: int, now: datetime) -> bool:
        """Write `new` if nobody wrote since `expected_version`; False when someone did."""
        condition: dict[str, Any]
        if expected_version == 0:
            condition = {"ConditionExpression": "attribute_not_exists(pk)"}
        else:
            condition = {
                "ConditionExpression": "version = :expected",
                "ExpressionAttributeValues": {":expected": {"N": str(expected_version)}},
            }
        item = _to_item(pk, new, now)
        return conditional_write(
            lambda: self._client.put_item(TableName=self.table_name, Item=item, **condition),
            pk,
            StateUnavailable,
        )


def _to_item(pk: str, s: IncidentState, now: datetime) -> dict[str, Any]:
    item: dict[str, Any] = {
        "pk": {"S": pk},
        "state": {"S": s.state},
        "failures": {"N": str(s.failures)},
        "reminders": {"N": str(s.reminders)},
        "version": {"N": str(s.version)},
        "updated_at": {"S": iso(now)},
        "expires_at": {"N": str(int((now + STATE_TTL).timestamp()))},
    }
    if s.since is not None:
        item["since"] = {"S": iso(s.since)}
    if s.notified_at is not None:
        item["notified_at"] = {"S": iso(s.notified_at)}
    return item


def _from_item(item: dict[str, Any]) -> IncidentState:
    def number(key: str) -> int:
        return int(item.get(key, {}).get("N", "0"))

    def time(key: str) -> datetime | None:
        value = item.get(key, {}).get("S")
        return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None

    state = item.get("state", {}).get("S", OK)
    return IncidentState(
        state=FAIL if state == FAIL else OK,
        failures=number("failures"),
        since=time("since"),
        notified_at=time("notified_at"),
        reminders=number("reminders"),
        version=number("version"),
    )


def incident_notification(
    report: Report,
    result: CheckResult,
    event: Event,
    now: datetime,
    *,
    since: datetime | None = None,
    failures: int = 0,
    note: str = "",
) -> Notification:
    return Notification(
        event=event,
        target=report.target,
        region=report.region,
        check=result.name,
        status=result.status.value,
        detail=clip(result.detail, DETAIL_MAX),
        occurred_at=now,
        hints=tuple(clip(h, HINT_MAX) for h in result.hints[:HINTS_MAX]),
        links=console_links(report),
        since=since,
        failures=failures,
        note=note,
    )


def publish_notification(
    sessions: AwsSessions, topic_arn: str, message: Notification, outcome: NotifyOutcome
) -> bool:
    """Publish `message`; what was sent, or why not, is added to `outcome`."""
    try:
        message_id = sns.publish(sessions, topic_arn, message)
    except (*AWS_ERRORS, ValueError) as exc:
        reason = classify(exc).summary if not isinstance(exc, ValueError) else str(exc)
        outcome.failures.append(f"SNS publish {subject(message)}: {reason}")
        logger.warning("SNS publish failed for %s/%s: %s", message.target, message.check, reason)
        return False
    outcome.published.append(
        {
            "target": message.target,
            "check": message.check,
            "event": message.event.value,
            "subject": subject(message),
            "message_id": message_id,
        }
    )
    return True


class _Run:
    """One process_incidents call: the store (while it answers), the topic, the outcome."""

    def __init__(self, config: NotifyConfig, sessions: AwsSessions, now: datetime) -> None:
        self.config = config
        self.sessions = sessions
        self.now = now
        self.outcome = NotifyOutcome(published=[], failures=[])
        self.store: IncidentStore | None = None
        self.store_down = False
        if config.table_name:
            try:
                self.store = IncidentStore(sessions.client("dynamodb"), config.table_name)
            except BotoCoreError as exc:  # e.g. no region: same as an unreachable table
                self.store_down = True
                self.outcome.failures.append(
                    f"incident state {config.table_name}: {classify(exc).summary}"
                )

    def handle(self, report: Report, result: CheckResult) -> None:
        if self.store_down:
            self.fail_open(report, result)
            return
        if self.store is None:
            if result.status is Status.FAIL:
                self.publish(self.stateless(report, result, STATELESS_NOTE))
            return
        pk = IncidentStore.key(report.target, result.name)
        for _ in range(MAX_WRITE_ATTEMPTS):
            try:
                prev = self.store.load(pk)
                new, event = decide(
                    prev,
                    result.status,
                    self.now,
                    self.config.failure_threshold,
                    self.config.remind_after,
                )
                if new is None:
                    return
                won = self.store.save(pk, new, prev.version, self.now)
            except StateUnavailable as exc:
                self.store_down = True
                self.outcome.failures.append(f"incident state {self.store.table_name}: {exc}")
                logger.warning("incident table unavailable, notifying without state: %s", exc)
                self.fail_open(report, result)
                return
            if not won:
                logger.info("%s changed during this run; deciding again", pk)
                continue
            if event is None:
                return
            basis = prev if event is Event.RESOLVED else new
            message = incident_notification(
                report, result, event, self.now, since=basis.since, failures=basis.failures
            )
            if not self.publish(message):
                self.revert(pk, prev, new)
            return
        logger.warning(
            "%s: lost %d conditional writes; another run owns it", pk, MAX_WRITE_ATTEMPTS
        )

    def stateless(self, report: Report, result: CheckResult, note: str) -> Notification:
        return incident_notification(report, result, Event.FAIL, self.now, note=note)

    def fail_open(self, report: Report, result: CheckResult) -> None:
        self.outcome.state_errors += 1
        if result.status is Status.FAIL:
            self.publish(self.stateless(report, result, FAIL_OPEN_NOTE))

    def publish(self, message: Notification) -> bool:
        assert self.config.topic_arn is not None
        return publish_notification(self.sessions, self.config.topic_arn, message, self.outcome)

    def revert(self, pk: str, prev: IncidentState, new: IncidentState) -> None:
        """Undo a transition whose message was not sent, so the next run sends it."""
        assert self.store is not None
        try:
            restored = self.store.save(
                pk, replace(prev, version=new.version + 1), new.version, self.now
            )
        except StateUnavailable as exc:
            self.outcome.failures.append(f"incident state {self.store.table_name}: {exc}")
            return
        if not restored:
            logger.info("%s changed before its unsent transition could be undone", pk)


def process_incidents(
    suite: SuiteReport,
    config: NotifyConfig,
    sessions: AwsSessions,
    *,
    now: datetime | None = None,
) -> NotifyOutcome:
    """Publish FAIL / REMINDER / RESOLVED for the critical checks of every target.

    Never raises for AWS or channel errors: they are lines in `outcome.failures`.
    """
    if not config.topic_arn:
        return NotifyOutcome(published=[], failures=[])
    run = _Run(config, sessions, now or utc_now())
    critical = set(config.critical_checks)
    for report in suite.reports:
        for result in report.checks:
            if result.name in critical and result.status is not Status.SKIP:
                run.handle(report, result)
    return run.outcome
