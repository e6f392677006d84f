"""Fixtures of the end-to-end loader tests: a throwaway PostgreSQL server from Debian's packages.

Debian's `postgresql` package puts its programs in /usr/lib/postgresql/<version>/bin. The cluster
lives in a temporary folder, listens on a free loopback port, trusts local connections, and is
stopped and removed at the end of the session. PostgreSQL refuses to run as root, so as root it
runs as the package's `postgres` user. Without the programs the tests skip with the reason, except
in CI (CI=true), where .ci/run installs them and their absence is a failure.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

DATABASE = "bc"


@dataclass(frozen=True)
class Postgres:
    """A running server and a psql that talks to it."""

    bin: Path
    host: str
    port: int
    user: str

    def psql(self, sql: str, database: str = DATABASE) -> list[list[str]]:
        """Rows of a statement, every value as psql prints it (NULL as an empty string)."""
        done = subprocess.run(
            [
                str(self.bin / "psql"),
                f"--host={self.host}",
                f"--port={self.port}",
                f"--username={self.user}",
                f"--dbname={database}",
                "--no-psqlrc",
                "--tuples-only",
                "--no-align",
                "--field-separator=\t",
                "--set=ON_ERROR_STOP=1",
                "--command",
                sql,
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return [line.split("\t") for line in done.stdout.splitlines() if line]

    def decimal(self, sql: str) -> Decimal:
        """One NUMERIC value, exact."""
        return Decimal(self.psql(sql)[0][0] or "0")

    def settings(self, prefix: str) -> dict[str, str]:
        """Meltano settings of a Postgres plugin as environment variables."""
        return {
            f"{prefix}_HOST": self.host,
            f"{prefix}_PORT": str(self.port),
            f"{prefix}_USER": self.user,
            f"{prefix}_PASSWORD": "unused",  # trust authentication; the plugins want a value
            f"{prefix}_DATABASE": DATABASE,
        }


def _postgres_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """A PostgreSQL server of this test session, with an empty database `bc`."""
    bin_dir = _postgres_bin()
    if bin_dir is None:
        reason = "PostgreSQL is not installed (apt-get install postgresql); .ci/run installs it"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    folder = Path(tempfile.mkdtemp(prefix="bc-postgres-"))
    if as_postgres:
        shutil.chown(folder, "postgres", "postgres")
    data, port = folder / "data", _free_port()
    subprocess.run(
        [*as_postgres, str(bin_dir / "initdb"), f"--pgdata={data}", "--auth=trust",
         "--username=postgres", "--no-sync", "--encoding=UTF8"],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(
        [*as_postgres, str(bin_dir / "pg_ctl"), "start", "--wait", f"--pgdata={data}",
         f"--log={folder / 'server.log'}", f"--options={options}"],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    server = Postgres(bin=bin_dir, host="127.0.0.1", port=port, user="postgres")
    try:
        server.psql(f"CREATE DATABASE {DATABASE}", database="postgres")
        yield server
    finally:
        subprocess.run(
            [*as_postgres, str(bin_dir / "pg_ctl"), "stop", f"--pgdata={data}", "--mode=fast"],
            check=False, capture_output=True, timeout=120,
        )  # fmt: skip
        shutil.rmtree(folder, ignore_errors=True)
