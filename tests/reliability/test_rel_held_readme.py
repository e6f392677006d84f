"""The README's Reliability table stays true: each test it names exists, and each scenario is named.

The table's rows say what each scenario promises and what the suite measured; the tests assert the
promise. A test renamed or removed without the table following fails here.
"""

from __future__ import annotations

import ast
import re

import pytest
from tests_support import REPO

TEST_REFERENCE = re.compile(r"`(tests/[\w/]+\.py)::(\w+)`")


def reliability_section() -> str:
    text = (REPO / "README.md").read_text()
    if "\n## Reliability\n" not in text:
        pytest.fail("README.md has no Reliability section")
    return text.split("\n## Reliability\n", 1)[1].split("\n## ", 1)[0]


def functions_in(path: str) -> set[str]:
    tree = ast.parse((REPO / path).read_text())
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}


def test_every_test_the_reliability_table_names_exists() -> None:
    references = TEST_REFERENCE.findall(reliability_section())
    assert references
    missing = [
        f"{path}::{name}"
        for path, name in references
        if not (REPO / path).is_file() or name not in functions_in(path)
    ]
    assert missing == []


def test_every_held_behaviour_scenario_is_in_the_table() -> None:
    named = {(path, name) for path, name in TEST_REFERENCE.findall(reliability_section())}
    scenarios = {
        (str(path.relative_to(REPO)), name)
        for path in sorted((REPO / "tests" / "reliability").glob("test_rel_held_*.py"))
        if path.name != "test_rel_held_readme.py"
        for name in functions_in(str(path.relative_to(REPO)))
        if name.startswith("test_")
    }
    assert sorted(scenarios - named) == []
