"""When an incident sends what (notify/incidents.py `decide`, without AWS): FAIL when one
starts, reminders while it lasts, RESOLVED when it ends; thresholds and SKIP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from batch_health.models import Status
from batch_health.notify.incidents import IncidentState, decide
from batch_health.notify.messages import Event

T0 = datetime(2025, 6, 1, 9, 0, tzinfo=UTC)


def test_first_failure_opens_an_incident():
    new, event = decide(IncidentState(), Status.FAIL, T0)
    assert event is Event.FAIL
    assert new is not None and (new.state, new.failures, new.since, new.version) == (
        "FAIL",
        1,
        T0,
        1,
    )


def test_repeated_failure_sends_nothing_until_the_reminder_is_due():
    state, _ = decide(IncidentState(), Status.FAIL, T0, remind_after=timedelta(hours=6))
    assert state is not None
    later, event = decide(
        state, Status.FAIL, T0 + timedelta(hours=5, minutes=59), 1, timedelta(hours=6)
    )
    assert event is None and later is not None and later.failures == 2
    due, event = decide(later, Status.FAIL, T0 + timedelta(hours=6), 1, timedelta(hours=6))
    assert (
        event is Event.REMINDER and due is not None and due.notified_at == T0 + timedelta(hours=6)
    )
    # The next reminder counts from the last message, not from the start.
    _, event = decide(due, Status.FAIL, T0 + timedelta(hours=11), 1, timedelta(hours=6))
    assert event is None


def test_no_reminders_when_the_interval_is_off():
    state, _ = decide(IncidentState(), Status.FAIL, T0)
    _, event = decide(state, Status.FAIL, T0 + timedelta(days=30), 1, None)
    assert event is None


def test_recovery_resolves_and_warn_counts_as_recovered():
    state, _ = decide(IncidentState(), Status.FAIL, T0)
    for status in (Status.OK, Status.WARN):
        new, event = decide(state, status, T0 + timedelta(minutes=42))
        assert event is Event.RESOLVED
        assert new is not None and new.state == "OK" and new.failures == 0


def test_threshold_counts_consecutive_failures_from_the_first():
    s1, e1 = decide(IncidentState(), Status.FAIL, T0, threshold=3)
    s2, e2 = decide(s1, Status.FAIL, T0 + timedelta(minutes=5), threshold=3)
    s3, e3 = decide(s2, Status.FAIL, T0 + timedelta(minutes=10), threshold=3)
    assert (e1, e2, e3) == (None, None, Event.FAIL)
    assert s3 is not None and s3.since == T0 and s3.failures == 3


def test_a_short_streak_below_the_threshold_is_forgotten():
    s1, _ = decide(IncidentState(), Status.FAIL, T0, threshold=2)
    reset, event = decide(s1, Status.OK, T0 + timedelta(minutes=5), threshold=2)
    assert event is None and reset is not None and reset.failures == 0
    s2, event = decide(reset, Status.FAIL, T0 + timedelta(minutes=10), threshold=2)
    assert event is None and s2 is not None and s2.since == T0 + timedelta(minutes=10)


def test_skip_changes_nothing_and_ok_while_ok_writes_nothing():
    state, _ = decide(IncidentState(), Status.FAIL, T0)
    assert decide(state, Status.SKIP, T0 + timedelta(hours=1)) == (None, None)
    assert decide(IncidentState(), Status.OK, T0) == (None, None)
