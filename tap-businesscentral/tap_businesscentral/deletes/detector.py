"""Delete detection for one stream: what is read, compared, written and remembered per company.

Every (stream, company) partition ends with a reconciliation (see the README, "Deletes"):

- a set read whole (full table) compares the keys of the rows just written with the keys
  remembered from its last run: no request more, and only this company's rows are concerned, so
  per-company jobs are safe (ACTIVATE_VERSION retires every company's rows at once);
- an incremental set reads its keys (``$select=<key>``, pages of 20,000) after its changed rows,
  every run or every ``detect_deletes_every_hours``; a header with selected lines reads its keys
  and its lines' keys in one read (``$select=id&$expand=<lines>($select=id)``) every run, so
  the lines of a header always equal BC's (a line deleted from a draft is gone next run).

Keys remembered and no longer read are written as RECORDs of the key, ``companyId`` and
``_sdc_deleted_at``: the Singer/Meltano convention for deletes.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING, Any

from businesscentral_api.odata import encode_query

from tap_businesscentral.catalog import COMPANY_ID
from tap_businesscentral.deletes.reconcile import (
    DELETED_AT,
    STATE_KEY,
    KeySet,
    SnapshotError,
    add_since,
    compare,
    due,
    snapshot,
)
from tap_businesscentral.fetch import MAX_PAGE_SIZE, ReadRequest, iter_pages

if TYPE_CHECKING:
    from collections.abc import Iterable

    from tap_businesscentral.client import BusinessCentralStream

__all__ = ["DEFAULT_CAPACITY", "NEVER_DELETED", "DeleteDetector", "detects_deletes"]

LOGGER = logging.getLogger("tap_businesscentral")
DEFAULT_CAPACITY = 1000
# Posted ledger entries are never deleted: BC's ledgers are append-only (a correction is a
# reversing entry), so reading their keys would only cost requests.
NEVER_DELETED = frozenset({"generalLedgerEntries", "itemLedgerEntries"})


def detects_deletes(stream: BusinessCentralStream) -> bool:
    """Whether deletes of this stream are detected (setting ``detect_deletes``, on by default)."""
    return (
        bool(stream.config.get("detect_deletes", True))
        and stream.spec.company_scoped
        and stream.spec.entity_set.name not in NEVER_DELETED
        and bool(stream.spec.entity_set.key)
    )


class DeleteDetector:
    """Delete detection of one stream, partition by partition."""

    def __init__(self, stream: BusinessCentralStream) -> None:
        """Detect deletes of ``stream``."""
        self.stream = stream
        # The stream's key but the company (a set read through several parents adds a field).
        self.key_names = tuple(name for name in stream.spec.key if name != COMPANY_ID)
        # Keys written this run, per company (lines arrive inside their header's pages).
        self.written: dict[str | None, KeySet] = {}

    # -- settings ----------------------------------------------------------------------------
    @property
    def capacity(self) -> int:
        """Differences (deletes and inserts) between two reconciliations the sketch is sized for."""
        return int(self.stream.config.get("detect_deletes_capacity") or DEFAULT_CAPACITY)

    @property
    def every_hours(self) -> float:
        """Hours between two key reads of an incremental set (0: every run)."""
        return float(self.stream.config.get("detect_deletes_every_hours") or 0)

    # -- keys written ------------------------------------------------------------------------
    def key_of(self, row: dict[str, Any]) -> tuple[Any, ...]:
        """A row's key without ``companyId``."""
        return tuple(row.get(name) for name in self.key_names)

    def note(self, row: dict[str, Any], company_id: str | None) -> None:
        """A row was written for ``company_id``."""
        self.written.setdefault(company_id, KeySet()).add(self.key_of(row))

    # -- reconciling -------------------------------------------------------------------------
    def finish_read_whole(self, company_id: str | None) -> None:
        """A full read of this company's rows ended: the keys written are all of BC's."""
        self.reconcile(company_id, self.written.pop(company_id, KeySet()))

    def finish_incremental(self, company_id: str | None, *, read_whole: bool = False) -> None:
        """An incremental read ended: read the keys (with the lines' keys) when due.

        A read that started from no bookmark and no ``start_date`` wrote every row of the company
        (and the lines inside them): its keys are BC's, so no key read is needed.
        """
        stream = self.stream
        lines = [
            (navigation, line)
            for navigation, line in stream.line_streams()
            if line is not None and line.delete_detector is not None
        ]
        if read_whole:
            self.finish_read_whole(company_id)
            for _, line in lines:
                if line.delete_detector is not None:
                    line.delete_detector.finish_read_whole(company_id)
            return
        old = self._old(company_id)
        if not lines and not due(old, self.every_hours, dt.datetime.now(dt.timezone.utc)):
            written = self.written.pop(company_id, KeySet())
            if old is not None and len(written):
                self._remember(company_id, add_since(old, written.all_keys()))
            return
        keys, line_keys = self.read_keys(company_id, [n for n, _ in lines])
        keys.guids |= self.written.get(company_id, KeySet()).guids
        keys.others |= self.written.pop(company_id, KeySet()).others
        self.reconcile(company_id, keys)
        for navigation, line in lines:
            detector = line.delete_detector
            if detector is not None:
                found = line_keys[navigation]
                written = detector.written.pop(company_id, KeySet())
                found.guids |= written.guids
                found.others |= written.others
                detector.reconcile(company_id, found)

    def read_keys(
        self, company_id: str | None, navigations: list[str]
    ) -> tuple[KeySet, dict[str, KeySet]]:
        """This company's keys now, and the keys of the lines under ``navigations``."""
        stream = self.stream
        client = stream.bc_tap.client
        url = client.urls.entity_set_url(stream.spec.entity_set.name, company_id, stream.spec.api)
        expand = ",".join(f"{n}($select=id)" for n in navigations) or None
        query = encode_query(
            {
                "$select": ",".join(self.key_names),
                "$filter": stream.stream_options().get("filter"),
                "$expand": expand,
            }
        )
        request = ReadRequest(
            key=(f"{stream.name} keys", company_id),
            url=f"{url}?{query}",
            page_size=MAX_PAGE_SIZE,
            nested=expand is not None,
        )
        keys = KeySet()
        line_keys = {n: KeySet() for n in navigations}
        for page in iter_pages(client, request):
            for row in page:
                keys.add(self.key_of(row))
                for navigation in navigations:
                    for line in row.get(navigation) or ():
                        line_keys[navigation].add((line.get("id"),))
        return keys, line_keys

    def reconcile(self, company_id: str | None, keys: KeySet) -> None:
        """Write the deletes since the last reconciliation; remember ``keys``."""
        stream = self.stream
        old = self._old(company_id)
        try:
            found = compare(old, keys)
        except SnapshotError as exc:
            LOGGER.warning(
                "Stream %s (company %s): %s; deletes since the last run are not detected this "
                "time, the keys read now are remembered.",
                stream.name,
                company_id,
                exc,
            )
            found = compare(None, keys)
            old = None
        if found.missed:
            LOGGER.warning(
                "Stream %s (company %s): more rows changed since the last reconciliation than "
                "its sketch holds (setting detect_deletes_capacity is %d): %d deletes were "
                "found, at least %d differences were not. The next reconciliation uses a sketch "
                "four times larger; to retire the rows deleted meanwhile, run this stream once "
                "with --full-refresh in a job that reads every company.",
                stream.name,
                company_id,
                self.capacity,
                len(found.gone),
                found.missed,
            )
        self.write_deletes(company_id, found.gone)
        self._remember(company_id, snapshot(keys, self.capacity, old, found))

    def write_deletes(self, company_id: str | None, gone: Iterable[tuple[Any, ...]]) -> None:
        """One RECORD per deleted key: the key, ``companyId`` and ``_sdc_deleted_at``."""
        stream = self.stream
        deleted_at = dt.datetime.now(dt.timezone.utc).isoformat()
        count = 0
        for key in gone:
            record: dict[str, Any] = dict(zip(self.key_names, key, strict=True))
            record[COMPANY_ID] = company_id
            record[DELETED_AT] = deleted_at
            stream.write_delete(record)
            count += 1
        if count:
            LOGGER.info(
                "Stream %s (company %s): %d rows deleted in BC since the last reconciliation.",
                stream.name,
                company_id,
                count,
            )

    # -- state -------------------------------------------------------------------------------
    def _context(self, company_id: str | None) -> dict[str, Any] | None:
        return {COMPANY_ID: company_id} if company_id is not None else None

    def _old(self, company_id: str | None) -> dict[str, Any] | None:
        value = self.stream.get_context_state(self._context(company_id)).get(STATE_KEY)
        return value if isinstance(value, dict) else None

    def _remember(self, company_id: str | None, value: dict[str, Any]) -> None:
        self.stream.get_context_state(self._context(company_id))[STATE_KEY] = value
        self.stream.state_manager.is_flushed = False
