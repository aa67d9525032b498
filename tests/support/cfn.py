"""CloudFormation offline: a template as a stack would be created from it.

`deploy` runs the SAM transform (samtranslator, as `sam deploy` has CloudFormation do),
validates the parameters as CreateStack does (Type, AllowedValues, AllowedPattern,
MinLength/MaxLength, MinValue/MaxValue, the template's Rules), evaluates the conditions and
resolves every intrinsic function, so tests can read the roles, environments and bodies a
real deployment would have.

CloudFormation rules that linters have missed are enforced here (TemplateError), quoting
AWS's documentation:
- Fn::Join: "For the Fn::Join delimiter, you can't use any functions. You must specify a
  string value."
  https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference-join.html
- Fn::Split: the delimiter is a string value.
- Fn::Sub: "String ... you can't use any functions" for the template string.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from samcli.yamlhelper import yaml_parse
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator

ROOT = Path(__file__).resolve().parents[2]
REGION, ACCOUNT, STACK = "ap-northeast-2", "123456789012", "batch-health-dev"


class TemplateError(ValueError):
    """CloudFormation would reject the template (or these parameters) at CreateStack."""


class _NoValue:
    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE = _NoValue()
SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")
# CloudFormation's generated physical names: "<stack>-<logical id>-<random>", cut to the
# resource type's maximum.
NAME_LIMITS = {
    "AWS::Lambda::Function": 64,
    "AWS::IAM::Role": 64,
    "AWS::SNS::Topic": 256,
    "AWS::SQS::Queue": 80,
    "AWS::DynamoDB::Table": 255,
    "AWS::Events::Rule": 64,
    "AWS::Scheduler::Schedule": 64,
}


def load(path: str | Path) -> dict[str, Any]:
    return yaml_parse(Path(path).read_text())


def sam_transform(
    template: dict[str, Any], parameters: Mapping[str, str], region: str, account: str, stack: str
) -> dict[str, Any]:
    """The CloudFormation template the SAM transform makes (code stubbed as S3 URIs)."""
    doc = copy.deepcopy(template)
    if "Transform" not in doc:
        return doc
    for resource in doc.get("Resources", {}).values():
        for key in ("CodeUri", "ContentUri"):
            if key in resource.get("Properties", {}):
                resource["Properties"][key] = "s3://bucket/key.zip"
    session = boto3.Session(
        region_name=region, aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    translator = Translator(None, Parser(), boto_session=session)
    values = {**parameters, "AWS::AccountId": account, "AWS::StackName": stack}
    return translator.translate(doc, parameter_values=values, get_managed_policy_map=dict)


@dataclass
class Stack:
    """A created stack: its resolved parameters, conditions and resources."""

    template: dict[str, Any]
    parameters: dict[str, Any]
    region: str = REGION
    account: str = ACCOUNT
    name: str = STACK
    partition: str = "aws"
    conditions: dict[str, bool] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in self.template.get("Conditions", {}):
            self.condition(name)
        self._names: dict[str, str] = {}

    # --- what is deployed -------------------------------------------------------------
    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        """Resources whose Condition holds, properties resolved."""
        return {
            name: {**res, "Properties": self.resolve(res.get("Properties", {}))}
            for name, res in self.template["Resources"].items()
            if self.exists(name)
        }

    @property
    def outputs(self) -> dict[str, Any]:
        """Outputs whose Condition holds, values resolved."""
        return {
            name: self.resolve(out.get("Value"))
            for name, out in self.template.get("Outputs", {}).items()
            if out.get("Condition") is None or self.condition(out["Condition"])
        }

    def exists(self, logical: str) -> bool:
        cond = self.template["Resources"][logical].get("Condition")
        return cond is None or self.condition(cond)

    def properties(self, logical: str) -> dict[str, Any]:
        if not self.exists(logical):
            raise KeyError(f"{logical} is not created with these parameters")
        return self.resolve(self.template["Resources"][logical].get("Properties", {}))

    def role_policy_documents(self, role: str) -> list[tuple[str, dict[str, Any]]]:
        """(policy name, document) of a role's inline policies and its AWS::IAM::Policy."""
        docs = [
            (p["PolicyName"], p["PolicyDocument"])
            for p in self.properties(role).get("Policies", [])
        ]
        for logical, res in self.template["Resources"].items():
            if res["Type"] == "AWS::IAM::Policy" and self.exists(logical):
                props = self.properties(logical)
                if {"Ref": role} in self.template["Resources"][logical]["Properties"].get(
                    "Roles", []
                ):
                    docs.append((props["PolicyName"], props["PolicyDocument"]))
        return docs

    def managed_policy_documents(self, role: str) -> list[tuple[str, dict[str, Any]]]:
        """(logical ID, document) of the template's AWS::IAM::ManagedPolicy attached to a role
        (each has its own size limit, outside the role's inline aggregate)."""
        name = self.resolve({"Ref": role})
        return [
            (logical, self.properties(logical)["PolicyDocument"])
            for logical, res in self.template["Resources"].items()
            if res["Type"] == "AWS::IAM::ManagedPolicy"
            and self.exists(logical)
            and name in self.properties(logical).get("Roles", [])
        ]

    # --- conditions -----------------------------------------------------------------
    def condition(self, name: str) -> bool:
        if name not in self.conditions:
            spec = self.template.get("Conditions", {}).get(name)
            if spec is None:
                raise TemplateError(f"condition {name} is not defined")
            self.conditions[name] = bool(self._condition_value(spec))
        return self.conditions[name]

    def _condition_value(self, spec: Any) -> Any:
        if isinstance(spec, dict) and len(spec) == 1:
            ((fn, arg),) = spec.items()
            if fn == "Condition":
                return self.condition(arg)
            if fn == "Fn::Equals":
                left, right = (self._condition_value(x) for x in arg)
                return _scalar(left) == _scalar(right)
            if fn == "Fn::Not":
                return not self._condition_value(arg[0])
            if fn == "Fn::And":
                return all(self._condition_value(x) for x in arg)
            if fn == "Fn::Or":
                return any(self._condition_value(x) for x in arg)
            if fn == "Fn::Contains":
                items, value = self._condition_value(arg[0]), self._condition_value(arg[1])
                return value in items
            if fn == "Fn::EachMemberEquals":
                items, value = self._condition_value(arg[0]), self._condition_value(arg[1])
                return all(i == value for i in items)
        return self.resolve(spec)

    def check_rules(self) -> None:
        """The template's Rules, as CreateStack evaluates them."""
        for name, rule in self.template.get("Rules", {}).items():
            if "RuleCondition" in rule and not self._condition_value(rule["RuleCondition"]):
                continue
            for assertion in rule.get("Assertions", []):
                if not self._condition_value(assertion["Assert"]):
                    raise TemplateError(
                        f"rule {name}: {assertion.get('AssertDescription', 'assertion failed')}"
                    )

    # --- intrinsic functions ---------------------------------------------------------
    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            items = [self.resolve(v) for v in value]
            return [v for v in items if v is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref" or key.startswith("Fn::"):
                return self._function(key, arg)
        out = {}
        for k, v in value.items():
            resolved = self.resolve(v)
            if resolved is not NO_VALUE:
                out[k] = resolved
        return out

    def _function(self, fn: str, arg: Any) -> Any:
        if fn == "Ref":
            return self.ref(arg)
        if fn == "Fn::GetAtt":
            logical, attr = arg.split(".", 1) if isinstance(arg, str) else arg
            return self.get_att(logical, self.resolve(attr))
        if fn == "Fn::Sub":
            return self._sub(arg)
        if fn == "Fn::Join":
            delimiter, items = arg
            if not isinstance(delimiter, str):
                raise TemplateError(
                    f"Fn::Join delimiter {json.dumps(delimiter)} is a function: 'For the "
                    "Fn::Join delimiter, you can't use any functions. You must specify a "
                    "string value.'"
                )
            return delimiter.join(_scalar(v) for v in self.resolve(items))
        if fn == "Fn::Split":
            delimiter, source = arg
            if not isinstance(delimiter, str):
                raise TemplateError(f"Fn::Split delimiter {json.dumps(delimiter)} is a function")
            return _scalar(self.resolve(source)).split(delimiter)
        if fn == "Fn::Select":
            index, items = arg
            items = self.resolve(items)
            return items[int(self.resolve(index))]
        if fn == "Fn::If":
            name, yes, no = arg
            return self.resolve(yes if self.condition(name) else no)
        if fn == "Fn::FindInMap":
            table, first, second = (self.resolve(a) for a in arg)
            return self.template["Mappings"][table][first][second]
        if fn in ("Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or"):
            return self._condition_value({fn: arg})
        raise TemplateError(f"{fn} is not supported by this offline model")

    def _sub(self, arg: Any) -> str:
        if isinstance(arg, list):
            text, variables = arg
        else:
            text, variables = arg, {}
        if not isinstance(text, str):
            raise TemplateError(f"Fn::Sub template {json.dumps(text)} must be a literal string")
        values = {k: _scalar(self.resolve(v)) for k, v in variables.items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in values:
                return values[name]
            if "." in name and name.split(".", 1)[0] in self.template["Resources"]:
                logical, attr = name.split(".", 1)
                return _scalar(self.get_att(logical, attr))
            return _scalar(self.ref(name))

        return SUB_VARIABLE.sub(replace, text).replace("${!", "${")

    def ref(self, name: str) -> Any:
        pseudo = {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account,
            "AWS::Partition": self.partition,
            "AWS::StackName": self.name,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackId": f"arn:{self.partition}:cloudformation:{self.region}:{self.account}"
            f":stack/{self.name}/00000000-0000-0000-0000-000000000000",
            "AWS::NoValue": NO_VALUE,
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.template.get("Resources", {}):
            return self._physical_ref(name)
        raise TemplateError(f"Ref {name}: no such parameter or resource")

    def physical_name(self, logical: str) -> str:
        """The resource's name: its name property, else what CloudFormation generates."""
        if logical not in self._names:
            res = self.template["Resources"][logical]
            props = res.get("Properties", {})
            for key in (
                "FunctionName",
                "RoleName",
                "TopicName",
                "QueueName",
                "TableName",
                "AlarmName",
                "DashboardName",
                "LogGroupName",
                "LayerName",
                "EventBusName",
                "Name",
            ):
                if key in props:
                    self._names[logical] = _scalar(self.resolve(props[key]))
                    break
            else:
                suffix = hashlib.sha1(logical.encode()).hexdigest()[:12].upper()
                name = f"{self.name}-{logical}-{suffix}"
                limit = NAME_LIMITS.get(res["Type"])
                if limit and len(name) > limit:
                    keep = limit - len(suffix) - 1
                    name = f"{name[:keep]}-{suffix}"
                self._names[logical] = name
        return self._names[logical]

    def _arn(self, service: str, resource: str, *, region: bool = True) -> str:
        where = self.region if region else ""
        return f"arn:{self.partition}:{service}:{where}:{self.account}:{resource}"

    def _physical_ref(self, logical: str) -> str:
        kind = self.template["Resources"][logical]["Type"]
        name = self.physical_name(logical)
        if kind == "AWS::SNS::Topic":
            return self._arn("sns", name)
        if kind == "AWS::SQS::Queue":
            return f"https://sqs.{self.region}.amazonaws.com/{self.account}/{name}"
        if kind == "AWS::KMS::Key":
            return str(_uuid(logical))
        if kind == "AWS::Lambda::LayerVersion":
            return self._arn("lambda", f"layer:{name}:1")
        if kind == "AWS::SNS::Subscription":
            return self._arn("sns", f"{name}:{_uuid(logical)}")
        return name

    def get_att(self, logical: str, attr: str) -> Any:
        kind = self.template["Resources"][logical]["Type"]
        name = self.physical_name(logical)
        arns = {
            "AWS::Lambda::Function": self._arn("lambda", f"function:{name}"),
            "AWS::IAM::Role": self._arn("iam", f"role/{name}", region=False),
            "AWS::SNS::Topic": self._arn("sns", name),
            "AWS::SQS::Queue": self._arn("sqs", name),
            "AWS::DynamoDB::Table": self._arn("dynamodb", f"table/{name}"),
            "AWS::KMS::Key": self._arn("kms", f"key/{_uuid(logical)}"),
            "AWS::CloudWatch::Alarm": self._arn("cloudwatch", f"alarm:{name}"),
            "AWS::Logs::LogGroup": self._arn("logs", f"log-group:{name}:*"),
            "AWS::Events::Rule": self._arn("events", f"rule/{name}"),
            "AWS::Events::EventBus": self._arn("events", f"event-bus/{name}"),
            "AWS::Scheduler::Schedule": self._arn("scheduler", f"schedule/default/{name}"),
        }
        if attr == "Arn" and kind in arns:
            return arns[kind]
        special = {
            ("AWS::SNS::Topic", "TopicName"): name,
            ("AWS::SNS::Topic", "TopicArn"): arns["AWS::SNS::Topic"],
            ("AWS::SQS::Queue", "QueueName"): name,
            ("AWS::SQS::Queue", "QueueUrl"): self._physical_ref(logical),
            ("AWS::DynamoDB::Table", "StreamArn"): f"{arns['AWS::DynamoDB::Table']}/stream/x",
            ("AWS::KMS::Key", "KeyId"): str(_uuid(logical)),
            ("AWS::IAM::Role", "RoleId"): f"AROA{hashlib.sha1(name.encode()).hexdigest()[:17]}",
            ("AWS::Events::EventBus", "Name"): name,
        }
        if (kind, attr) in special:
            return special[kind, attr]
        raise TemplateError(f"Fn::GetAtt {logical}.{attr} ({kind}) is not modelled")


def _uuid(seed: str) -> str:
    h = hashlib.sha1(seed.encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):
        return ",".join(_scalar(v) for v in value)
    if not isinstance(value, str):
        raise TemplateError(f"expected a string, got {json.dumps(value)}")
    return value


def validate_parameters(template: dict[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters as CreateStack types and validates them; TemplateError names the
    parameter and the rule it breaks."""
    specs: dict[str, Any] = template.get("Parameters", {})
    unknown = set(given) - set(specs)
    if unknown:
        raise TemplateError(f"unknown parameters: {sorted(unknown)}")
    values: dict[str, Any] = {}
    for name, spec in specs.items():
        if name in given:
            raw = str(given[name])
        elif "Default" in spec:
            raw = str(spec["Default"])
        else:
            raise TemplateError(f"parameter {name}: no value and no Default")
        problem = parameter_problem(spec, raw)
        if problem:
            raise TemplateError(f"parameter {name}: {problem}")
        listed = spec.get("Type", "String") == "CommaDelimitedList"
        values[name] = raw.split(",") if listed else raw
    return values


def parameter_problem(spec: dict[str, Any], raw: str) -> str | None:
    """The rule of the parameter's spec that `raw` breaks, or None."""
    kind = spec.get("Type", "String")
    items = raw.split(",") if kind == "CommaDelimitedList" else [raw]
    if "MaxLength" in spec and len(raw) > int(spec["MaxLength"]):
        return f"longer than MaxLength {spec['MaxLength']}"
    if "MinLength" in spec and len(raw) < int(spec["MinLength"]):
        return f"shorter than MinLength {spec['MinLength']}"
    if "AllowedValues" in spec and raw not in [str(v) for v in spec["AllowedValues"]]:
        return f"{raw!r} is not an allowed value"
    pattern = spec.get("AllowedPattern")
    bad = [item for item in items if pattern and not re.fullmatch(pattern, item)]
    if bad:
        return f"{bad[0]!r} does not match {pattern}"
    if kind == "Number" and not (
        float(spec.get("MinValue", "-inf")) <= float(raw) <= float(spec.get("MaxValue", "inf"))
    ):
        return f"{raw} is outside [{spec.get('MinValue')}, {spec.get('MaxValue')}]"
    return None


def deploy(
    template: str | Path | dict[str, Any] = ROOT / "template.yaml",
    parameters: Mapping[str, Any] | None = None,
    *,
    region: str = REGION,
    account: str = ACCOUNT,
    stack_name: str = STACK,
) -> Stack:
    """The stack CreateStack would create from `template` with `parameters`."""
    doc = template if isinstance(template, dict) else load(template)
    given = dict(parameters or {})
    values = validate_parameters(doc, given)
    transformed = sam_transform(doc, given, region, account, stack_name)
    stack = Stack(transformed, values, region=region, account=account, name=stack_name)
    stack.check_rules()
    return stack
