"""Every job-definition shape AWS Batch runs, from the shapes corpus (tests/data/
batch_shapes.json: AWS's examples, the Terraform and CDK acceptance tests, each entry with
its public source): a healthy one gives no FAIL and no WARN but the documented advice, and a
fault planted in one container, node range or role is named with that container, node range
or role.

The job definitions go through RegisterJobDefinition and DescribeJobDefinitions (moto with
the Batch answer layer, support.shapes), the roles and log groups through IAM and Logs.
"""

from __future__ import annotations

import json

import pytest
from support.checks import assert_explained, run
from support.shape_world import ShapeWorld
from support.shapes_data import answer, ids

from batch_health.models import CheckResult, Status

CHECKS = ["JOBDEF_CHECK", "IAM_CHECK", "LOG_GROUP_CHECK", "LOG_CONTENT_CHECK"]
# What a healthy job definition may still be told: documented advice, not a fault.
ADVICE = (
    "a transient failure (Spot reclaim, host error) fails the job at once",  # retryStrategy
    "has no executionRoleArn",  # EC2: the instance role pulls and logs, unchecked
)


@pytest.fixture
def world(shapes_aws):
    from batch_health.demo import WorldBuilder

    return WorldBuilder(None)


def results(shape: ShapeWorld, checks: list[str] = CHECKS) -> dict[str, CheckResult]:
    report = run(shape.target, checks)
    return {r.name: r for r in report.checks}


def assert_healthy(found: dict[str, CheckResult]) -> None:
    for result in found.values():
        assert result.status is not Status.FAIL, (result.name, result.detail)
        if result.status is Status.WARN:
            assert any(a in result.detail for a in ADVICE), (result.name, result.detail)


@pytest.mark.parametrize("shape_id", ids("job_definitions", healthy=True))
def test_a_healthy_job_definition_of_any_shape_raises_no_alarm(world, shape_id):
    shape = ShapeWorld(world, answer("job_definitions", shape_id)).build()
    found = results(shape)
    assert_healthy(found)
    jobdef = found["JOBDEF_CHECK"]
    assert jobdef.data["shape"] == shape.view.shape
    assert [c["where"] for c in jobdef.data["containers"]] == [
        c.where for c in shape.view.containers
    ]


@pytest.mark.parametrize(
    "shape_id", ["docs-eks-getting-started-sleep", "tf-eks-advanced-serviceaccount"]
)
def test_eks_jobs_skip_the_log_and_role_checks_saying_where_pods_log(world, shape_id):
    shape = ShapeWorld(world, answer("job_definitions", shape_id)).build()
    found = results(shape)
    for name in ("LOG_GROUP_CHECK", "LOG_CONTENT_CHECK"):
        assert found[name].status is Status.SKIP
        assert "/var/log/pods" in found[name].detail
        assert "/aws/containerinsights/<cluster>/application" in found[name].detail
    assert found["IAM_CHECK"].status is Status.SKIP
    account = shape.view.eks_pod.service_account or "default"
    assert f"service account {account}" in found["IAM_CHECK"].detail


def test_an_essential_container_without_an_image_is_named(world):
    jd = answer("job_definitions", "docs-multicontainer-ecs-ec2")
    del jd["ecsProperties"]["taskProperties"][0]["containers"][2]["image"]
    # AWS rejects a container without an image at registration: the describe answers it.
    from support.checks import patch_view

    mp = pytest.MonkeyPatch()
    try:
        patch_view(mp, job_definition=jd)
        res = run(ShapeWorld(world, jd).target, ["JOBDEF_CHECK"]).checks[0]
    finally:
        mp.undo()
    assert res.status is Status.FAIL
    assert_explained(res)
    assert res.detail == "multicontainer-ecs-ec2:1: container c3 has no image"
    assert "an image for container c3" in res.hints[0]


def test_no_essential_container_is_named_with_its_task(world):
    jd = answer("job_definitions", "docs-multicontainer-ecs-ec2")
    jd["ecsProperties"]["taskProperties"][0]["containers"][2]["essential"] = False
    shape = ShapeWorld(world, jd)
    from support.checks import patch_view

    mp = pytest.MonkeyPatch()
    try:
        patch_view(mp, job_definition=jd)
        res = run(shape.target, ["JOBDEF_CHECK"]).checks[0]
    finally:
        mp.undo()
    assert res.status is Status.FAIL
    assert "the job has no essential container" in res.detail


def test_depends_on_a_container_the_task_does_not_have_is_named(world):
    jd = answer("job_definitions", "tf-ecs-properties-fargate-dependson")
    containers = jd["ecsProperties"]["taskProperties"][0]["containers"]
    containers[0]["dependsOn"][0]["containerName"] = "container_c"
    containers[0]["secrets"] = []  # the source's "DUMMY" secret is not what is tested here
    shape = ShapeWorld(world, jd).build()
    res = results(shape, ["JOBDEF_CHECK"])["JOBDEF_CHECK"]
    assert res.status is Status.FAIL
    assert "container container_a dependsOn container_c, which is no container of its task" in (
        res.detail
    )


def test_a_node_range_covering_no_node_is_named(world):
    jd = answer("job_definitions", "tf-node-properties-advanced")
    jd["nodeProperties"]["nodeRangeProperties"][1]["targetNodes"] = "4:"
    shape = ShapeWorld(world, jd).build()
    res = results(shape, ["JOBDEF_CHECK"])["JOBDEF_CHECK"]
    assert res.status is Status.FAIL
    assert_explained(res)
    assert "node range 4: covers no node of the job's 4 (nodes 0..3)" in res.detail


def test_nodes_left_out_of_every_range_are_named(world):
    jd = answer("job_definitions", "docs-gromacs-mnp")
    jd["nodeProperties"]["numNodes"] = 4
    shape = ShapeWorld(world, jd).build()
    res = results(shape, ["JOBDEF_CHECK"])["JOBDEF_CHECK"]
    assert res.status is Status.FAIL
    assert "nodes 2-3 of 4 are in no node range" in res.detail


def two_ranges_two_roles() -> dict:
    """tf-node-properties-advanced with one execution role per node range (as the API
    allows: NodeRangeProperty.container.executionRoleArn)."""
    jd = answer("job_definitions", "tf-node-properties-advanced")
    for i, r in enumerate(jd["nodeProperties"]["nodeRangeProperties"]):
        r["container"]["executionRoleArn"] = f"arn:aws:iam::123456789012:role/mnp-exec-{i}"
        r["container"]["image"] = f"123456789012.dkr.ecr.{'ap-northeast-2'}.amazonaws.com/mpi:{i}"
    return jd


def test_every_node_ranges_execution_role_is_checked(world):
    shape = ShapeWorld(world, two_ranges_two_roles()).build()
    res = results(shape, ["IAM_CHECK"])["IAM_CHECK"]
    assert res.status is Status.OK, res.detail
    assert {p["role"] for p in res.data["permissions"]} == {"mnp-exec-0", "mnp-exec-1"}
    assert "execution role mnp-exec-1 (node range 1:)" in res.detail


def test_a_missing_node_range_execution_role_is_named_with_its_range(world):
    shape = ShapeWorld(world, two_ranges_two_roles()).build()
    iam = world.client("iam")
    iam.delete_role_policy(RoleName="mnp-exec-1", PolicyName="execution")
    iam.delete_role(RoleName="mnp-exec-1")
    res = results(shape, ["IAM_CHECK"])["IAM_CHECK"]
    assert res.status is Status.FAIL
    assert_explained(res)
    assert res.detail.startswith("execution role mnp-exec-1 (node range 1:) does not exist")
    assert "mnp-exec-0" not in res.detail


def test_a_node_ranges_role_that_may_not_pull_its_image_is_named(world):
    shape = ShapeWorld(world, two_ranges_two_roles()).build()
    # Range 0's role loses its ECR pull grant; range 1's keeps everything.
    shape.grant_execution_roles(skip=("pull mpi from ECR (node range 0:",))
    res = results(shape, ["IAM_CHECK"])["IAM_CHECK"]
    assert res.status is Status.FAIL
    assert "execution role mnp-exec-0 may not ecr:BatchGetImage, ecr:GetDownloadUrlForLayer" in (
        res.detail
    )
    assert "(needed to pull mpi from ECR (node range 0: container)" in res.detail
    assert "mnp-exec-1 may not" not in res.detail


def test_a_fargate_task_without_an_execution_role_is_named_with_what_it_needs(world):
    jd = answer("job_definitions", "tf-ecs-properties-fargate-dependson")
    del jd["ecsProperties"]["taskProperties"][0]["executionRoleArn"]
    shape = ShapeWorld(world, jd).build()
    res = results(shape, ["JOBDEF_CHECK"])["JOBDEF_CHECK"]
    assert res.status is Status.FAIL
    assert (
        "the job runs on Fargate ECS without an executionRoleArn, so it cannot fetch its "
        "secrets or write its awslogs" in res.detail
    )


# --- secrets -------------------------------------------------------------------------
def secrets_world(world, *, customer_key: bool = False) -> ShapeWorld:
    """cdk-ec2-secrets-efs, its three secrets created in the emulator: the job definition
    names the emulator's ARNs (their 6-character suffixes are random) in its Region."""
    jd = answer("job_definitions", "cdk-ec2-secrets-efs")
    key = world.client("kms").create_key()["KeyMetadata"]["Arn"] if customer_key else None
    sm = world.client("secretsmanager")
    first = sm.create_secret(
        Name="mySecretE4D0A59C", SecretString="s3cret", **({"KmsKeyId": key} if key else {})
    )["ARN"]
    second = sm.create_secret(Name="anotherSecret11974229", SecretString='{"bar": "x"}')["ARN"]
    # The corpus names the parameter by the template's logical id, `ssm85049941`, which AWS
    # refuses as a name (none may begin with "ssm"); CloudFormation names a parameter that
    # has no Name `CFN-<logical id>-<random>`, as here.
    parameter = "CFN-ssm85049941-Jk2mN8"
    world.client("ssm").put_parameter(Name=parameter, Value="12:00", Type="SecureString")
    secrets = jd["containerProperties"]["secrets"]
    secrets[0]["valueFrom"] = first
    secrets[1]["valueFrom"] = f"{second}::bar:foo"
    secrets[2]["valueFrom"] = (
        secrets[2]["valueFrom"]
        .replace("us-east-1", world.region)
        .replace("parameter/ssm85049941", f"parameter/{parameter}")
    )
    return ShapeWorld(world, jd).build()


def test_an_execution_role_allowed_every_secret_passes(world):
    shape = secrets_world(world)
    res = results(shape, ["IAM_CHECK"])["IAM_CHECK"]
    assert res.status is Status.OK, res.detail
    for name in ("MY_SECRET_ENV_VAR", "ANOTHER_ONE", "SSM_TIME"):
        assert f"read secret {name}" in res.detail
    resources = {p["resource"] for p in res.data["permissions"]}
    # The JSON key and version suffix is no part of the ARN IAM authorizes.
    assert not any(r.endswith("::bar:foo") for r in resources)


def test_a_secret_the_execution_role_may_not_read_is_named(world):
    shape = secrets_world(world)
    shape.grant_execution_roles(skip=("read secret ANOTHER_ONE",))
    res = results(shape, ["IAM_CHECK"])["IAM_CHECK"]
    assert res.status is Status.FAIL
    assert_explained(res)
    assert "may not secretsmanager:GetSecretValue on arn:aws:secretsmanager:" in res.detail
    assert "(needed to read secret ANOTHER_ONE;" in res.detail
    assert any("put-role-policy" in h and "secretsmanager:GetSecretValue" in h for h in res.hints)


def test_a_parameter_the_execution_role_may_not_read_is_named(world):
    shape = secrets_world(world)
    shape.grant_execution_roles(skip=("read secret SSM_TIME",))
    res = results(shape, ["IAM_CHECK"])["IAM_CHECK"]
    assert res.status is Status.FAIL
    assert "may not ssm:GetParameters on arn:aws:ssm:" in res.detail
    assert "parameter/CFN-ssm85049941-Jk2mN8 (needed to read secret SSM_TIME;" in res.detail


def test_a_customer_managed_key_needs_kms_decrypt(world):
    shape = secrets_world(world, customer_key=True)
    shape.grant_execution_roles()  # asked before the key was known: no kms:Decrypt
    res = results(shape, ["IAM_CHECK"])["IAM_CHECK"]
    assert res.status is Status.FAIL
    assert "may not kms:Decrypt on arn:aws:kms:" in res.detail
    assert "needed to decrypt secret MY_SECRET_ENV_VAR with arn:aws:kms:" in res.detail


def test_a_customer_managed_key_granted_passes(world):
    shape = secrets_world(world, customer_key=True)
    key = world.client("secretsmanager").describe_secret(SecretId="mySecretE4D0A59C")["KmsKeyId"]
    key_arn = world.client("kms").describe_key(KeyId=key)["KeyMetadata"]["Arn"]
    world.client("iam").put_role_policy(
        RoleName="stack-myContainerExecutionRoleEBACF86C",
        PolicyName="decrypt",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "kms:Decrypt", "Resource": key_arn}],
            }
        ),
    )
    res = results(shape, ["IAM_CHECK"])["IAM_CHECK"]
    assert res.status is Status.OK, res.detail
    assert f"decrypt secret MY_SECRET_ENV_VAR with {key_arn}" in res.detail


def test_the_aws_managed_keys_need_no_grant(world):
    shape = secrets_world(world)  # the secrets use aws/secretsmanager, the parameter aws/ssm
    res = results(shape, ["IAM_CHECK"])["IAM_CHECK"]
    assert not any(p["action"] == "kms:Decrypt" for p in res.data["permissions"])


def test_a_key_the_monitor_cannot_learn_is_said_not_guessed(world, monkeypatch):
    from batch_health.aws.iam_reads import SecretKeys
    from batch_health.aws.inventory import TargetView

    shape = secrets_world(world)
    value_from = shape.view.secrets[0].value_from
    unknown = SecretKeys(unknown={value_from: "secretsmanager:DescribeSecret: access denied"})
    monkeypatch.setattr(TargetView, "secret_keys", lambda self: unknown)
    res = results(shape, ["IAM_CHECK"])["IAM_CHECK"]
    assert res.status is Status.WARN
    assert f"cannot tell whether {value_from} is encrypted with a customer managed KMS key" in (
        res.detail
    )
    assert "kms:DescribeKey" in res.hints[0]
