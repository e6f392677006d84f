"""Report sets computed on read, served through the reader's ordinary SQL.

BC builds these sets when a request opens their page (a temporary table) or runs their query, so
their rows follow the ledger as it is now. Before each read of one, the rows are built by
`rules.reports` and written to a temporary table of the same name on this thread's connection;
SQLite looks a name up in `temp` before `main`, so `$filter`, `$orderby`, `$select`, paging and
`$expand` then work on the fresh rows exactly as on stored ones. Each thread has its own
connection, hence its own temporary tables: concurrent reads never see each other's rows.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from typing import TYPE_CHECKING

from businesscentral_emulator.odata.filter_parser import FilterSyntaxError, parse_filter
from businesscentral_emulator.odata.values import SQL_TYPE, empty_value
from businesscentral_emulator.rules.reports import BUILDERS, Request
from businesscentral_emulator.rules.validation import page_name
from businesscentral_emulator.store.sqlite import quote, table_name

if TYPE_CHECKING:
    from businesscentral_emulator.odata.edmx import ApiModel, EntitySet
    from businesscentral_emulator.store.sqlite import Store


def _etag(values: tuple[object, ...]) -> str:
    """An etag in BC's shape that changes exactly when the row's values do."""
    digest = int.from_bytes(hashlib.sha256(repr(values).encode()).digest()[:8], "big")
    digits = str(digest % 10**20)
    token = base64.b64encode(f"'{len(digits)};{digits};00;'".encode()).decode()
    return f'W/"{token}"'


def refresh(
    store: Store, api: ApiModel, entity_set: EntitySet, company: str | None, filter_text: str | None
) -> None:
    """Build a report set's rows for `company` now, if the set is one BC computes."""
    builder = BUILDERS.get(page_name(api, entity_set))
    if builder is None or company is None:
        return
    try:
        tree = parse_filter(filter_text) if filter_text else None
    except FilterSyntaxError:
        tree = None  # the reader refuses the filter in BC's words right after
    today = dt.datetime.now(dt.timezone.utc).date()
    rows = builder(store, api, Request(company, today, tree))
    props = entity_set.entity_type.properties
    table = table_name(api.route, entity_set.name)
    columns = ", ".join(f"{quote(p.name)} {SQL_TYPE[p.kind]}" for p in props.values())
    names = list(props)
    blanks = [empty_value(p) for p in props.values()]
    db = store.connection()
    db.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {table}"
        f" (_rowid INTEGER PRIMARY KEY, _company TEXT, _etag TEXT, {columns})"
    )
    db.execute(f"DELETE FROM temp.{table}")
    values = []
    for index, row in enumerate(rows, start=1):
        fields = tuple(row.get(name, blank) for name, blank in zip(names, blanks, strict=True))
        values.append((index, company, _etag(fields), *fields))
    placeholders = ", ".join("?" * (len(names) + 3))
    db.executemany(
        f"INSERT INTO temp.{table} (_rowid, _company, _etag, {', '.join(map(quote, names))})"
        f" VALUES ({placeholders})",
        values,
    )
