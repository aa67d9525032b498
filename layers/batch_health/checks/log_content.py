"""LOG_CONTENT_CHECK: jobs are logging recently, and their recent lines are not errors."""

from __future__ import annotations

import re
import time
from typing import Any

from batch_health.aws.errors import AWS_ERRORS, classify
from batch_health.aws.inventory import NEWEST_LOG_STREAMS
from batch_health.checks.base import CheckContext
from batch_health.checks.job_logs import (
    JobLogGroupCheck,
    LogGroupRef,
    job_log_groups,
    monitor_account,
    unreadable_detail,
)
from batch_health.models import CheckResult, Status
from batch_health.text import clip, one_line

NEWEST_STREAMS = NEWEST_LOG_STREAMS  # the scan reads at most this many streams, newest first
QUOTE_MAX = 160
# Lines that mean a job went wrong; ERROR/FATAL/CRITICAL as log levels (upper case only).
ERROR_LINE = re.compile(
    r"Traceback \(most recent call last\)|\b(?:ERROR|FATAL|CRITICAL)\b|"
    r"CannotPullContainerError|OutOfMemory|OOMKilled|\bKilled\b|Segmentation fault|^panic:",
    re.MULTILINE,
)


def quote(message: str, limit: int = QUOTE_MAX) -> str:
    return clip(one_line(message), limit)


def format_age(hours: float) -> str:
    if hours < 1 / 60:
        return "under 1 min"
    if hours < 1:
        return f"{round(hours * 60)} min"
    return f"{hours:.1f} h"


def find_error_lines(events: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, dict[str, Any]]]:
    """(stream, event) pairs whose message looks like an error, in the order given."""
    return [(s, e) for s, e in events if ERROR_LINE.search(str(e.get("message", "")))]


class LogContentCheck(JobLogGroupCheck):
    name = "LOG_CONTENT_CHECK"
    title = "Jobs log recently, without errors"
    verifies = (
        "In every log group the job's containers write to, the newest log stream (by last "
        "event) has events newer than thresholds.log_max_age_hours; a bounded scan of recent "
        "events finds no error lines (Traceback, ERROR, CannotPullContainerError, OutOfMemory, "
        "Killed)"
    )
    depends_on = ("LOG_GROUP_CHECK",)
    # The streams and the newest one's events are read on the groups' names alone, beside
    # LOG_GROUP_CHECK's describe of the groups, not after it.
    needs = ("job_log_groups", "job_log_streams", "job_log_events")
    priority = 30

    def run(self, ctx: CheckContext) -> CheckResult:
        groups = job_log_groups(ctx)
        if not groups.refs:
            return self.skip(groups.problem)
        results: list[CheckResult] = []
        skipped: list[str] = []
        for ref in groups.refs:
            result = self._one(ctx, ref)
            if result.status is Status.SKIP:
                skipped.append(result.detail)
            else:
                results.append(result)
        if not results:
            return self.skip("; ".join(skipped))
        if len(results) == 1 and not skipped:
            return results[0]
        data: dict[str, Any] = {
            "log_group": results[0].data.get("log_group"),
            "log_groups": [{"status": r.status.value, **r.data} for r in results],
            "skipped": skipped,
        }
        for status, build in ((Status.FAIL, self.fail), (Status.WARN, self.warn)):
            chosen = [r for r in results if r.status is status]
            if chosen:
                return build(
                    "; ".join(r.detail for r in chosen),
                    list(dict.fromkeys(h for r in chosen for h in r.hints)),
                    **data,
                )
        return self.ok(
            "; ".join([r.detail for r in results] + [f"skipped: {s}" for s in skipped]), **data
        )

    def _one(self, ctx: CheckContext, ref: LogGroupRef) -> CheckResult:
        name, region = ref.name, ctx.aws.region
        # Normally LOG_GROUP_CHECK has decided this; run alone, the check looks itself.
        try:
            group = ctx.aws.log_group(name)
        except AWS_ERRORS as exc:
            return self.skip(unreadable_detail(name, classify(exc)))
        if group is None:
            return self.skip(f"log group missing: {name} does not exist in {region}")
        scope = ctx.options.scope
        outside = scope.log_read_problem(ctx.target, name) if scope else None
        if outside:
            return self.skip(outside)
        thresholds = ctx.target.thresholds
        facts: dict[str, Any] = {"log_group": name, "containers": list(ref.containers)}
        try:
            streams = ctx.aws.newest_log_streams(name, NEWEST_STREAMS)
            events = self._recent_events(ctx, name, streams, thresholds.log_scan_events)
        except AWS_ERRORS as exc:
            result = self.aws_fail(
                exc,
                action="logs:DescribeLogStreams and logs:GetLogEvents",
                resource=f"arn:aws:logs:{region}:{monitor_account(ctx)}:log-group:{name}:*",
                what=f"reading {name}",
            )
            result.data.update(facts)
            return result
        if not streams:
            return self.warn(
                f"log group {name}{ref.of} has no log streams: no job has logged to it yet",
                [
                    "Run a job (e.g. `batch-health check --allow-test-submit`) and check that the "
                    "execution role may logs:CreateLogStream and logs:PutLogEvents on "
                    f"{name} (IAM_CHECK)"
                ],
                **facts,
            )
        return self._judge(ctx, ref, streams, events, facts)

    def _judge(
        self,
        ctx: CheckContext,
        ref: LogGroupRef,
        streams: list[dict[str, Any]],
        events: list[tuple[str, dict[str, Any]]],
        facts: dict[str, Any],
    ) -> CheckResult:
        name, region, thresholds = ref.name, ctx.aws.region, ctx.target.thresholds
        newest_stream = streams[0].get("logStreamName", "")
        newest_ms = max(
            [int(e.get("timestamp", 0)) for _, e in events]
            + [int(s.get("lastEventTimestamp") or 0) for s in streams]
        )
        age_h = (time.time() * 1000 - newest_ms) / 3_600_000 if newest_ms else None
        errors = find_error_lines(events)
        facts.update(
            newest_stream=newest_stream,
            newest_event_age_hours=None if age_h is None else round(age_h, 2),
            events_scanned=len(events),
            error_lines=len(errors),
        )
        problems: list[str] = []
        hints: list[str] = []
        if age_h is None:
            problems.append(f"newest stream {newest_stream} of {name}{ref.of} has no events")
        elif age_h > thresholds.log_max_age_hours:
            problems.append(
                f"newest event in {name}{ref.of} is {format_age(age_h)} old "
                f"(threshold {thresholds.log_max_age_hours:g} h)"
            )
        if problems:
            hints.append(
                f"If jobs ran since then, their logs are not arriving: check the job "
                f"definition's awslogs-group and the execution role's logs:PutLogEvents on {name} "
                "(IAM_CHECK); if the workload is idle that long, raise thresholds.log_max_age_hours"
            )
        if errors:
            stream, event = errors[0]
            line = quote(str(event.get("message", "")))
            facts["error_example"] = {"stream": stream, "message": line}
            problems.append(
                f"{len(errors)} error line(s) in the last {len(events)} events of {name}"
                f"{ref.of}, newest in {stream}: {line!r}"
                if ref.of
                else f"{len(errors)} error line(s) in the last {len(events)} events, newest in "
                f"{stream}: {line!r}"
            )
            hints.append(
                f"Read the failing job's log: `aws logs tail {name} --log-stream-names "
                f"{stream} --since 24h --region {region}`"
            )
        if problems:
            return self.warn("; ".join(problems), hints, **facts)
        return self.ok(
            f"newest stream {newest_stream}{ref.of}: last event {format_age(age_h or 0.0)} ago, "
            f"no error lines in the last {len(events)} events",
            **facts,
        )

    @staticmethod
    def _recent_events(
        ctx: CheckContext, group: str, streams: list[dict[str, Any]], budget: int
    ) -> list[tuple[str, dict[str, Any]]]:
        """Newest events first across the newest streams, at most `budget` in total."""
        found: list[tuple[str, dict[str, Any]]] = []
        for stream in streams:
            left = budget - len(found)
            if left <= 0:
                break
            name = stream.get("logStreamName", "")
            events = ctx.aws.recent_log_events(group, name, left)
            found.extend((name, e) for e in reversed(events))
        return found
