"""Compute environment fields moto 5.2.5 drops, patched in by batch_health.demo.batch_shapes.

moto accepts `eksConfiguration` in CreateComputeEnvironment but keeps neither it nor the
`containerOrchestrationType` AWS derives from it, so an EKS compute environment is described
as an ECS one. AWS's ComputeEnvironmentDetail has both: `eksConfiguration`
(`eksClusterArn`, `kubernetesNamespace`) and `containerOrchestrationType` "ECS" or "EKS"
(https://docs.aws.amazon.com/batch/latest/APIReference/API_ComputeEnvironmentDetail.html).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

_EKS = "_batch_health_eks_configuration"


def create(original: Callable[[Any], str]) -> Callable[[Any], str]:
    def createcomputeenvironment(self: Any) -> str:
        answer = original(self)
        eks = self._get_param("eksConfiguration")
        if isinstance(eks, dict) and eks:
            env = self.batch_backend.get_compute_environment(
                json.loads(answer)["computeEnvironmentArn"]
            )
            setattr(env, _EKS, dict(eks))
        return answer

    return createcomputeenvironment


def describe(original: Callable[[Any], str]) -> Callable[[Any], str]:
    def describecomputeenvironments(self: Any) -> str:
        answer = json.loads(original(self))
        for entry in answer.get("computeEnvironments") or []:
            env = self.batch_backend.get_compute_environment(entry.get("computeEnvironmentArn"))
            eks = getattr(env, _EKS, None) if env is not None else None
            entry["containerOrchestrationType"] = "EKS" if eks else "ECS"
            if eks:
                entry["eksConfiguration"] = eks
        return json.dumps(answer)

    return describecomputeenvironments
