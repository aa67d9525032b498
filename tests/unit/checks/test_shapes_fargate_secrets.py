"""A Fargate job that reads secrets, from the shapes corpus (tests/data/batch_shapes.json:
the CDK aws-batch tests' EcsFargateContainerDefinition with a Secrets Manager secret, and
with an SSM parameter): its execution role must be allowed to read each secret (and to
decrypt it with a customer managed KMS key), and a Fargate task that reads secrets cannot
start without an execution role.

The secrets and the parameter are created in the emulator, and the job definition names
their ARNs there (a Secrets Manager ARN ends in 6 random characters) in its Region.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from support.checks import assert_explained, run
from support.shape_world import ShapeWorld
from support.shapes_data import answer

from batch_health.models import CheckResult, Status

SECRETSMANAGER = "cdk-fargate-secret-secretsmanager"
SSM = "cdk-fargate-secret-ssm"
ROLE = "EcsContainerExecutionRole3B199293"
SECRET_NAME = "testSecretB96AD12C"
PARAMETER_NAME = "CFN-myParam03610B68-Jk2mN8"


@pytest.fixture
def world(shapes_aws):
    from batch_health.demo import WorldBuilder

    return WorldBuilder(None)


def results(shape: ShapeWorld, checks: list[str]) -> dict[str, CheckResult]:
    return {r.name: r for r in run(shape.target, checks).checks}


def runnable(shape_id: str) -> dict[str, Any]:
    """The corpus's job definition, sized so that Fargate can place it: the CDK test asks
    for 256 vCPUs (its `cpu: 256`), which no Fargate task has. And a retryStrategy, which
    the test sets none of, so that JOBDEF_CHECK has no advice to give either."""
    jd = answer("job_definitions", shape_id)
    jd["containerProperties"]["resourceRequirements"] = [
        {"type": "VCPU", "value": "1"},
        {"type": "MEMORY", "value": "2048"},
    ]
    jd["retryStrategy"] = {"attempts": 3}
    return jd


def fargate_world(
    world,
    shape_id: str = SECRETSMANAGER,
    *,
    customer_key: bool = False,
    execution_role: bool = True,
) -> ShapeWorld:
    jd = runnable(shape_id)
    props = jd["containerProperties"]
    secret = props["secrets"][0]
    if shape_id == SECRETSMANAGER:
        key = world.client("kms").create_key()["KeyMetadata"]["Arn"] if customer_key else None
        secret["valueFrom"] = world.client("secretsmanager").create_secret(
            Name=SECRET_NAME, SecretString="s3cret", **({"KmsKeyId": key} if key else {})
        )["ARN"]
    else:
        world.client("ssm").put_parameter(Name=PARAMETER_NAME, Value="super secret", Type="String")
        secret["valueFrom"] = secret["valueFrom"].replace("us-east-1", world.region)
    if not execution_role:
        del props["executionRoleArn"]
    return ShapeWorld(world, jd).build()


@pytest.mark.parametrize("shape_id", [SECRETSMANAGER, SSM])
def test_a_fargate_job_whose_execution_role_may_read_its_secret_is_healthy(world, shape_id):
    shape = fargate_world(world, shape_id)
    found = results(shape, ["JOBDEF_CHECK", "IAM_CHECK"])
    for res in found.values():
        assert res.status is Status.OK, (res.name, res.detail)
    assert found["JOBDEF_CHECK"].data["platformCapabilities"] == ["FARGATE"]
    assert found["JOBDEF_CHECK"].data["containers"][0]["secrets"] == 1
    iam = found["IAM_CHECK"]
    assert f"executionRole={ROLE}" in iam.detail
    assert "write logs to /aws/batch/job" in iam.detail
    assert "read secret envName" in iam.detail
    # aws/secretsmanager (the secret's default key) and a String parameter: nothing to decrypt.
    assert not any(p["action"] == "kms:Decrypt" for p in iam.data["permissions"])


def test_an_execution_role_that_may_not_read_the_secret_is_named_with_it(world):
    shape = fargate_world(world)
    secret_arn = shape.view.secrets[0].value_from
    shape.grant_execution_roles(skip=("read secret envName",))
    res = results(shape, ["IAM_CHECK"])["IAM_CHECK"]
    assert res.status is Status.FAIL
    assert_explained(res)
    assert res.detail.startswith(
        f"execution role {ROLE} may not secretsmanager:GetSecretValue on {secret_arn} "
        "(needed to read secret envName; no policy allows it)"
    )
    assert any(
        f"--role-name {ROLE}" in h and "secretsmanager:GetSecretValue" in h and secret_arn in h
        for h in res.hints
    )


def test_an_execution_role_that_may_not_read_the_parameter_is_named_with_it(world):
    shape = fargate_world(world, SSM)
    shape.grant_execution_roles(skip=("read secret envName",))
    res = results(shape, ["IAM_CHECK"])["IAM_CHECK"]
    assert res.status is Status.FAIL
    assert_explained(res)
    parameter_arn = f"arn:aws:ssm:{world.region}:123456789012:parameter/{PARAMETER_NAME}"
    assert (
        f"execution role {ROLE} may not ssm:GetParameters on {parameter_arn} "
        "(needed to read secret envName;" in res.detail
    )


def test_a_customer_managed_key_on_the_secret_needs_kms_decrypt(world):
    shape = fargate_world(world, customer_key=True)
    shape.grant_execution_roles()  # asked before the key was known: no kms:Decrypt
    res = results(shape, ["IAM_CHECK"])["IAM_CHECK"]
    assert res.status is Status.FAIL
    assert f"execution role {ROLE} may not kms:Decrypt on arn:aws:kms:" in res.detail
    assert "needed to decrypt secret envName with arn:aws:kms:" in res.detail


def test_a_customer_managed_key_the_execution_role_may_decrypt_with_passes(world):
    shape = fargate_world(world, customer_key=True)
    key = world.client("secretsmanager").describe_secret(SecretId=SECRET_NAME)["KmsKeyId"]
    key_arn = world.client("kms").describe_key(KeyId=key)["KeyMetadata"]["Arn"]
    world.client("iam").put_role_policy(
        RoleName=ROLE,
        PolicyName="decrypt",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "kms:Decrypt", "Resource": key_arn}],
            }
        ),
    )
    found = results(shape, ["JOBDEF_CHECK", "IAM_CHECK"])
    for res in found.values():
        assert res.status is Status.OK, (res.name, res.detail)
    assert f"decrypt secret envName with {key_arn}" in found["IAM_CHECK"].detail


@pytest.mark.parametrize("shape_id", [SECRETSMANAGER, SSM])
def test_a_fargate_task_reading_secrets_without_an_execution_role_fails(world, shape_id):
    shape = fargate_world(world, shape_id, execution_role=False)
    found = results(shape, ["JOBDEF_CHECK", "IAM_CHECK"])
    res = found["JOBDEF_CHECK"]
    assert res.status is Status.FAIL
    assert_explained(res)
    assert res.detail == (
        "ECSJobDefn48425E25:1: the job runs on Fargate ECS without an executionRoleArn, so it "
        "cannot fetch its secrets or write its awslogs"
    )
    assert "AmazonECSTaskExecutionRolePolicy" in res.hints[0]
    # IAM_CHECK waits on JOBDEF_CHECK, and says why it did not run.
    assert found["IAM_CHECK"].status is Status.SKIP
    assert found["IAM_CHECK"].detail.startswith("JOBDEF_CHECK is FAIL:")


def test_iam_check_alone_fails_a_fargate_task_reading_secrets_without_an_execution_role(world):
    shape = fargate_world(world, execution_role=False)
    res = results(shape, ["IAM_CHECK"])["IAM_CHECK"]
    assert res.status is Status.FAIL
    assert "container instance role" not in res.detail
