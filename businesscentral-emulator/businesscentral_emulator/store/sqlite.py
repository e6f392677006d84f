"""Rows of every entity set, kept in SQLite so that a million GL entries cost disk, not memory.

One table per entity set and API, one column per EDMX property (stored forms: see `values`), plus:
`_rowid` (insertion order, the default sort and the paging cursor), `_company` (the owning company
for company-scoped sets) and `_etag` (BC's weak etag, new on every change).

Each thread gets its own connection; the database runs in WAL mode so readers never wait for the
single writer, and writes are serialised by one lock.
"""

from __future__ import annotations

import base64
import sqlite3
import threading
from itertools import count
from typing import TYPE_CHECKING, Any

from businesscentral_emulator.odata.values import SQL_TYPE, empty_value

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping, Sequence
    from pathlib import Path

    from businesscentral_emulator.odata.edmx import ApiModel, EntitySet

_ETAG_MULTIPLIER = 2654435761  # odd and not a multiple of 5: a bijection modulo 10**20
_ETAG_MODULUS = 10**20


def quote(identifier: str) -> str:
    """Quote an identifier for SQL; EDMX names are plain, but never trust that."""
    return '"' + identifier.replace('"', '""') + '"'


def table_name(api_route: str, set_name: str) -> str:
    """The table holding one entity set of one API."""
    return quote(f"{api_route}/{set_name}")


class Store:
    """The rows of one environment: every entity set of every API it serves."""

    def __init__(self, path: Path, etag_salt: int = 10**10) -> None:
        """Open (or create) the database file at `path`."""
        self.path = path
        self._local = threading.local()
        self.write_lock = threading.RLock()
        self._etag_counter = count(1)
        self._etag_salt = etag_salt
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        self.columns: dict[str, tuple[str, ...]] = {}
        with self.connection() as db:
            db.execute("PRAGMA journal_mode=WAL")

    def connection(self) -> sqlite3.Connection:
        """This thread's connection (created on first use)."""
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            db.execute("PRAGMA synchronous=OFF")
            db.execute("PRAGMA cache_size=-16000")
            db.execute("PRAGMA temp_store=MEMORY")
            self._local.db = db
            with self._connections_lock:
                self._connections.append(db)
        return db

    def close(self) -> None:
        """Close every connection any thread opened."""
        with self._connections_lock:
            for db in self._connections:
                db.close()
            self._connections.clear()
        self._local = threading.local()

    def new_etag(self) -> str:
        """A fresh weak etag in BC's shape: `W/"<base64 of '20;<digits>;00;'>"`."""
        version = next(self._etag_counter) + self._etag_salt
        digits = str((version * _ETAG_MULTIPLIER) % _ETAG_MODULUS)
        token = base64.b64encode(f"'{len(digits)};{digits};00;'".encode()).decode()
        return f'W/"{token}"'

    def create_tables(self, api: ApiModel) -> None:
        """Create (empty) tables and indexes for every entity set of `api`."""
        db = self.connection()
        with self.write_lock:
            db.execute("BEGIN")
            for entity_set in api.entity_sets.values():
                table = table_name(api.route, entity_set.name)
                props = entity_set.entity_type.properties
                self.columns[table] = tuple(props)
                columns = ", ".join(f"{quote(p.name)} {SQL_TYPE[p.kind]}" for p in props.values())
                db.execute(f"DROP TABLE IF EXISTS {table}")
                db.execute(
                    f"CREATE TABLE {table} (_rowid INTEGER PRIMARY KEY, _company TEXT,"
                    f" _etag TEXT, {columns})"
                )
                index_base = f"{api.route}/{entity_set.name}"
                keys = ", ".join(quote(k) for k in entity_set.entity_type.key)
                db.execute(
                    f"CREATE INDEX {quote(index_base + '#key')} ON {table} (_company, {keys})"
                )
                # A page in the default order (by _rowid) seeks this instead of sorting every
                # row of the company for each page (50 ms a page of 500,000 rows).
                db.execute(f"CREATE INDEX {quote(index_base + '#company')} ON {table} (_company)")
                changed = api.change_date_field(entity_set)
                if changed:
                    db.execute(
                        f"CREATE INDEX {quote(index_base + '#changed')} ON {table}"
                        f" (_company, {quote(changed)}, _rowid)"
                    )
                # Parents, and the natural keys clients look rows up by (number, code, no).
                for prop in (
                    "documentId",
                    "parentId",
                    "journalId",
                    "dimensionId",
                    "number",
                    "code",
                    "no",
                    "externalDocumentNumber",
                ):
                    if prop in props:
                        db.execute(
                            f"CREATE INDEX {quote(index_base + '#' + prop)} ON {table}"
                            f" (_company, {quote(prop)})"
                        )
            db.execute("COMMIT")

    def insert_many(
        self,
        api: ApiModel,
        entity_set: EntitySet,
        company_id: str | None,
        rows: Iterable[Mapping[str, Any]],
    ) -> int:
        """Insert rows given in stored form; missing properties get BC's empty values."""
        table = table_name(api.route, entity_set.name)
        props = list(entity_set.entity_type.properties.values())
        columns = [(p.name, empty_value(p)) for p in props]
        names = [name for name, _ in columns]
        placeholders = ", ".join("?" * (len(props) + 2))
        sql = (
            f"INSERT INTO {table} (_company, _etag, {', '.join(quote(n) for n in names)})"
            f" VALUES ({placeholders})"
        )

        def tuples() -> Iterator[tuple[Any, ...]]:
            for row in rows:
                yield (
                    company_id,
                    self.new_etag(),
                    *(row.get(name, default) for name, default in columns),
                )

        db = self.connection()
        with self.write_lock:
            db.execute("BEGIN")
            try:
                cursor = db.executemany(sql, tuples())
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        return cursor.rowcount

    def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a read query on this thread's connection."""
        return self.connection().execute(sql, params).fetchall()

    def fetch_one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        """Run a read query that returns at most one row."""
        row: tuple[Any, ...] | None = self.connection().execute(sql, params).fetchone()
        return row
