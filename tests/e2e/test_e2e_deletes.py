"""End to end: rows deleted in BC leave the warehouse on the next `meltano run`.

Deletes are done as a BC user does them, through the API: a line removed from a draft invoice, a
quote and an order deleted, a journal posted (its lines leave it), a customer deleted. The next
run of MeltanoLabs target-postgres (soft delete, and hard_delete) leaves the live rows equal to
BC's: per company and stream, sums to the cent, every header's total equal to its live lines.
target-postgres 0.8.1 marks a record carrying ``_sdc_deleted_at`` (it upserts the key with
the other columns empty), with or without hard_delete; hard_delete applies to ACTIVATE_VERSION.
"""

from __future__ import annotations

import json
import subprocess
from typing import TYPE_CHECKING

import pytest
from bc_truth import (
    STREAMS,
    Table,
    assert_equal_to_bc,
    assert_loaded_equal_to_bc,
    columns,
    delete_like_a_user,
    to_table,
)
from e2e_support import env_for, meltano, project

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from conftest import RunningEmulator

    from tests.e2e.conftest import Postgres


@pytest.fixture(scope="module")
def bc(start_emulator: Callable[..., RunningEmulator]) -> RunningEmulator:
    return start_emulator(seed=21, scale=0.1)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory, bc: RunningEmulator) -> Path:
    path = project(tmp_path_factory.mktemp("meltano-deletes"))
    meltano(path, env_for(bc.info), "install", "target-postgres", "target-duckdb")
    return path


# Run by target-duckdb's own Python: the duckdb that wrote the file reads it.
DUCKDB_QUERY = """
import json, sys, duckdb
with duckdb.connect(sys.argv[1], read_only=True) as db:
    rows = db.execute(sys.argv[2]).fetchall()
    print(json.dumps([[None if v is None else str(v) for v in row] for row in rows]))
"""


def duckdb_tables(folder: Path, database: Path) -> dict[str, Table]:
    """Every row of every stream in the DuckDB file (hard_delete leaves no deleted row)."""
    python = folder / ".meltano" / "loaders" / "target-duckdb" / "venv" / "bin" / "python"
    tables: dict[str, Table] = {}
    for stream in STREAMS:
        sql = f"SELECT {columns(stream)} FROM businesscentral.{stream.lower()}"  # noqa: S608
        done = subprocess.run(
            [str(python), "-c", DUCKDB_QUERY, str(database), sql],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        tables[stream] = to_table(stream, json.loads(done.stdout))
    return tables


def _env(bc: RunningEmulator, postgres: Postgres, schema: str, *, hard: bool) -> dict[str, str]:
    env = env_for(bc.info, **postgres.settings("TARGET_POSTGRES"))
    env["TAP_BUSINESSCENTRAL__SELECT"] = json.dumps([f"{stream}.*" for stream in STREAMS])
    env["TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA"] = schema
    env["TARGET_POSTGRES_HARD_DELETE"] = "true" if hard else "false"
    return env


@pytest.mark.slow
def test_deletes_in_bc_reach_target_postgres_soft_and_hard(
    bc: RunningEmulator, folder: Path, postgres: Postgres
) -> None:
    runs = {
        schema: _env(bc, postgres, schema, hard=schema == "hard") for schema in ("soft", "hard")
    }
    for schema, env in runs.items():
        meltano(folder, env, "run", f"--state-id-suffix={schema}", "tap-businesscentral",
                "target-postgres")  # fmt: skip
        assert_equal_to_bc(bc, postgres, schema)

    done = delete_like_a_user(bc)
    assert {"salesInvoiceLines", "salesQuotes", "salesOrders", "journalLines", "customers"} <= set(
        done
    )

    for schema, env in runs.items():
        result = meltano(folder, env, "run", f"--state-id-suffix={schema}",
                         "tap-businesscentral", "target-postgres")  # fmt: skip
        assert_equal_to_bc(bc, postgres, schema)
        assert "rows deleted in BC since the last reconciliation" in result.stderr
    # With hard_delete, target-postgres 0.8.1 marks deleted rows too (it hard-deletes only on
    # ACTIVATE_VERSION): the row stays, key and _sdc_deleted_at, other columns empty.
    marked = postgres.psql(
        'SELECT count(*) FROM soft."salesQuotes" WHERE _sdc_deleted_at IS NOT NULL'
    )
    assert int(marked[0][0]) == 1


@pytest.mark.slow
def test_deletes_in_bc_leave_target_duckdb_with_hard_delete(
    bc: RunningEmulator, folder: Path, tmp_path: Path
) -> None:
    database = tmp_path / "bc.duckdb"
    env = env_for(bc.info)
    env.update(
        TAP_BUSINESSCENTRAL__SELECT=json.dumps([f"{stream}.*" for stream in STREAMS]),
        TARGET_DUCKDB_FILEPATH=str(database),
        TARGET_DUCKDB_HARD_DELETE="true",
        TARGET_DUCKDB_ADD_METADATA_COLUMNS="true",
    )
    run = ("run", "--state-id-suffix=duckdb", "tap-businesscentral", "target-duckdb")
    meltano(folder, env, *run)
    assert_loaded_equal_to_bc(bc, duckdb_tables(folder, database), "duckdb")
    delete_like_a_user(bc, company=1)
    meltano(folder, env, *run)
    assert_loaded_equal_to_bc(bc, duckdb_tables(folder, database), "duckdb")
