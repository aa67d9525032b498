"""Batch Health Monitor: health checks for an AWS Batch workload."""

__version__ = "0.1.0"
