"""Notifications: incidents (once per incident, state in DynamoDB), their messages, SNS,
Slack's Block Kit, and CloudWatch alarm state changes made readable."""
