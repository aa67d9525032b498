"""ARNs taken apart: partition, account, a role's name."""

from __future__ import annotations


def arn_partition(arn: str) -> str:
    parts = arn.split(":")
    return parts[1] if len(parts) > 1 and parts[1] else "aws"


def arn_account(arn: str) -> str:
    parts = arn.split(":")
    return parts[4] if len(parts) > 4 else ""


def role_name_from_arn(arn: str) -> str:
    """`arn:aws:iam::123:role/path/name` -> `name` (GetRole takes the name without path)."""
    _, sep, rest = arn.partition(":role/")
    return rest.rsplit("/", 1)[-1] if sep else ""


def resource_name(value: str) -> str:
    """`arn:...:job-queue/name` or `name:revision` -> `name`."""
    name = value.strip().rsplit("/", 1)[-1] if value.startswith("arn:") else value.strip()
    return name.split(":", 1)[0]
