"""The README stays true: its settings tables are what the plugins' --about prints."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from tests_support import REPO


def _table(text: str) -> list[str]:
    """The first settings table of a markdown text, line by line."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| Setting |"))
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("|")), len(lines))
    return lines[start:end]


def _readme_section(title: str) -> str:
    text = (REPO / "README.md").read_text()
    return text.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


@pytest.mark.parametrize("plugin", ["tap-businesscentral", "target-businesscentral"])
def test_readme_settings_table_matches_about(plugin: str) -> None:
    executable = str(Path(sys.executable).parent / plugin)
    about = subprocess.run(
        [executable, "--about", "--format=markdown"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    assert _table(_readme_section(plugin)) == _table(about)
