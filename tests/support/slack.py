"""The Slack webhook the tests store as a secret: its path is the secret, never to be shown."""

WEBHOOK = "https://hooks.slack.com/services/T0000/B0000/s3cr3tT0ken"
