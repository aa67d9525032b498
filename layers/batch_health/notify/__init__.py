"""Incident notifications: SNS for everyone, Slack through the notifier function.

`process_incidents` turns a suite run into FAIL / REMINDER / RESOLVED messages, once
per incident; the Slack notifier renders whatever arrives on the topic.
"""

from batch_health.notify.incidents import NotifyConfig, NotifyOutcome, process_incidents
from batch_health.notify.messages import Event, Notification

__all__ = ["Event", "Notification", "NotifyConfig", "NotifyOutcome", "process_incidents"]
