"""A target's IAM reads: the roles its job definition names, their policies, the IAM
simulator's answers, and the KMS keys of the job's secrets (part of `TargetView`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any

from batch_health.aws.concurrency import fan_out
from batch_health.aws.errors import AWS_ERRORS, classify
from batch_health.aws.simulation import SimulationKey
from batch_health.aws.view_base import ViewBase
from batch_health.domain.arns import arn_account, arn_partition, role_name_from_arn
from batch_health.domain.execution_role import (
    execution_role_needs,
    is_aws_managed_alias,
    secret_resource,
)
from batch_health.domain.iam_policy import PolicyDocument, parse_document

# ssm:DescribeParameters takes up to 50 values in a Name filter (ParameterStringFilter).
# https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_ParameterStringFilter.html
SSM_NAME_FILTER_MAX = 50


@dataclass(frozen=True)
class SecretKeys:
    """Which KMS key encrypts each of the job's secrets (by `valueFrom`): a customer
    managed key's ARN, or None for an AWS managed key; `unknown` says why a key is not known."""

    keys: dict[str, str | None] = field(default_factory=dict)
    unknown: dict[str, str] = field(default_factory=dict)


class IamReads(ViewBase):
    def role(self, name: str) -> dict[str, Any] | None:
        def fetch() -> dict[str, Any] | None:
            iam = self.client("iam")
            try:
                return iam.get_role(RoleName=name)["Role"]
            except iam.exceptions.NoSuchEntityException:
                return None

        return self._once(("role", name), fetch)

    def job_roles(self) -> dict[str, dict[str, Any] | None]:
        """Every role the job definition names (ARN -> role, None when missing), read side
        by side as soon as the job definition is. An error reading one is raised."""
        jd = self.job_definition()
        arns = [a for a in (jd.named_roles if jd is not None else {}) if role_name_from_arn(a)]
        roles = fan_out([partial(self.role, role_name_from_arn(a)) for a in arns])
        return dict(zip(arns, roles, strict=True))

    def role_policy_documents(self, role_name: str) -> list[PolicyDocument]:
        """A role's identity policies: attached managed (default version), then inline. The
        two lists, and the documents of each, are read side by side."""

        def fetch() -> list[PolicyDocument]:
            attached, inline = fan_out(
                [
                    lambda: self._attached_policies(role_name),
                    lambda: self._inline_policies(role_name),
                ]
            )
            return attached + inline

        return self._once(("role_policies", role_name), fetch)

    def _attached_policies(self, role_name: str) -> list[PolicyDocument]:
        pages = self.client("iam").get_paginator("list_attached_role_policies")
        attached = [
            p
            for page in pages.paginate(RoleName=role_name)
            for p in page.get("AttachedPolicies", [])
        ]
        documents = fan_out(
            [partial(self.managed_policy_document, p["PolicyArn"]) for p in attached]
        )
        return [
            PolicyDocument(f"managed policy {p.get('PolicyName') or p['PolicyArn']}", doc)
            for p, doc in zip(attached, documents, strict=True)
        ]

    def _inline_policies(self, role_name: str) -> list[PolicyDocument]:
        iam = self.client("iam")
        pages = iam.get_paginator("list_role_policies").paginate(RoleName=role_name)
        names = [name for page in pages for name in page.get("PolicyNames", [])]

        def document(name: str) -> dict[str, Any]:
            doc = iam.get_role_policy(RoleName=role_name, PolicyName=name)["PolicyDocument"]
            return parse_document(doc)

        documents = fan_out([partial(document, name) for name in names])
        return [
            PolicyDocument(f"inline policy {name}", doc)
            for name, doc in zip(names, documents, strict=True)
        ]

    def managed_policy_document(self, policy_arn: str) -> dict[str, Any]:
        """The default version of a managed policy (shared by every role it is attached to)."""

        def fetch() -> dict[str, Any]:
            iam = self.client("iam")
            version = iam.get_policy(PolicyArn=policy_arn)["Policy"]["DefaultVersionId"]
            doc = iam.get_policy_version(PolicyArn=policy_arn, VersionId=version)
            return parse_document(doc["PolicyVersion"]["Document"])

        return self._once(("managed_policy", policy_arn), fetch)

    def simulate_principal_policy(
        self, principal_arn: str, actions: tuple[str, ...], resource_arn: str
    ) -> list[dict[str, Any]]:
        """iam:SimulatePrincipalPolicy's answer, per action, for one resource ARN (asked
        together with the other targets' resources of the same role and actions)."""
        answer = self._acct.simulations.get(
            SimulationKey(principal_arn, tuple(actions), resource_arn)
        )
        if isinstance(answer, BaseException):
            raise answer
        return list(answer)

    # Reads ahead for IAM_CHECK: each goes as soon as the job definition names its roles.
    def execution_role_simulation(self) -> list[dict[str, Any]]:
        """The simulator's answers for what each execution role must be allowed (one call
        per role, for every target of the role), the keys of the job's secrets aside."""
        needs = execution_role_needs(self.target, self.job_definition(), self.region)
        return [
            answer
            for n in needs
            for r in n.requirements
            for answer in self.simulate_principal_policy(n.role_arn, r.actions, r.resource)
        ]

    def execution_role_policies(self) -> list[PolicyDocument] | None:
        """The execution roles' policies, for the local evaluation should the simulator not
        answer. Speculative: read alongside the simulation, not after its refusal; where
        the simulator answers (AWS, once permitted) they are not needed, so they are not
        read for a role whose simulation answered before (in this process)."""
        needs = execution_role_needs(self.target, self.job_definition(), self.region)
        answered = self._acct.sessions.simulator_answered
        roles = [n.role_arn for n in needs if n.requirements and n.role_arn not in answered]
        if not roles:
            return None
        documents = fan_out(
            [partial(self.role_policy_documents, role_name_from_arn(r)) for r in roles]
        )
        return [d for docs in documents for d in docs]

    # --- the KMS keys of the job's secrets -----------------------------------------
    def secret_keys(self) -> SecretKeys:
        """Each secret's KMS key: Secrets Manager's DescribeSecret (KmsKeyId, absent for
        aws/secretsmanager), SSM's DescribeParameters (KeyId of a SecureString), then
        kms:DescribeKey (is it customer managed?). Read once the job definition names them."""
        return self._once(("secret_keys", self.target.job_definition), self._fetch_secret_keys)

    def _fetch_secret_keys(self) -> SecretKeys:
        jd = self.job_definition()
        out = SecretKeys()
        if jd is None or not jd.secrets:
            return out
        role = next(iter(jd.execution_roles), "")
        by_resource: dict[str, list[str]] = {}
        for secret in jd.secrets:
            resource = secret_resource(
                secret,
                region=self.region or "",
                account=arn_account(role),
                partition=arn_partition(role),
            )
            by_resource.setdefault(resource, []).append(secret.value_from)
        ssm = [r for r in by_resource if r.split(":")[2:3] == ["ssm"]]
        named = self._parameter_kms_keys(ssm) if ssm else {}
        others = [r for r in by_resource if r not in ssm]
        named.update(
            zip(others, fan_out([partial(self._secret_kms_key, r) for r in others]), strict=True)
        )
        for resource, (key, error) in named.items():
            if not error and key:
                try:
                    out.keys.update(dict.fromkeys(by_resource[resource], self.customer_key(key)))
                    continue
                except AWS_ERRORS as exc:
                    error = f"kms:DescribeKey {key}: {classify(exc).summary}"
            if error:
                out.unknown.update(dict.fromkeys(by_resource[resource], error))
            else:
                out.keys.update(dict.fromkeys(by_resource[resource], None))
        return out

    def _secret_kms_key(self, arn: str) -> tuple[str, str]:
        """(the key Secrets Manager names for the secret, "" for its default; error)."""
        try:
            answer = self.client("secretsmanager").describe_secret(SecretId=arn)
        except AWS_ERRORS as exc:
            return "", f"secretsmanager:DescribeSecret {arn}: {classify(exc).summary}"
        return str(answer.get("KmsKeyId") or ""), ""

    def _parameter_kms_keys(self, arns: list[str]) -> dict[str, tuple[str, str]]:
        """parameter ARN -> (its SecureString key, "" for a String; error). A parameter's
        ARN drops the name's leading slash, so both spellings are asked for."""
        names: dict[str, str] = {}
        for arn in arns:
            bare = arn.split(":parameter/", 1)[-1]
            names.update({bare: arn, f"/{bare}": arn})
        found: dict[str, tuple[str, str]] = {}
        paginator = self.client("ssm").get_paginator("describe_parameters")
        wanted = list(names)
        for i in range(0, len(wanted), SSM_NAME_FILTER_MAX):
            chunk = wanted[i : i + SSM_NAME_FILTER_MAX]
            try:
                for page in paginator.paginate(
                    ParameterFilters=[{"Key": "Name", "Option": "Equals", "Values": chunk}]
                ):
                    for p in page.get("Parameters", []):
                        secure = p.get("Type") == "SecureString"
                        key = str(p.get("KeyId") or "") if secure else ""
                        found[names.get(p.get("Name", ""), "")] = (key, "")
            except AWS_ERRORS as exc:
                error = f"ssm:DescribeParameters: {classify(exc).summary}"
                found.update({names[n]: ("", error) for n in chunk if names[n] not in found})
        return {a: found.get(a, ("", "")) for a in arns}

    def customer_key(self, key: str) -> str | None:
        """The key's ARN when it is a customer managed key; None for an AWS managed key."""
        if is_aws_managed_alias(key):
            return None

        def fetch() -> str | None:
            meta = self.client("kms").describe_key(KeyId=key)["KeyMetadata"]
            return str(meta["Arn"]) if meta.get("KeyManager") == "CUSTOMER" else None

        return self._once(("kms_key", key), fetch)
