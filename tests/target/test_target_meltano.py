"""End to end: `meltano run tap-businesscentral target-businesscentral` with the repo's meltano.yml.

Both plugins run from PATH (the code under test): their `pip_url` is dropped from a copy of the
project file. The pipeline copies one company's customers into the other; the second run, from
the state Meltano kept, writes nothing.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from tests_support import CONNECTION_SETTINGS, meltano_env, meltano_project

if TYPE_CHECKING:
    from conftest import RunningEmulator

BIN = Path(sys.executable).parent
PLUGINS = ("tap-businesscentral", "target-businesscentral")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return meltano_project(tmp_path, PLUGINS)


def _env(info: dict[str, Any], tmp: Path) -> dict[str, str]:
    env = meltano_env(
        TAP_BUSINESSCENTRAL__SELECT='["customers.*"]',
        TAP_BUSINESSCENTRAL_COMPANY_IDS=f'["{info["companies"][0]["name"]}"]',
        TARGET_BUSINESSCENTRAL_DEFAULT_COMPANY=info["companies"][1]["name"],
        TARGET_BUSINESSCENTRAL_WRITE_ALL_TO_DEFAULT_COMPANY="true",
        TARGET_BUSINESSCENTRAL_REJECTED_RECORDS_PATH=str(tmp / "rejected.jsonl"),
    )
    for name in CONNECTION_SETTINGS:
        for plugin in PLUGINS:
            env[f"{plugin.upper().replace('-', '_')}_{name.upper()}"] = str(info[name])
    return env


def _meltano(project: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(BIN / "meltano"), "run", *PLUGINS],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


@pytest.mark.slow
def test_meltano_run_copies_customers_then_writes_nothing(
    bc: RunningEmulator, project: Path, tmp_path: Path
) -> None:
    env = _env(bc.info, tmp_path)
    source = {r["number"]: r for r in bc.get_all(bc.company_url("customers", 0))}
    bc.hook("DELETE", "counters")
    first = _meltano(project, env)
    assert "Summary customers:" in first.stderr
    copied = {r["number"]: r for r in bc.get_all(bc.company_url("customers", 1))}
    for number, row in source.items():
        assert copied[number]["displayName"] == row["displayName"]
        assert copied[number]["email"] == row["email"]
    assert bc.counters()["batch_operations"] > 0
    assert not (tmp_path / "rejected.jsonl").exists()

    bc.hook("DELETE", "counters")
    second = _meltano(project, env)
    assert "Summary customers: created 0, updated 0" in second.stderr
    assert bc.counters()["writes"] == {}
