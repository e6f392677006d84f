"""End to end: `meltano run tap-businesscentral target-postgres` into a real PostgreSQL server.

MeltanoLabs target-postgres, installed by `meltano install`, upserts into NUMERIC columns: every
key once, the sums of money equal BC's exactly (NUMERIC against `Decimal`), and after edits in BC
a second run from Meltano's state changes exactly the edited rows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

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
    from decimal import Decimal
    from pathlib import Path

    from conftest import RunningEmulator

    from tests.e2e.conftest import Postgres

SCHEMA = "businesscentral"


@pytest.fixture(scope="module")
def bc(start_emulator: Callable[..., RunningEmulator]) -> RunningEmulator:
    return start_emulator(seed=13, scale=0.2)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory, bc: RunningEmulator) -> Path:
    path = project(tmp_path_factory.mktemp("meltano-postgres"))
    meltano(path, env_for(bc.info), "install", "target-postgres")
    return path


def table(postgres: Postgres, stream: str) -> dict[Key, str]:
    """(companyId, id) -> the row's BC columns as JSON (the _sdc_ metadata changes every run)."""
    rows = postgres.psql(
        f"""SELECT "companyId", id, (SELECT jsonb_object_agg(k, v) FROM jsonb_each(to_jsonb(t))
            AS e(k, v) WHERE k NOT LIKE '\\_sdc\\_%')::text FROM {SCHEMA}."{stream}" t"""  # noqa: S608
    )
    keyed = {(company, row_id): text for company, row_id, text in rows}
    assert len(keyed) == len(rows), f"{stream}: duplicate keys in PostgreSQL"
    return keyed


def sums(postgres: Postgres, stream: str) -> dict[str, Decimal]:
    return {
        column: postgres.decimal(f'SELECT sum("{column}") FROM {SCHEMA}."{stream}"')  # noqa: S608
        for column in AMOUNTS[stream]
    }


def numeric_columns(postgres: Postgres, stream: str) -> set[str]:
    sql = (
        "SELECT column_name FROM information_schema.columns"  # noqa: S608
        f" WHERE table_schema = '{SCHEMA}' AND table_name = '{stream}' AND data_type = 'numeric'"
    )
    rows = postgres.psql(sql)
    return {row[0] for row in rows}


@pytest.mark.slow
def test_tap_to_target_postgres_every_row_exact_sums_then_exactly_the_edits(
    bc: RunningEmulator, folder: Path, postgres: Postgres
) -> None:
    env = env_for(bc.info, **postgres.settings("TARGET_POSTGRES"))
    meltano(folder, env, "run", "tap-businesscentral", "target-postgres")
    before = {}
    for stream in STREAMS:
        assert set(AMOUNTS[stream]) <= numeric_columns(postgres, stream), stream
        before[stream] = table(postgres, stream)
        assert_same_rows_and_sums(
            list(before[stream]), sums(postgres, stream), bc_rows(bc, stream), stream
        )

    edited = edit_in_bc(bc)
    meltano(folder, env, "run", "tap-businesscentral", "target-postgres")
    for stream in STREAMS:
        after = table(postgres, stream)
        assert changed(before[stream], after) == edited.get(stream, set()), stream
        assert_same_rows_and_sums(list(after), sums(postgres, stream), bc_rows(bc, stream), stream)
