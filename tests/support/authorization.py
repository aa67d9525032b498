"""What AWS authorizes each API call against: the IAM action(s), resource ARN(s) and
request context, per operation the code calls. One table; an operation without a row fails
the permission replay (tests/unit/stack/test_permission_replay.py).

Sources (AWS Service Authorization Reference, "Actions, resources, and condition keys"):
- Batch: https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsbatch.html
  Describe*/ListJobs take no resource ("*"). SubmitJob: job-queue and job definition, and
  (today's reference) the new job; its tags are checked as batch:TagResource on the job
  (tag on create) with aws:TagKeys / aws:RequestTag. TerminateJob: the job, with its tags.
- IAM: https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsidentityandaccessmanagementiam.html
  role reads on the role ARN (path included); GetPolicy* on the policy ARN;
  SimulatePrincipalPolicy on the simulated principal.
- STS: GetCallerIdentity needs no permission ("No permissions are required to perform this
  operation", GetCallerIdentity API reference); AssumeRole on the role ARN.
- CloudWatch Logs: https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatchlogs.html
  DescribeLogGroups has no resource type; AWS evaluates it against
  `log-group::log-stream:` (its AccessDenied says "on resource:
  arn:aws:logs:<region>:<account>:log-group::log-stream:",
  https://github.com/hashicorp/terraform-provider-aws/issues/8804). DescribeLogStreams on
  the log group (`log-group:NAME:log-stream:` in its AccessDenied; the `:*` form in
  policies covers it), GetLogEvents on the log stream.
- SSM: https://docs.aws.amazon.com/systems-manager/latest/userguide/ps-retrieval-authorization.html
  GetParameter(s) on each parameter's ARN (`parameter/` + the name without its leading
  slash); "GetParametersByPath ... authorizes against the path in the request".
- SNS: Publish on the topic; to an SSE-KMS topic "The publisher must have the
  kms:GenerateDataKey and kms:Decrypt permissions for the AWS KMS key."
  https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html
- DynamoDB item calls on the table. TransactWriteItems: "Permissions for Put, Update,
  Delete, and Get actions are governed by the permissions used for the underlying PutItem,
  UpdateItem, DeleteItem, and GetItem operations"
  (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis-iam.html);
  BatchGetItem on each table it reads. Secrets Manager GetSecretValue on the secret.
- Lambda: Invoke is authorized as lambda:InvokeFunction on the function's ARN.
- ECS: https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonelasticcontainerservice.html
  ListContainerInstances on the cluster; DescribeContainerInstances on each container-instance
  (condition key ecs:cluster).
- Secrets Manager DescribeSecret on the secret; SSM DescribeParameters has no resource type;
  KMS DescribeKey on the key (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awskeymanagementservice.html).
- Batch DescribeSchedulingPolicies, like every Describe*, takes no resource.
  GetJobQueueSnapshot is authorized on the job queue, CancelJob on the job (the Batch
  reference's resource types for them); the grants give the first on "*", so either reading
  of the reference is allowed.
- EC2 DescribeInstanceTypes, DescribeSubnets and DescribeInstanceTypeOfferings: EC2's
  Describe* actions support no resource-level permissions
  (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonec2.html).
  Service Quotas GetServiceQuota (IAM prefix `servicequotas`) is granted on "*".
Every request also carries aws:RequestedRegion (a global condition key).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Authorization:
    """One thing AWS checks for a request: `action` on `resource`, in `context`."""

    action: str
    resource: str
    context: dict[str, Any] = field(default_factory=dict)


@dataclass
class Request:
    """An API call as the recorder saw it."""

    service: str  # botocore's service name: batch, iam, logs, ...
    operation: str  # DescribeJobQueues, ...
    params: dict[str, Any]
    region: str
    account: str  # the caller's account
    principal: str  # "monitor", "notifier", or the assumed role's ARN
    response: dict[str, Any] = field(default_factory=dict)
    error: str = ""

    @property
    def name(self) -> str:
        return f"{self.service}:{self.operation}"


@dataclass
class Knowledge:
    """What the replay learnt from earlier answers: role ARNs (with their path), the tags
    of jobs the monitor submitted, the KMS key of each topic."""

    role_arns: dict[tuple[str, str], str] = field(default_factory=dict)  # (account, name) -> ARN
    job_tags: dict[str, dict[str, str]] = field(default_factory=dict)
    topic_keys: dict[str, str] = field(default_factory=dict)  # topic ARN -> key ARN


def arn(req: Request, service: str, resource: str, *, region: bool = True) -> str:
    return f"arn:aws:{service}:{req.region if region else ''}:{req.account}:{resource}"


def parameter_arn(req: Request, name: str) -> str:
    return arn(req, "ssm", f"parameter/{name.lstrip('/')}")


def role_arn(req: Request, known: Knowledge, name: str) -> str:
    return known.role_arns.get((req.account, name)) or arn(req, "iam", f"role/{name}", region=False)


def batch_arn(req: Request, kind: str, ref: str) -> str:
    return ref if ref.startswith("arn:") else arn(req, "batch", f"{kind}/{ref}")


def _submit_job(req: Request, known: Knowledge) -> list[Authorization]:
    job = arn(req, "batch", f"job/{req.response.get('jobId', '*')}")
    tags = req.params.get("tags") or {}
    checks = [
        Authorization("batch:SubmitJob", batch_arn(req, "job-queue", req.params["jobQueue"])),
        Authorization(
            "batch:SubmitJob", batch_arn(req, "job-definition", req.params["jobDefinition"])
        ),
        Authorization("batch:SubmitJob", job),
    ]
    if tags:
        context = {
            "aws:TagKeys": sorted(tags),
            **{f"aws:RequestTag/{k}": v for k, v in tags.items()},
        }
        checks.append(Authorization("batch:TagResource", job, context))
        known.job_tags[req.response.get("jobId", "")] = dict(tags)
    return checks


def _terminate_job(req: Request, known: Knowledge) -> list[Authorization]:
    job_id = req.params["jobId"]
    tags = known.job_tags.get(job_id, {})
    context = {f"aws:ResourceTag/{k}": v for k, v in tags.items()}
    return [Authorization("batch:TerminateJob", arn(req, "batch", f"job/{job_id}"), context)]


def _get_role(req: Request, known: Knowledge) -> list[Authorization]:
    role = req.response.get("Role", {})
    if role.get("Arn"):
        known.role_arns[req.account, req.params["RoleName"]] = role["Arn"]
    return [Authorization("iam:GetRole", role_arn(req, known, req.params["RoleName"]))]


def _on_role(action: str) -> Callable[[Request, Knowledge], list[Authorization]]:
    return lambda req, known: [Authorization(action, role_arn(req, known, req.params["RoleName"]))]


def _on(action: str, resource: Callable[[Request], str]) -> Callable[..., list[Authorization]]:
    return lambda req, known: [Authorization(action, resource(req))]


def _no_resource(action: str) -> Callable[..., list[Authorization]]:
    return _on(action, lambda req: "*")


def _publish(req: Request, known: Knowledge) -> list[Authorization]:
    topic = req.params["TopicArn"]
    checks = [Authorization("sns:Publish", topic)]
    key = known.topic_keys.get(topic)
    if key:
        checks += [Authorization("kms:GenerateDataKey", key), Authorization("kms:Decrypt", key)]
    return checks


def _table(action: str) -> Callable[..., list[Authorization]]:
    return _on(action, lambda req: arn(req, "dynamodb", f"table/{req.params['TableName']}"))


_TRANSACTION_ACTIONS = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
}


def _transact_write(req: Request, known: Knowledge) -> list[Authorization]:
    pairs = []
    for entry in req.params["TransactItems"]:
        ((kind, op),) = entry.items()
        pairs.append((_TRANSACTION_ACTIONS[kind], arn(req, "dynamodb", f"table/{op['TableName']}")))
    return [Authorization(action, table) for action, table in dict.fromkeys(pairs)]


def _batch_get(req: Request, known: Knowledge) -> list[Authorization]:
    return [
        Authorization("dynamodb:BatchGetItem", arn(req, "dynamodb", f"table/{name}"))
        for name in req.params["RequestItems"]
    ]


def _describe_key(req: Request, known: Knowledge) -> list[Authorization]:
    # Authorized on the key an ID, ARN or alias resolves to (the answer's KeyMetadata.Arn).
    key = req.response.get("KeyMetadata", {}).get("Arn") or req.params["KeyId"]
    if not key.startswith("arn:"):
        key = arn(req, "kms", f"key/{key}")
    return [Authorization("kms:DescribeKey", key)]


def ecs_cluster_arn(req: Request, cluster: str) -> str:
    return cluster if cluster.startswith("arn:") else arn(req, "ecs", f"cluster/{cluster}")


def _describe_container_instances(req: Request, known: Knowledge) -> list[Authorization]:
    cluster = ecs_cluster_arn(req, req.params["cluster"])
    name = cluster.rsplit("/", 1)[-1]
    return [
        Authorization(
            "ecs:DescribeContainerInstances",
            i if i.startswith("arn:") else arn(req, "ecs", f"container-instance/{name}/{i}"),
            {"ecs:cluster": cluster},
        )
        for i in req.params["containerInstances"]
    ]


def _invoke(req: Request, known: Knowledge) -> list[Authorization]:
    name = req.params["FunctionName"]
    function = name if name.startswith("arn:") else arn(req, "lambda", f"function:{name}")
    return [Authorization("lambda:InvokeFunction", function)]


AUTHORIZATIONS: dict[str, Callable[[Request, Knowledge], list[Authorization]]] = {
    "sts:GetCallerIdentity": lambda req, known: [],
    "sts:AssumeRole": _on("sts:AssumeRole", lambda req: req.params["RoleArn"]),
    "batch:DescribeJobQueues": _no_resource("batch:DescribeJobQueues"),
    "batch:DescribeComputeEnvironments": _no_resource("batch:DescribeComputeEnvironments"),
    "batch:DescribeJobDefinitions": _no_resource("batch:DescribeJobDefinitions"),
    "batch:DescribeJobs": _no_resource("batch:DescribeJobs"),
    "batch:ListJobs": _no_resource("batch:ListJobs"),
    "batch:SubmitJob": _submit_job,
    "batch:TerminateJob": _terminate_job,
    "iam:GetRole": _get_role,
    "iam:ListAttachedRolePolicies": _on_role("iam:ListAttachedRolePolicies"),
    "iam:ListRolePolicies": _on_role("iam:ListRolePolicies"),
    "iam:GetRolePolicy": _on_role("iam:GetRolePolicy"),
    "iam:GetPolicy": _on("iam:GetPolicy", lambda req: req.params["PolicyArn"]),
    "iam:GetPolicyVersion": _on("iam:GetPolicyVersion", lambda req: req.params["PolicyArn"]),
    "iam:SimulatePrincipalPolicy": _on(
        "iam:SimulatePrincipalPolicy", lambda req: req.params["PolicySourceArn"]
    ),
    "logs:DescribeLogGroups": _on(
        "logs:DescribeLogGroups", lambda req: arn(req, "logs", "log-group::log-stream:")
    ),
    "logs:DescribeLogStreams": _on(
        "logs:DescribeLogStreams",
        lambda req: arn(req, "logs", f"log-group:{req.params['logGroupName']}:log-stream:"),
    ),
    "logs:GetLogEvents": _on(
        "logs:GetLogEvents",
        lambda req: arn(
            req,
            "logs",
            f"log-group:{req.params['logGroupName']}:log-stream:{req.params['logStreamName']}",
        ),
    ),
    "ssm:GetParameter": _on("ssm:GetParameter", lambda req: parameter_arn(req, req.params["Name"])),
    "ssm:GetParameters": lambda req, known: [
        Authorization("ssm:GetParameters", parameter_arn(req, name)) for name in req.params["Names"]
    ],
    "ssm:GetParametersByPath": _on(
        "ssm:GetParametersByPath", lambda req: parameter_arn(req, req.params["Path"])
    ),
    "sns:Publish": _publish,
    "dynamodb:GetItem": _table("dynamodb:GetItem"),
    "dynamodb:PutItem": _table("dynamodb:PutItem"),
    "dynamodb:UpdateItem": _table("dynamodb:UpdateItem"),
    "dynamodb:DeleteItem": _table("dynamodb:DeleteItem"),
    "dynamodb:TransactWriteItems": _transact_write,
    "dynamodb:BatchGetItem": _batch_get,
    "lambda:Invoke": _invoke,
    "secretsmanager:GetSecretValue": _on(
        "secretsmanager:GetSecretValue", lambda req: req.params["SecretId"]
    ),
    "secretsmanager:DescribeSecret": _on(
        "secretsmanager:DescribeSecret", lambda req: req.params["SecretId"]
    ),
    "ssm:DescribeParameters": _no_resource("ssm:DescribeParameters"),
    "kms:DescribeKey": _describe_key,
    "batch:DescribeSchedulingPolicies": _no_resource("batch:DescribeSchedulingPolicies"),
    "ecs:ListContainerInstances": _on(
        "ecs:ListContainerInstances", lambda req: ecs_cluster_arn(req, req.params["cluster"])
    ),
    "ecs:DescribeContainerInstances": _describe_container_instances,
    # The placement analysis.
    "batch:GetJobQueueSnapshot": _on(
        "batch:GetJobQueueSnapshot", lambda req: batch_arn(req, "job-queue", req.params["jobQueue"])
    ),
    "batch:CancelJob": _on(
        "batch:CancelJob", lambda req: arn(req, "batch", f"job/{req.params['jobId']}")
    ),
    "ec2:DescribeInstanceTypes": _no_resource("ec2:DescribeInstanceTypes"),
    "ec2:DescribeSubnets": _no_resource("ec2:DescribeSubnets"),
    "ec2:DescribeInstanceTypeOfferings": _no_resource("ec2:DescribeInstanceTypeOfferings"),
    "service-quotas:GetServiceQuota": _no_resource("servicequotas:GetServiceQuota"),
}


class UnknownOperation(KeyError):
    """The code called an operation this table has no row for."""


def authorizations(req: Request, known: Knowledge) -> list[Authorization]:
    """What AWS checks for `req`, each with aws:RequestedRegion in its context."""
    rule = AUTHORIZATIONS.get(req.name)
    if rule is None:
        raise UnknownOperation(
            f"{req.name}: no row in tests/support/authorization.py's AUTHORIZATIONS; add what "
            "AWS authorizes it against (Service Authorization Reference)"
        )
    return [
        Authorization(a.action, a.resource, {"aws:RequestedRegion": req.region, **a.context})
        for a in rule(req, known)
    ]
