"""End to end: one job per company, one after the other or at once, equals one job for all.

The pattern of the README: one inherited extractor per company (``inherit_from`` with its own
``company_ids``), each with its own state (a plugin of its own name, and ``--state-id-suffix``).
Runs at once use inherited loaders too: Meltano writes a plugin's config into
``.meltano/run/<plugin name>``, which two runs of one plugin at once would share.

A job for some companies sends no ACTIVATE_VERSION (it would retire the other companies' rows);
rows deleted in BC arrive company by company as ``_sdc_deleted_at`` records, full-table streams
(``agedAccountsReceivables``) included. So after BC-user deletes, the three schemas hold the
same live rows as BC.
"""

from __future__ import annotations

import json
import subprocess
from typing import TYPE_CHECKING, Any

import pytest
import yaml
from bc_truth import STREAMS, assert_equal_to_bc, delete_like_a_user, live_rows
from e2e_support import BIN, env_for, meltano, project

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from conftest import RunningEmulator

    from tests.e2e.conftest import Postgres

COMPANIES = ("c1", "c2")


@pytest.fixture(scope="module")
def bc(start_emulator: Callable[..., RunningEmulator]) -> RunningEmulator:
    return start_emulator(seed=22, scale=0.05)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory, bc: RunningEmulator) -> Path:
    path = project(tmp_path_factory.mktemp("meltano-per-company"))
    document = yaml.safe_load((path / "meltano.yml").read_text())
    plugins: dict[str, list[dict[str, Any]]] = document["plugins"]
    for name, company in zip(COMPANIES, bc.companies, strict=False):
        plugins["extractors"].append(
            {
                "name": f"tap-bc-{name}",
                "inherit_from": "tap-businesscentral",
                "config": {"company_ids": [company["id"]]},
            }
        )
        plugins["loaders"].append(
            {
                "name": f"target-postgres-{name}",
                "inherit_from": "target-postgres",
                "config": {"default_target_schema": "par"},
            }
        )
    (path / "meltano.yml").write_text(yaml.safe_dump(document, sort_keys=False))
    meltano(path, env_for(bc.info), "install", "loader", "target-postgres",
            "target-postgres-c1", "target-postgres-c2")  # fmt: skip
    return path


def _env(bc: RunningEmulator, postgres: Postgres, schema: str) -> dict[str, str]:
    env = env_for(bc.info, **postgres.settings("TARGET_POSTGRES"))
    env["TAP_BUSINESSCENTRAL__SELECT"] = json.dumps([f"{stream}.*" for stream in STREAMS])
    env["TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA"] = schema
    for name in COMPANIES:
        env.update(postgres.settings(f"TARGET_POSTGRES_{name.upper()}"))
    return env


def _all_jobs(folder: Path, bc: RunningEmulator, postgres: Postgres) -> None:
    """One job for all; per-company jobs one after the other; per-company jobs at once."""
    meltano(folder, _env(bc, postgres, "one"), "run", "tap-businesscentral", "target-postgres")
    for name in COMPANIES:
        meltano(folder, _env(bc, postgres, "seq"), "run", "--state-id-suffix=seq",
                f"tap-bc-{name}", "target-postgres")  # fmt: skip
    env = _env(bc, postgres, "par")
    running = [
        subprocess.Popen(
            [
                str(BIN / "meltano"),
                "run",
                "--state-id-suffix=par",
                f"tap-bc-{name}",
                f"target-postgres-{name}",
            ],
            cwd=folder,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in COMPANIES
    ]
    for process in running:
        _, stderr = process.communicate(timeout=240)
        assert process.returncode == 0, stderr[-3000:]


@pytest.mark.slow
def test_per_company_jobs_sequential_and_parallel_equal_one_job(
    bc: RunningEmulator, folder: Path, postgres: Postgres
) -> None:
    assert len(bc.companies) >= len(COMPANIES)
    _all_jobs(folder, bc, postgres)
    for schema in ("one", "seq", "par"):
        assert_equal_to_bc(bc, postgres, schema)

    delete_like_a_user(bc, company=0)
    delete_like_a_user(bc, company=1)
    _all_jobs(folder, bc, postgres)
    one = live_rows(postgres, "one")
    for schema in ("one", "seq", "par"):
        assert_equal_to_bc(bc, postgres, schema)
        assert live_rows(postgres, schema) == one, schema
