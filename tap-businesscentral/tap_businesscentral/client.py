"""The one base stream: an entity set of a BC API, read per company with server-side filters.

Bookmark rule (see the README): an incremental read asks BC for ``$filter=<key> ge <bookmark>``
with ``$orderby=<key>``, and the bookmark is the key of the last row written. Rows sharing the
bookmark's exact timestamp are therefore sent again by the next run (never lost); a row edited
during a read gets a newer timestamp, so the keyset-paged ordered read reaches it later in the
same read, or the next run does. Because the read is sorted, every STATE is resumable.

With ``start_date``, rows stamped ``0001-01-01T00:00:00Z`` (never stamped, not old) are read
too: ``or <key> eq 0001-01-01T00:00:00Z``, as long as the bookmark has not moved past them. They
sort first, so a run stopped among them resumes with the bookmark still at that empty datetime
and reads them again (the boundary rows), never skipping the rest. A change date that is not a
date and time never becomes the bookmark: the row is written, the bookmark stays, one warning.
"""

from __future__ import annotations

import datetime as dt
import sys
from typing import TYPE_CHECKING, Any, ClassVar

from businesscentral_api.odata import and_, encode_query, filter_expr, or_
from singer_sdk import Stream
from singer_sdk.helpers._util import utc_now
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.mapper import SameRecordTransform
from singer_sdk.singerlib import Metadata, MetadataMapping

from tap_businesscentral.catalog import COMPANY_ID, DOCUMENT_ID, ParentRead, StreamSpec
from tap_businesscentral.deletes.detector import DeleteDetector, detects_deletes
from tap_businesscentral.deletes.reconcile import DELETED_AT
from tap_businesscentral.fetch import MAX_PAGE_SIZE, ReadRequest
from tap_businesscentral.writer import BufferedMsgSpecWriter

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from singer_sdk.helpers.types import Context

    from tap_businesscentral.tap import TapBusinessCentral

__all__ = ["EMPTY_DATETIME", "BusinessCentralStream"]

EMPTY_DATETIME = dt.datetime(1, 1, 1, tzinfo=dt.timezone.utc)
_ETAG = "@odata.etag"


def parse_timestamp(value: str) -> dt.datetime:
    """Read a BC (or state) timestamp; BC trims trailing zeros of the fraction (``03.5Z``).

    Raises:
        ValueError: ``value`` is not an ISO 8601 date and time.
        TypeError: ``value`` is not a string.
    """
    parsed = dt.datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def is_timestamp(value: object) -> bool:
    """Whether ``value`` is a date and time a bookmark may hold (and a filter may compare)."""
    try:
        parse_timestamp(value)  # type: ignore[arg-type]
    except (ValueError, TypeError):
        return False
    return True


class BusinessCentralStream(Stream):
    """An entity set of the standard API or a custom API; one partition per company."""

    # BC sends JSON already (Decimal for fractions): conforming each value again only costs CPU.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE
    # BC sorts server-side; the SDK's string comparison would misorder ``03.5Z`` and ``03Z``.
    check_sorted: ClassVar[bool] = False

    def __init__(self, tap: TapBusinessCentral, spec: StreamSpec, schema: dict[str, Any]) -> None:
        """Build the stream for ``spec`` with the schema derived from ``$metadata``."""
        self.spec = spec
        self.bc_tap = tap
        # A set BC serves only one parent at a time is left out of a default selection.
        self.selected_by_default = spec.unread_reason is None
        self._reads_via: dict[tuple[str, str | None], ParentRead] = {}
        self._unread_logged = False
        super().__init__(tap, schema=schema, name=spec.name)
        self.primary_keys = list(spec.key)
        self.replication_key = spec.replication_key
        self._schema_sent = False
        self._pending_bookmark: tuple[dict[str, Any], Context | None] | None = None
        self._record_writer: tuple[BufferedMsgSpecWriter, frozenset[str]] | None = None
        self._record_writer_checked = False
        self._warned_bad_change_date = False
        self.delete_detector = DeleteDetector(self) if detects_deletes(self) else None
        self._lines_written: dict[str | None, int] = {}

    # -- SDK hooks ---------------------------------------------------------------------------
    @property
    @override
    def is_sorted(self) -> bool:
        """Incremental reads are ``$orderby`` the key, so any STATE can be resumed from."""
        return self.replication_key is not None

    @property
    @override
    def partitions(self) -> list[dict[str, Any]] | None:
        """One partition per chosen company; ``companies`` itself has none."""
        if not self.spec.company_scoped:
            return None
        return [{COMPANY_ID: company.id} for company in self.bc_tap.companies]

    @override
    def get_replication_key_signpost(self, context: Context | None = None) -> None:
        """No signpost: the read is sorted, so the last key written is the bookmark."""
        return

    @property
    @override
    def emit_activate_version_messages(self) -> bool:
        """ACTIVATE_VERSION only from a job that reads every company (``company_ids`` unset).

        ACTIVATE_VERSION retires every row of the table that this run did not send, whatever
        its company: from a job of some companies it would retire the others'. Deletes of
        full-table sets are written company by company as ``_sdc_deleted_at`` records anyway
        (see :mod:`tap_businesscentral.deletes`); ACTIVATE_VERSION stays, when safe, as the
        backstop of a first run and of ``--full-refresh``.
        """
        return bool(self.config.get("emit_activate_version_messages", True)) and not (
            self.config.get("company_ids")
        )

    @property
    @override
    def metadata(self) -> MetadataMapping:
        """The SDK's metadata; ``documentId`` of lines and ``_sdc_deleted_at`` always sent."""
        metadata = super().metadata
        for name in (DOCUMENT_ID, DELETED_AT):
            entry = metadata.get(("properties", name))
            if entry is not None and name in self.schema.get("properties", {}):
                entry.inclusion = Metadata.InclusionType.AUTOMATIC
        return metadata

    @override
    def _write_schema_message(self) -> None:
        # A lines stream's SCHEMA goes out with its header's first page; once per run is enough.
        if not self._schema_sent:
            self._schema_sent = True
            super()._write_schema_message()

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """Rows of one company, read page by page (ahead of time when prefetched)."""
        requests = self.read_requests(context)
        if not requests:
            return
        self.bc_tap.schedule_reads()
        company_id = context.get(COMPANY_ID) if context else None
        detector = self.delete_detector
        # From no bookmark and no start_date, the read writes every row: its keys need no key read.
        read_whole = self.start_value(context) is None
        for request in requests:
            via = self._reads_via.get(request.key)
            for index, page in enumerate(self.bc_tap.prefetcher.pages(request)):
                if index and self.replication_key:
                    # The previous page is written and counted: a point a rerun can resume from.
                    self._write_state_message()
                # One extraction time per page (and its expanded lines): when BC's page arrived.
                self.bc_tap.time_extracted = utc_now()
                rows = (
                    self.rows(page, company_id)
                    if via is None
                    else self.children(page, company_id, via)
                )
                if detector is None:
                    yield from rows
                    continue
                for row in rows:
                    detector.note(row, company_id)
                    yield row
        # Every row of the partition is written: deletes since the last run, then line counts.
        if detector is not None:
            if self.replication_key:
                detector.finish_incremental(company_id, read_whole=read_whole)
            else:
                detector.finish_read_whole(company_id)
        self._count_lines(context)

    def _count_lines(self, context: Context | None) -> None:
        """``record_count`` of the lines that came inside this partition, per lines stream."""
        company_id = context.get(COMPANY_ID) if context else None
        for _, stream in self.line_streams():
            if stream is None:
                continue
            with stream.get_record_counter() as counter:
                counter.with_context(context)
                counter.increment(stream._lines_written.pop(company_id, 0))  # noqa: SLF001

    def write_delete(self, record: dict[str, Any]) -> None:
        """Write a delete record (key, ``companyId``, ``_sdc_deleted_at``) as any record."""
        self._write_schema_message()
        self._write_record_message(record)

    # -- per-record work: the SDK's semantics, with less of its per-record cost --------------
    @override
    def _process_record(
        self,
        record: dict[str, Any],
        child_context: Context | None = None,
        partition_context: Context | None = None,
    ) -> None:
        # Rows carry their partition key already (``rows``); only child streams need more.
        if self.child_streams:
            super()._process_record(record, child_context, partition_context)

    @override
    def _increment_stream_state(
        self, latest_record: dict[str, Any], *, context: Context | None = None
    ) -> None:
        # A sorted read's bookmark is the last row written (with a change date): note the row
        # and hand it to the SDK's state manager before any STATE is written or finalized.
        if not self.is_sorted:
            super()._increment_stream_state(latest_record, context=context)
            return
        value = latest_record.get(self.replication_key) if self.replication_key else None
        if value is None:
            return
        if is_timestamp(value):
            self._pending_bookmark = (latest_record, context)
        elif not self._warned_bad_change_date:
            # The next run would put it in a $filter and fail: keep the bookmark where it was.
            self._warned_bad_change_date = True
            self.logger.warning(
                "Stream %s: %s %r is not a date and time; the bookmark stays at the last "
                "row with one (further such rows are not reported).",
                self.name,
                self.replication_key,
                value,
            )

    def _apply_pending_bookmark(self) -> None:
        pending, self._pending_bookmark = self._pending_bookmark, None
        if pending is not None:
            super()._increment_stream_state(pending[0], context=pending[1])

    @override
    def _write_state_message(self) -> None:
        self._apply_pending_bookmark()
        super()._write_state_message()
        # The SDK skips a STATE equal to the last one written (a rerun that found only the
        # boundary rows): the records it would have carried out of the buffer go out now.
        writer = self.bc_tap.message_writer
        if isinstance(writer, BufferedMsgSpecWriter):
            writer.flush()

    @override
    def _finalize_state(self, state: dict[str, Any] | None = None) -> None:
        self._apply_pending_bookmark()
        super()._finalize_state(state)

    def _fast_record_writer(self) -> tuple[BufferedMsgSpecWriter, frozenset[str]] | None:
        """The writer and the deselected properties, when records need no SDK mapping.

        That is: the tap's writer is ours, the only stream map is the identity without
        flattening, and every deselected breadcrumb is a top-level property (nested ones
        inherit their parent's selection).
        """
        writer = self.bc_tap.message_writer
        maps = self.stream_maps
        if (
            not isinstance(writer, BufferedMsgSpecWriter)
            or len(maps) != 1
            or type(maps[0]) is not SameRecordTransform
            or maps[0].flattening_enabled
            or maps[0].stream_alias != self.name
        ):
            return None
        deselected = set()
        for breadcrumb, selected in self.mask.items():
            if selected:
                continue
            if len(breadcrumb) != 2:  # noqa: PLR2004 - ("properties", name)
                return None
            deselected.add(breadcrumb[1])
        return writer, frozenset(deselected)

    @override
    def _write_record_message(self, record: dict[str, Any]) -> None:
        if not self._record_writer_checked:
            self._record_writer = self._fast_record_writer()
            self._record_writer_checked = True
        fast = self._record_writer
        if fast is None:
            super()._write_record_message(record)
            return
        writer, deselected = fast
        for name in deselected:
            record.pop(name, None)
        writer.write_record(self.name, record, self._stream_version, self.bc_tap.time_extracted)
        self.state_manager.is_flushed = False

    # -- reading -----------------------------------------------------------------------------
    def rows(self, page: list[dict[str, Any]], company_id: str | None) -> Iterator[dict[str, Any]]:
        """Shape one page: ``companyId`` on every row; expanded lines handed to their streams."""
        lines = self.line_streams()
        for row in page:
            row.pop(_ETAG, None)
            row[COMPANY_ID] = company_id if company_id is not None else row.get("id")
            for navigation, stream in lines:
                nested = row.pop(navigation, None) or ()
                if stream is not None:
                    stream.write_lines(nested, row.get("id"), row[COMPANY_ID])
            yield row

    def children(
        self, page: list[dict[str, Any]], company_id: str | None, via: ParentRead
    ) -> Iterator[dict[str, Any]]:
        """This set's rows, expanded inside a page of parents: each keeps its parent's id."""
        for parent in page:
            for row in parent.get(via.navigation) or ():
                row.pop(_ETAG, None)
                row.setdefault(via.parent_field, parent.get(via.parent_key))
                row[COMPANY_ID] = company_id
                yield row

    def line_streams(self) -> list[tuple[str, BusinessCentralStream | None]]:
        """Expanded lines navigations, with their stream when it is selected."""
        found: list[tuple[str, BusinessCentralStream | None]] = []
        for line in self.spec.lines:
            stream = self.bc_tap.streams.get(line.stream_name)
            selected = isinstance(stream, BusinessCentralStream) and stream.selected
            found.append((line.navigation, stream if selected else None))  # type: ignore[arg-type]
        return found

    def write_lines(
        self, lines: Iterable[dict[str, Any]], document_id: object, company_id: str
    ) -> None:
        """Write lines that arrived inside their header (this is the lines stream)."""
        self._write_schema_message()
        detector = self.delete_detector
        count = 0
        for line in lines:
            line.pop(_ETAG, None)
            line.setdefault(DOCUMENT_ID, document_id)
            line[COMPANY_ID] = company_id
            self._write_record_message(line)
            if detector is not None:
                detector.note(line, company_id)
            count += 1
        self._lines_written[company_id] = self._lines_written.get(company_id, 0) + count

    def header_stream(self) -> BusinessCentralStream | None:
        """For a lines stream: its header's stream when that is selected (and reads the lines)."""
        if self.spec.header is None:
            return None
        header = self.bc_tap.streams.get(self.spec.header)
        if isinstance(header, BusinessCentralStream) and header.selected:
            return header
        return None

    def selected_properties(self) -> list[str]:
        """Properties of the entity set that are selected (key and change date always)."""
        always = {
            *self.spec.key,
            self.replication_key,
            DOCUMENT_ID,
            *(via.parent_field for via in self.spec.via),
        }
        return [
            name
            for name in self.schema.get("properties", {})
            if name in self.spec.entity_set.properties
            and (name in always or self.mask.get(("properties", name), True))
        ]

    def select_option(self) -> str | None:
        """``$select`` value: None when every property is selected (the same, shorter URL)."""
        chosen = self.selected_properties()
        every = [p.name for p in self.spec.entity_set.properties.values() if not p.is_stream]
        return None if len(chosen) == len(every) else ",".join(chosen)

    def bookmark(self, context: Context | None) -> str | None:
        """This partition's bookmark from the state (checked when the state was loaded)."""
        if self.replication_key is None:
            return None
        state = self.get_context_state(context)
        if state.get("replication_key") != self.replication_key:
            return None
        value = state.get("replication_key_value")
        return str(value) if value else None

    def start_value(self, context: Context | None) -> str | None:
        """Where this partition's read starts: its bookmark, or ``start_date``, the later."""
        if self.replication_key is None:
            return None
        value = self.bookmark(context)
        start_date = self.config.get("start_date")
        if start_date and (not value or parse_timestamp(start_date) > parse_timestamp(value)):
            return str(start_date)
        return value

    def reads_never_stamped(self, context: Context | None) -> bool:
        """Whether rows stamped with the empty datetime are still to be read.

        They sort first, so until the bookmark moves past the empty datetime (a first run, or
        one stopped among them) not all of them are known to be written.
        """
        value = self.bookmark(context)
        return value is None or parse_timestamp(value) <= EMPTY_DATETIME

    def filter_option(self, context: Context | None) -> str | None:
        """The incremental filter ANDed with the user's, each parenthesised."""
        user = self.stream_options().get("filter")
        key = self.replication_key
        incremental = None
        start = self.start_value(context)
        if key and start:
            since = parse_timestamp(start)
            incremental = filter_expr(key, "ge", since)
            if since > EMPTY_DATETIME and self.reads_never_stamped(context):
                # The empty datetime means "never stamped", not "old": a start_date must not
                # drop those rows, and no later bookmark would match them either.
                incremental = or_(incremental, filter_expr(key, "eq", EMPTY_DATETIME))
        return and_(*(c for c in (user, incremental) if c)) or None

    def stream_options(self) -> dict[str, Any]:
        """This stream's entry of the ``stream_options`` setting."""
        options = self.config.get("stream_options") or {}
        return dict(options.get(self.name) or {})

    def expand_option(self) -> str | None:
        """Lines navigations (with their own ``$select``) and the user's extra ``$expand``."""
        parts: list[str] = []
        for navigation, stream in self.line_streams():
            if stream is None:
                continue
            select = stream.select_option()
            parts.append(f"{navigation}($select={select})" if select else navigation)
        extra = self.stream_options().get("expand")
        if extra:
            parts.append(str(extra))
        return ",".join(parts) or None

    def read_requests(self, context: Context | None) -> list[ReadRequest]:
        """The partition's reads: its own, or one per parent set BC serves it through."""
        if self.header_stream() is not None:
            return []  # the header's pages bring the lines
        if not self.spec.via:
            request = self.read_request(context)
            return [request] if request is not None else []
        return [self._parent_request(context, via) for via in self.spec.via]

    def _parent_request(self, context: Context | None, via: ParentRead) -> ReadRequest:
        """``<parent>?$select=<key>&$expand=<set>(...)``: one request per page of parents."""
        company_id = context.get(COMPANY_ID) if context else None
        url = self.bc_tap.client.urls.entity_set_url(via.parent, company_id, self.spec.api)
        nested = [f"$select={select}"] if (select := self.select_option()) else []
        user = self.stream_options().get("filter")
        if user:
            nested.append(f"$filter={user}")
        expand = f"{via.navigation}({';'.join(nested)})" if nested else via.navigation
        query = encode_query({"$select": via.parent_key, "$expand": expand})
        page_size = int(self.config.get("page_size") or MAX_PAGE_SIZE)
        key = (f"{self.name} via {via.parent}", company_id)
        self._reads_via[key] = via
        return ReadRequest(key=key, url=f"{url}?{query}", page_size=page_size, nested=True)

    def read_request(self, context: Context | None) -> ReadRequest | None:
        """The partition's first URL; None for a set BC serves only one parent at a time."""
        if self.spec.unread_reason is not None:
            if not self._unread_logged:
                self._unread_logged = True
                reason = self.spec.unread_reason
                self.logger.warning("Stream %s is not read: %s.", self.name, reason)
            return None
        company_id = context.get(COMPANY_ID) if context else None
        urls = self.bc_tap.client.urls
        url = (
            urls.entity_set_url(self.spec.entity_set.name, company_id, self.spec.api)
            if self.spec.company_scoped
            else urls.companies_url(self.spec.api)
        )
        expand = self.expand_option()
        params = {
            "$select": self.select_option(),
            "$filter": self.filter_option(context),
            "$orderby": f"{self.replication_key} asc" if self.replication_key else None,
            "$expand": expand,
        }
        query = encode_query(params)
        page_size = int(self.config.get("page_size") or MAX_PAGE_SIZE)
        return ReadRequest(
            key=(self.name, company_id),
            url=f"{url}?{query}" if query else url,
            page_size=page_size,
            nested=expand is not None,
        )
