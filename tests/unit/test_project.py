"""The project's own rules, checked: where code goes, how checks are named, what each
check prefetches, how long modules grow, and that `make lint` and pre-commit agree."""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

import pytest
import yaml

from batch_health.aws.inventory import TargetView
from batch_health.checks import REGISTRY, Check

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "layers" / "batch_health"
MAX_MODULE_LINES = 400


@pytest.mark.parametrize("check", REGISTRY, ids=lambda c: c.name)
def test_a_checks_id_class_and_module_agree(check: Check):
    """QUEUE_CHECK is QueueCheck in checks/queue.py: one module per check, found by its id."""
    expected_class = "".join(part.capitalize() for part in check.name.split("_"))
    expected_module = check.name.lower().removesuffix("_check")
    assert type(check).__name__ == expected_class
    assert type(check).__module__ == f"batch_health.checks.{expected_module}"


@pytest.mark.parametrize("check", REGISTRY, ids=lambda c: c.name)
def test_every_need_names_a_target_view_read(check: Check):
    """The engine prefetches a check's `needs` by calling these TargetView methods with no
    arguments; a misspelt one would be skipped without a word."""
    for need in check.needs:
        method = getattr(TargetView, need, None)
        assert callable(method), f"{check.name}.needs names {need!r}, not a TargetView method"
        parameters = list(inspect.signature(method).parameters.values())[1:]
        assert all(p.default is not p.empty for p in parameters), (check.name, need)


def test_the_needs_check_would_catch_a_misspelling():
    assert getattr(TargetView, "job_queues", None) is None


def test_no_module_is_over_400_lines():
    long = {
        str(path.relative_to(ROOT)): n
        for path in PACKAGE.rglob("*.py")
        if (n := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}


def test_every_module_imports():
    for path in PACKAGE.rglob("*.py"):
        module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if not module.endswith("__main__"):  # that one runs the CLI
            importlib.import_module(module.removesuffix(".__init__"))


def test_comments_and_docstrings_speak_of_the_project_alone():
    """They say what they mean, instead of pointing at documents outside the repository."""
    outside = re.compile(r"SPEC\b|SPEC\.md|\b[Tt]he seed\b|seed script|\b[Ii]ssue #?\d")
    found = [
        f"{path.relative_to(ROOT)}:{i}"
        for base in (PACKAGE, ROOT / "functions", ROOT / "tests", ROOT / "scripts", ROOT / "bench")
        for path in base.rglob("*.py")
        for i, line in enumerate(path.read_text().splitlines(), 1)
        if outside.search(line) and "outside = re.compile" not in line
    ]
    assert found == []


def make_lint_commands() -> list[str]:
    text = (ROOT / "Makefile").read_text()
    recipe = text.split("\nlint:", 1)[1].split("\n\n", 1)[0]
    return [
        line.strip().replace("$(BIN)/", "")
        for line in recipe.splitlines()[1:]
        if line.startswith("\t")
    ]


def test_pre_commit_runs_what_make_lint_runs():
    hooks = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())["repos"][0]["hooks"]
    entries = [h["entry"].replace(".venv/bin/", "") for h in hooks]
    commands = make_lint_commands()
    assert commands == ["ruff check .", "ruff format --check .", "mypy", "lint-imports"]
    for command in commands:
        tool = command.removesuffix(" .")
        assert any(entry.startswith(tool) for entry in entries), command
