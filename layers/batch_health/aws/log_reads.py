"""A target's CloudWatch Logs reads: its log groups, their newest streams and events (part
of `TargetView`)."""

from __future__ import annotations

from functools import partial
from typing import Any

from batch_health.aws.concurrency import fan_out
from batch_health.aws.errors import AWS_ERRORS
from batch_health.aws.view_base import ViewBase

# LOG_CONTENT_CHECK reads the events of at most this many streams of a group, newest first.
NEWEST_LOG_STREAMS = 3


class LogReads(ViewBase):
    def log_group(self, name: str) -> dict[str, Any] | None:
        return self._acct.log_groups.get(name)

    def job_log_groups(self) -> dict[str, dict[str, Any] | None]:
        """Every log group the target's jobs write to, as described (None: missing), read
        side by side (batched with the other targets' groups)."""
        names = list(self.log_group_names())
        return dict(zip(names, fan_out([partial(self.log_group, n) for n in names]), strict=True))

    def newest_log_streams(self, group: str, limit: int = 3) -> list[dict[str, Any]]:
        """The streams with the most recent events, newest first."""

        def fetch() -> list[dict[str, Any]]:
            resp = self.client("logs").describe_log_streams(
                logGroupName=group, orderBy="LastEventTime", descending=True, limit=limit
            )
            return list(resp.get("logStreams", []))

        return self._once(("log_streams", group, limit), fetch)

    def _readable_groups(self) -> list[str]:
        scope = self.scope
        return [
            g
            for g in self.log_group_names()
            if not (scope and scope.log_read_problem(self.target, g))
        ]

    def job_log_streams(self) -> dict[str, list[dict[str, Any]]]:
        """The newest streams of each of the target's log groups, read as soon as their
        names are known, beside the groups' own describe. Speculative: a group that turns
        out missing makes its read an error that is not used. Never outside what the
        deployment may read."""
        groups = self._readable_groups()
        streams = fan_out([partial(self._streams_or_none, g) for g in groups])
        return {g: s for g, s in zip(groups, streams, strict=True) if s is not None}

    def _streams_or_none(self, group: str) -> list[dict[str, Any]] | None:
        try:
            return self.newest_log_streams(group, NEWEST_LOG_STREAMS)
        except AWS_ERRORS:  # cached: the check reads it again and reports the error itself
            return None

    def job_log_events(self) -> dict[str, list[dict[str, Any]]]:
        """Each group's newest stream's recent events: LOG_CONTENT_CHECK's first read of
        events (it reads an older stream only when this one has fewer events than it scans)."""
        limit = self.target.thresholds.log_scan_events
        newest = {g: s[0].get("logStreamName", "") for g, s in self.job_log_streams().items() if s}
        events = fan_out(
            [partial(self.recent_log_events, g, stream, limit) for g, stream in newest.items()]
        )
        return dict(zip(newest, events, strict=True))

    def recent_log_events(self, group: str, stream: str, limit: int) -> list[dict[str, Any]]:
        """Up to `limit` newest events of a stream, oldest first."""

        def fetch() -> list[dict[str, Any]]:
            resp = self.client("logs").get_log_events(
                logGroupName=group, logStreamName=stream, limit=limit, startFromHead=False
            )
            return list(resp.get("events", []))

        return self._once(("log_events", group, stream, limit), fetch)
