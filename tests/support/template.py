"""template.yaml as written (before the SAM transform): parsed once, its resources by type,
and the text of a plain or !Sub string."""

from __future__ import annotations

from typing import Any

from samcli.yamlhelper import yaml_parse

from support.cfn import ROOT

TEMPLATE = yaml_parse((ROOT / "template.yaml").read_text())
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
PARAMETERS: dict[str, Any] = TEMPLATE["Parameters"]


def of_type(kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in RESOURCES.items() if r["Type"] == kind}


def sub_text(value: Any) -> str:
    """The text of a plain or !Sub string."""
    if isinstance(value, dict) and "Fn::Sub" in value:
        value = value["Fn::Sub"]
        return value[0] if isinstance(value, list) else value
    assert isinstance(value, str), value
    return value
