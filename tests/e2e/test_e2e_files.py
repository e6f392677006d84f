"""End to end: `meltano run tap-businesscentral target-jsonl` and `... target-duckdb`.

One Meltano project for the module: the repo's meltano.yml, the tap from PATH (the code under
test), the loaders installed by `meltano install` as a user gets them. Each test loads the four
streams, compares every table with BC (keys and sums of money to the cent), edits rows in BC,
runs again from the state Meltano kept, and checks that exactly the edited rows changed. The
pinned target-duckdb 0.8.0 + duckdb 1.2.2 must pass; with duckdb >= 1.3 target-duckdb loses one
row per table, which the key comparison catches.
"""

from __future__ import annotations

import json
import subprocess
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest
from e2e_support import (
    AMOUNTS,
    STREAMS,
    Key,
    assert_same_rows_and_sums,
    bc_rows,
    changed,
    edit_in_bc,
    env_for,
    meltano,
    project,
)

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from conftest import RunningEmulator

SEED, SCALE = 11, 0.2

# Run by target-duckdb's own Python: the duckdb that wrote the file reads it.
DUCKDB_QUERY = """
import json, sys, duckdb
with duckdb.connect(sys.argv[1], read_only=True) as db:
    cursor = db.execute(sys.argv[2])
    columns = [d[0] for d in cursor.description]
    print(json.dumps([dict(zip(columns, row)) for row in cursor.fetchall()], default=str))
"""


@pytest.fixture(scope="module")
def module_bc(start_emulator: Callable[..., RunningEmulator]) -> RunningEmulator:
    return start_emulator(seed=SEED, scale=SCALE)


@pytest.fixture
def bc(module_bc: RunningEmulator) -> RunningEmulator:
    """The module's emulator, reseeded: each test's edits are its own."""
    module_bc.hook("POST", "reset", {"seed": SEED, "scale": SCALE})
    return module_bc


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory, module_bc: RunningEmulator) -> Path:
    """The module's Meltano project, with target-jsonl and target-duckdb installed."""
    path = project(tmp_path_factory.mktemp("meltano-files"))
    meltano(path, env_for(module_bc.info), "install", "target-jsonl", "target-duckdb")
    return path


def duckdb_rows(folder: Path, database: Path, sql: str) -> list[dict[str, Any]]:
    python = folder / ".meltano" / "loaders" / "target-duckdb" / "venv" / "bin" / "python"
    done = subprocess.run(
        [str(python), "-c", DUCKDB_QUERY, str(database), sql],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    rows: list[dict[str, Any]] = json.loads(done.stdout)
    return rows


def duckdb_table(folder: Path, database: Path, stream: str) -> dict[Key, dict[str, Any]]:
    rows = duckdb_rows(folder, database, f"SELECT * FROM businesscentral.{stream.lower()}")  # noqa: S608
    keyed = {(row["companyid"], row["id"]): row for row in rows}
    assert len(keyed) == len(rows), f"{stream}: duplicate keys in DuckDB"
    return keyed


def duckdb_sums(folder: Path, database: Path, stream: str) -> dict[str, Decimal]:
    """DuckDB stores the amounts as DOUBLE: each rounded to the cent, then summed exactly."""
    columns = ", ".join(
        f"sum(round({c.lower()}, 2)::DECIMAL(38, 2)) AS {c.lower()}" for c in AMOUNTS[stream]
    )
    sql = f"SELECT {columns} FROM businesscentral.{stream.lower()}"  # noqa: S608
    row = duckdb_rows(folder, database, sql)[0]
    return {c: Decimal(str(row[c.lower()] or 0)) for c in AMOUNTS[stream]}


@pytest.mark.slow
def test_tap_to_target_duckdb_every_row_to_the_cent_then_exactly_the_edits(
    bc: RunningEmulator, folder: Path, tmp_path: Path
) -> None:
    database = tmp_path / "bc.duckdb"
    env = env_for(bc.info, TARGET_DUCKDB_FILEPATH=str(database))
    meltano(folder, env, "run", "tap-businesscentral", "target-duckdb")
    before = {}
    for stream in STREAMS:
        before[stream] = duckdb_table(folder, database, stream)
        loaded_sums = duckdb_sums(folder, database, stream)
        assert_same_rows_and_sums(list(before[stream]), loaded_sums, bc_rows(bc, stream), stream)

    edited = edit_in_bc(bc)
    meltano(folder, env, "run", "tap-businesscentral", "target-duckdb")
    for stream in STREAMS:
        after = duckdb_table(folder, database, stream)
        assert changed(before[stream], after) == edited.get(stream, set()), stream
        loaded_sums = duckdb_sums(folder, database, stream)
        assert_same_rows_and_sums(list(after), loaded_sums, bc_rows(bc, stream), stream)


def jsonl_table(output: Path, stream: str) -> tuple[list[Key], dict[Key, dict[str, Any]]]:
    """Every key in the order written, and each key's last row (a later run appends)."""
    keys: list[Key] = []
    last: dict[Key, dict[str, Any]] = {}
    for line in (output / f"{stream}.jsonl").read_text().splitlines():
        row = json.loads(line, parse_float=Decimal)
        key = (row["companyId"], row["id"])
        keys.append(key)
        last[key] = row
    return keys, last


def jsonl_sums(rows: dict[Key, dict[str, Any]], stream: str) -> dict[str, Decimal]:
    return {
        c: sum((Decimal(r[c] or 0) for r in rows.values()), Decimal(0)) for c in AMOUNTS[stream]
    }


@pytest.mark.slow
def test_tap_to_target_jsonl_every_row_to_the_cent_then_exactly_the_edits(
    bc: RunningEmulator, folder: Path, tmp_path: Path
) -> None:
    output = tmp_path / "output"
    env = env_for(bc.info, TARGET_JSONL_DESTINATION_PATH=str(output))
    meltano(folder, env, "run", "tap-businesscentral", "target-jsonl")
    before = {}
    for stream in STREAMS:
        keys, before[stream] = jsonl_table(output, stream)
        loaded_sums = jsonl_sums(before[stream], stream)
        assert_same_rows_and_sums(keys, loaded_sums, bc_rows(bc, stream), stream)

    edited = edit_in_bc(bc)
    meltano(folder, env, "run", "tap-businesscentral", "target-jsonl")
    for stream in STREAMS:
        _, after = jsonl_table(output, stream)
        assert changed(before[stream], after) == edited.get(stream, set()), stream
        loaded_sums = jsonl_sums(after, stream)
        assert_same_rows_and_sums(list(after), loaded_sums, bc_rows(bc, stream), stream)
