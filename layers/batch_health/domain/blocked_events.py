"""Can Batch tell why a job waits? Whether a compute environment's service role lets Batch
raise `Batch Job Queue Blocked` events and RUNNABLE statusReasons for capacity problems.

The Batch user guide, on jobs stuck in RUNNABLE for capacity
(https://docs.aws.amazon.com/batch/latest/userguide/job_stuck_in_runnable_capacity.html):
"The AWS Batch service role requires `autoscaling:DescribeScalingActivities` permission for
this detection to work", and the role must have "the `autoscaling:DescribeScalingActivities`
and `ec2:DescribeSpotFleetRequestHistory` permissions so that you can receive blocked job
queue events and updated job status when in `RUNNABLE`. In addition, AWS Batch needs these
permissions to perform `cancellation` actions through the `jobStateTimeLimitActions`
parameter". The detection is of "Amazon EC2 instances that experience insufficient
capacity errors", so which action matters depends on how Batch gets the instances:

- EC2 or SPOT resources (ECS or EKS orchestration): Batch "creates and manages Amazon EC2
  Auto Scaling groups for most compute environments", so DescribeScalingActivities applies;
- SPOT with a Spot Fleet role: Batch "creates and manages EC2 Spot Fleet requests for some
  EC2 Spot compute environments" (https://docs.aws.amazon.com/batch/latest/userguide/
  security-iam-awsmanpol.html), those that name `spotIamFleetRole` ("required if the
  allocation strategy set to BEST_FIT or if the allocation strategy isn't specified",
  https://docs.aws.amazon.com/batch/latest/APIReference/API_ComputeResource.html), so
  DescribeSpotFleetRequestHistory applies too;
- FARGATE / FARGATE_SPOT (no EC2 instances of the account) and UNMANAGED (Batch scales
  nothing: https://docs.aws.amazon.com/batch/latest/userguide/
  create-compute-environment-unmanaged.html): neither applies.

Both actions take no resource ARN (Resource "*"). A compute environment whose service role
is the service-linked role AWSServiceRoleForBatch, or that names none (then "If your account
already created the Batch service-linked role, that role is used by default",
https://docs.aws.amazon.com/batch/latest/APIReference/API_CreateComputeEnvironment.html), is
judged from that role's documented policy, BatchServiceRolePolicy, without reading IAM:
its statement AWSBatchPolicyStatement1 allows both (policy version v8,
https://docs.aws.amazon.com/aws-managed-policy/latest/reference/BatchServiceRolePolicy.html).
The AWS managed policy AWSBatchServiceRole allows both in the same statement too (v13,
https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSBatchServiceRole.html).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from batch_health.domain.arns import arn_partition, role_name_from_arn
from batch_health.domain.iam_policy import Decision, Evaluation, PolicyDocument, evaluate

SCALING_ACTIVITIES = "autoscaling:DescribeScalingActivities"
SPOT_FLEET_HISTORY = "ec2:DescribeSpotFleetRequestHistory"
ALL_RESOURCES = "*"  # neither action supports resource-level permissions
SERVICE_LINKED_ROLE_NAME = "AWSServiceRoleForBatch"
SERVICE_LINKED_ROLE_PATH = "/aws-service-role/batch.amazonaws.com/"
SERVICE_ROLE_POLICY = "AWSBatchServiceRole"  # arn:<partition>:iam::aws:policy/service-role/...
FIX_POLICY_NAME = "BatchBlockedQueueDetection"

# BatchServiceRolePolicy v8, statement AWSBatchPolicyStatement1, as documented at
# https://docs.aws.amazon.com/aws-managed-policy/latest/reference/BatchServiceRolePolicy.html
_SLR_STATEMENT_1 = {
    "Sid": "AWSBatchPolicyStatement1",
    "Effect": "Allow",
    "Action": [
        "ec2:DescribeAccountAttributes",
        "ec2:DescribeInstances",
        "ec2:DescribeInstanceStatus",
        "ec2:DescribeInstanceAttribute",
        "ec2:DescribeSubnets",
        "ec2:DescribeSecurityGroups",
        "ec2:DescribeKeyPairs",
        "ec2:DescribeImages",
        "ec2:DescribeImageAttribute",
        "ec2:DescribeSpotInstanceRequests",
        "ec2:DescribeSpotFleetInstances",
        "ec2:DescribeSpotFleetRequests",
        "ec2:DescribeSpotPriceHistory",
        "ec2:DescribeSpotFleetRequestHistory",
        "ec2:DescribeVpcClassicLink",
        "ec2:DescribeLaunchTemplateVersions",
        "ec2:RequestSpotFleet",
        "autoscaling:DescribeAccountLimits",
        "autoscaling:DescribeAutoScalingGroups",
        "autoscaling:DescribeLaunchConfigurations",
        "autoscaling:DescribeAutoScalingInstances",
        "autoscaling:DescribeScalingActivities",
        "eks:DescribeCluster",
        "ecs:DescribeCapacityProviders",
        "ecs:DescribeClusters",
        "ecs:DescribeContainerInstances",
        "ecs:DescribeTaskDefinition",
        "ecs:DescribeTasks",
        "ecs:ListClusters",
        "ecs:ListContainerInstances",
        "ecs:ListTaskDefinitionFamilies",
        "ecs:ListTaskDefinitions",
        "ecs:ListTasks",
        "ecs:DeregisterTaskDefinition",
        "ecs:TagResource",
        "ecs:ListAccountSettings",
        "logs:DescribeLogGroups",
        "iam:GetInstanceProfile",
        "iam:GetRole",
    ],
    "Resource": "*",
}
SERVICE_LINKED_ROLE_POLICIES = (
    PolicyDocument(
        "managed policy BatchServiceRolePolicy (documented)",
        {"Version": "2012-10-17", "Statement": [_SLR_STATEMENT_1]},
    ),
)


def required_actions(ce: Mapping[str, Any]) -> tuple[str, ...]:
    """What the service role must allow for Batch to detect capacity problems in this CE
    (a DescribeComputeEnvironments entry); empty where the requirement does not apply."""
    if ce.get("type") == "UNMANAGED":
        return ()
    resources = ce.get("computeResources") or {}
    kind = resources.get("type")
    if kind not in ("EC2", "SPOT"):
        return ()
    if kind == "SPOT" and resources.get("spotIamFleetRole"):
        return (SCALING_ACTIVITIES, SPOT_FLEET_HISTORY)
    return (SCALING_ACTIVITIES,)


def is_service_linked_role(role: str) -> bool:
    """An empty service role (Batch uses its service-linked role) or that role's ARN."""
    if not role:
        return True
    _, sep, rest = role.partition(":role/")
    path_and_name = f"/{rest}" if sep else (role if role.startswith("/") else f"/{role}")
    return path_and_name == f"{SERVICE_LINKED_ROLE_PATH}{SERVICE_LINKED_ROLE_NAME}"


def service_role_to_read(ce: Mapping[str, Any]) -> str:
    """The name of the role whose policies decide, "" when none needs reading (nothing is
    required, or the service-linked role is judged from its documented policy)."""
    role = str(ce.get("serviceRole") or "")
    if not required_actions(ce) or is_service_linked_role(role):
        return ""
    return role_name_from_arn(role) if role.startswith("arn:") else role.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class BlockedEventsVerdict:
    """Whether Batch can raise blocked-queue events for one compute environment."""

    compute_environment: str
    service_role: str  # as the CE names it ("" for none: the service-linked role)
    required: tuple[str, ...]
    evaluations: tuple[Evaluation, ...] = ()  # one per required action, when decided
    unread: bool = False  # the role's policies could not be read

    @property
    def applies(self) -> bool:
        return bool(self.required)

    @property
    def denied(self) -> tuple[Evaluation, ...]:
        """The required actions the role does not allow (no Allow, or an explicit Deny)."""
        refused = (Decision.IMPLICIT_DENY, Decision.EXPLICIT_DENY)
        return tuple(e for e in self.evaluations if e.decision in refused)

    @property
    def undetermined(self) -> tuple[Evaluation, ...]:
        """Allowed only under conditions this evaluation cannot decide."""
        return tuple(e for e in self.evaluations if e.decision is Decision.UNDETERMINED)

    def facts(self) -> dict[str, Any]:
        """For the report's data."""
        return {
            "service_role": self.service_role or SERVICE_LINKED_ROLE_NAME,
            "required": list(self.required),
            "denied": [e.action for e in self.denied],
            "undetermined": [e.action for e in self.undetermined],
            "checked": self.applies and not self.unread,
        }


def judge(ce: Mapping[str, Any], policies: Sequence[PolicyDocument] | None) -> BlockedEventsVerdict:
    """The verdict for one CE. `policies`: the service role's identity policies, None when
    they were not read (ignored for the service-linked role, judged from its documentation)."""
    name = str(ce.get("computeEnvironmentName") or ce.get("computeEnvironmentArn") or "")
    role = str(ce.get("serviceRole") or "")
    required = required_actions(ce)
    verdict = BlockedEventsVerdict(name, role, required)
    if not required:
        return verdict
    if is_service_linked_role(role):
        policies = SERVICE_LINKED_ROLE_POLICIES
    if policies is None:
        return BlockedEventsVerdict(name, role, required, unread=True)
    evaluations = tuple(evaluate(policies, action, ALL_RESOURCES) for action in required)
    return BlockedEventsVerdict(name, role, required, evaluations)


def fix_commands(verdict: BlockedEventsVerdict) -> str:
    """The IAM commands that let the role allow what it does not (inline, or attaching the
    AWS managed policy that has both)."""
    role_arn = verdict.service_role
    name = role_name_from_arn(role_arn) if role_arn.startswith("arn:") else role_arn
    actions = [e.action for e in verdict.denied]
    document = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": actions, "Resource": ALL_RESOURCES}],
    }
    policy_arn = f"arn:{arn_partition(role_arn)}:iam::aws:policy/service-role/{SERVICE_ROLE_POLICY}"
    said = (
        f"`aws iam put-role-policy --role-name {name} --policy-name {FIX_POLICY_NAME} "
        f"--policy-document '{json.dumps(document, separators=(',', ':'))}'` (or attach the "
        f"AWS managed policy: `aws iam attach-role-policy --role-name {name} --policy-arn "
        f"{policy_arn}`)"
    )
    denying = [
        d for e in verdict.denied if e.decision is Decision.EXPLICIT_DENY for d in e.deciding
    ]
    if denying:
        said += f", and remove the Deny of {', '.join(dict.fromkeys(denying))}"
    return said
