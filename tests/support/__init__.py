"""Test support: CloudFormation offline, AWS's authorization rules, request recording."""
