"""POST, PATCH, DELETE and bound actions on the store, with BC's concurrency and validation rules.

Each write runs in its own SQLite savepoint under the store's write lock, so a write that fails
half-way leaves nothing behind, and a `$batch` can wrap many writes in one outer savepoint.
"""

from __future__ import annotations

import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import count
from typing import TYPE_CHECKING, Any

from businesscentral_emulator.odata.errors import BusinessCentralError, record_not_found
from businesscentral_emulator.odata.paths import Target
from businesscentral_emulator.odata.query import QueryOptions
from businesscentral_emulator.odata.values import empty_value, stored_stream
from businesscentral_emulator.rules import (
    code_tables,
    corrections,
    discounts,
    job_queue,
    journal_lines,
    master_data,
    payments,
    posting_dates,
    purchase_corrections,
    record_sets,
    sending,
    subscriptions,
    time_registration,
)
from businesscentral_emulator.rules import documents as docs
from businesscentral_emulator.rules.field_rules import validate_and_derive
from businesscentral_emulator.rules.validation import (
    EMPTY_GUID,
    check_required,
    check_update,
    convert_body,
    dialog,
    page_name,
)
from businesscentral_emulator.store.sqlite import quote, table_name

if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Callable, Iterator

    from businesscentral_emulator.odata.edmx import ApiModel, EntitySet
    from businesscentral_emulator.store.reader import Reader
    from businesscentral_emulator.store.sqlite import Store

_savepoints = count(1)
_CHANGE_FIELDS = ("lastModifiedDateTime", "lastModfiedDateTime", "systemModifiedAt")
_POST, _PATCH, _DELETE = "POST", "PATCH", "DELETE"
NO_DOCUMENT = "No document with the specified ID exists."
_REFERENCE_FIELDS = frozenset(
    {
        "customerId",
        "customerNumber",
        "billToCustomerId",
        "billToCustomerNumber",
        "vendorId",
        "vendorNumber",
        "payToVendorId",
        "payToVendorNumber",
        "itemId",
        "accountId",
        "lineObjectNumber",
        "accountNumber",
    }
)


@contextmanager
def transaction(store: Store) -> Iterator[sqlite3.Connection]:
    """A savepoint under the write lock: all of the block's changes, or none."""
    with store.write_lock:
        db = store.connection()
        name = f"w{next(_savepoints)}"
        db.execute(f"SAVEPOINT {name}")
        try:
            yield db
        except BaseException:
            db.execute(f"ROLLBACK TO {name}")
            db.execute(f"RELEASE {name}")
            raise
        db.execute(f"RELEASE {name}")


def method_not_allowed(method: str, target: Target) -> BusinessCentralError:
    """A method the path or the entity set's Capabilities forbid: 405 `BadRequest_MethodNotAllowed`.

    BC's ODataMethodNotAllowedException (Microsoft Learn dynamics-error-codes: `'POST' requests for
    'companies' of EdmType 'Entity' are not allowed within Microsoft Dynamics NAV OData web
    services.`; 405 per Learn's HTTP status table, "a client calling an API query (which is
    read-only) using HTTP POST"). Real answers: `'PATCH' requests for 'items' of EdmType
    'Collection' are not allowed within Dynamics 365 Business Central OData web services.`
    (hougaard/Simple-Object-Designer issues 36, 100, 284, 2022-2023). The EdmType is the path's
    kind (a PATCH or DELETE of a collection) or, for a set whose Capabilities forbid the method,
    'Entity' as in Learn's example for the GET-only `companies`.
    """
    wrong_shape = (method == "POST") == target.single
    kind = "Collection" if wrong_shape and not target.single else "Entity"
    return BusinessCentralError(
        405,
        "BadRequest_MethodNotAllowed",
        f"'{method}' requests for '{target.entity_set.name}' of EdmType '{kind}' are not allowed"
        " within Dynamics 365 Business Central OData web services.",
    )


def missing_token() -> BusinessCentralError:
    """A PATCH without `If-Match` (status, code and message from real responses)."""
    return BusinessCentralError(
        400,
        "BadRequest_InvalidToken",
        "Could not validate the client concurrency token required by the service. Please provide"
        " a valid token in the client request.",
    )


def entity_changed(status: int) -> BusinessCentralError:
    """A stale etag (code and message from BC's docs; the status is a setting: 409 or 412)."""
    return BusinessCentralError(
        status, "Request_EntityChanged", "Another user has already changed the record."
    )


def duplicate_record(entity_set: EntitySet, identification: str) -> BusinessCentralError:
    """The platform's duplicate-key refusal for a row of `entity_set`, in its table's caption."""
    table = code_tables.table_caption(entity_set.name, entity_set.entity_type.name)
    return code_tables.duplicate_key(table, identification)


def _same_tag(a: str, b: str) -> bool:
    return a.strip().removeprefix("W/") == b.strip().removeprefix("W/")


@dataclass
class WriteSettings:
    """Runtime switches of the write rules."""

    conflict_status: int = 409


class Writer:
    """The write rules of one environment's store."""

    def __init__(self, store: Store, reader: Reader, settings: WriteSettings) -> None:
        """Write to `store`; answer rows as `reader` shapes them."""
        self.store = store
        self.reader = reader
        self.settings = settings

    # -- rows --------------------------------------------------------------------------------

    def _fetch(
        self, api: ApiModel, entity_set: EntitySet, where: str, params: list[Any]
    ) -> dict[str, Any] | None:
        names = list(entity_set.entity_type.properties)
        columns = ", ".join(quote(n) for n in names)
        row = self.store.fetch_one(
            f"SELECT _rowid, _etag, _company, {columns} FROM"
            f" {table_name(api.route, entity_set.name)} WHERE {where} LIMIT 1",
            params,
        )
        if row is None:
            return None
        return dict(zip(["_rowid", "_etag", "_company", *names], row, strict=True))

    def _fetch_target(self, target: Target) -> dict[str, Any]:
        where, params = target.where()
        row = self._fetch(target.api, target.entity_set, where, params)
        if row is None:
            raise record_not_found(target.entity_set.entity_type.name, target.key or "")
        return row

    def read_back(
        self, api: ApiModel, entity_set: EntitySet, company: str | None, row_id: str
    ) -> dict[str, Any]:
        """The row as BC answers it after a write."""
        key = entity_set.entity_type.key[0]
        target = Target(
            api=api,
            entity_set=entity_set,
            company=company,
            conditions=[(f"{quote(key)} = ?", [row_id])],
            single=True,
            key=row_id,
        )
        row = self.reader.read_single(target, QueryOptions())
        if row is None:  # pragma: no cover - the row was just written
            raise record_not_found(entity_set.entity_type.name, row_id)
        return row

    def _check_etag(self, if_match: str | None, row: dict[str, Any], *, required: bool) -> None:
        if if_match is None or not if_match.strip():
            if required:
                raise missing_token()
            return
        if if_match.strip() == "*":
            return
        if not any(_same_tag(tag, row["_etag"]) for tag in if_match.split(",")):
            raise entity_changed(self.settings.conflict_status)

    def _check_unique(
        self, api: ApiModel, entity_set: EntitySet, row: dict[str, Any], own_rowid: int | None
    ) -> None:
        if master_data.has_composite_key(api, entity_set.name):
            fields = master_data.duplicate_key(self.store, api, entity_set.name, row, own_rowid)
            if fields is not None:
                raise duplicate_record(entity_set, ",".join(fields))
            return
        props = entity_set.entity_type.properties
        field = "number" if "number" in props else "code" if "code" in props else None
        if field is None or not row.get(field):
            return
        clash = self.store.fetch_one(
            f"SELECT _rowid FROM {table_name(api.route, entity_set.name)}"
            f" WHERE _company IS ? AND {quote(field)} = ? AND _rowid IS NOT ?",
            (row.get("_company"), row[field], own_rowid),
        )
        if clash is not None:
            label = "No." if field == "number" else "Code"
            raise duplicate_record(entity_set, f"{label}='{row[field]}'")

    def _header_posted_check(self, api: ApiModel, set_name: str, row: dict[str, Any]) -> None:
        """Refuse a change to a posted document or to a line of one."""
        if docs.is_posted(set_name, row):
            raise docs.posted_error(set_name)
        header_set = docs.HEADER_OF_LINES.get(set_name)
        if header_set is None:
            return
        header = self._fetch(api, api.entity_sets[header_set], '"id" = ?', [row.get("documentId")])
        if header is None:  # the aggregators' label (Sales Invoice Aggregator and siblings)
            raise dialog(NO_DOCUMENT)
        if docs.is_posted(header_set, header):
            raise docs.posted_error(header_set)

    def _refresh_header(
        self,
        api: ApiModel,
        header_set: str,
        document_id: str,
        sent_discount: Any = None,  # noqa: ANN401
    ) -> None:
        entity_set = api.entity_sets[header_set]
        sets = (header_set, docs.LINES_OF[header_set])
        totals = discounts.refresh_document(self.store, api, sets, document_id, sent_discount)
        totals.update(corrections.draft_remaining(header_set, totals))
        self._update_columns(api, entity_set, '"id" = ?', [document_id], totals)

    def _update_columns(
        self,
        api: ApiModel,
        entity_set: EntitySet,
        where: str,
        params: list[Any],
        values: dict[str, Any],
    ) -> None:
        values = dict(values)
        changed_field = api.change_date_field(entity_set)
        if changed_field:
            values[changed_field] = docs.now_stored()
        assignments = "".join(f", {quote(name)} = ?" for name in values)
        self.store.connection().execute(
            f"UPDATE {table_name(api.route, entity_set.name)} SET _etag = ?{assignments}"
            f" WHERE {where}",
            [self.store.new_etag(), *values.values(), *params],
        )

    # -- POST --------------------------------------------------------------------------------

    def insert(self, target: Target, body: Any) -> tuple[str, dict[str, Any]]:  # noqa: ANN401
        """Create a row (and a document's lines): its id and the row as BC answers it."""
        entity_set = target.entity_set
        if target.single or not entity_set.insertable:
            raise method_not_allowed(_POST, target)
        lines_set = docs.LINES_OF.get(entity_set.name)
        navigations = frozenset({lines_set}) if lines_set else frozenset()
        values, nested = convert_body(
            target.api, entity_set, body, insert=True, allowed_navigations=navigations
        )
        changed = set(values)
        with transaction(self.store):
            payments.check_journal_link(target, values)
            time_registration.before_insert(self.store, target, values, changed)
            self._link_parent(target, values, changed)
            record_sets.before_insert(self.store, target, values, changed)
            new_id = self._insert_row(target.api, entity_set, target.company, values, changed)
            if lines_set is not None:
                if "discountAmount" in changed:  # the page applies it before any line exists
                    self._refresh_header(
                        target.api, entity_set.name, new_id, values["discountAmount"]
                    )
                lines = nested.get(lines_set) or []
                if not isinstance(lines, list):
                    raise BusinessCentralError(400, "BadRequest", "A collection was expected.")
                line_set = target.api.entity_sets[lines_set]
                for line_body in lines:
                    line, _ = convert_body(target.api, line_set, line_body, insert=True)
                    line_changed = set(line)
                    line["documentId"] = new_id
                    self._insert_row(target.api, line_set, target.company, line, line_changed)
                self._refresh_header(target.api, entity_set.name, new_id)
        return new_id, self.read_back(target.api, entity_set, target.company, new_id)

    def _link_parent(self, target: Target, values: dict[str, Any], changed: set[str]) -> None:
        """A nested POST takes the parent's keys (`salesInvoices(x)/salesInvoiceLines`)."""
        parent, nav = target.parent, target.navigation
        if parent is None or nav is None:
            return
        parent_row = self._fetch_target(parent)
        for own, referenced in nav.constraints:
            values[referenced] = parent_row[own]
            changed.add(referenced)

    def _insert_row(
        self,
        api: ApiModel,
        entity_set: EntitySet,
        company: str | None,
        values: dict[str, Any],
        changed: set[str],
    ) -> str:
        name = entity_set.name
        props = entity_set.entity_type.properties
        row = dict(values)
        row["_company"] = company
        validate_and_derive(self.store, api, name, company, row, changed, None)
        header_set = docs.HEADER_OF_LINES.get(name)
        if header_set is not None:
            self._prepare_line(api, entity_set, row)
        if journal_lines.applies(api, name):
            journal_lines.on_insert(self.store, api, company, row, changed)
        check_required(api, entity_set, row)
        _computed(api, entity_set, row)
        code_tables.on_insert(page_name(api, entity_set), row, changed)
        subscriptions.on_insert(name, row)
        if "number" in props and not row.get("number"):
            row["number"] = master_data.next_number(
                self.store, api, name, company
            ) or docs.next_number(self.store, api, name, company)
        if name in docs.LINES_OF:
            row["status"] = "Draft"
        self._check_unique(api, entity_set, row, None)
        if "id" in props:
            row["id"] = self._new_id(api, entity_set, row.get("id"))
        changed_field = api.change_date_field(entity_set)
        if changed_field:
            row[changed_field] = docs.now_stored()
        columns = {p.name: row.get(p.name, empty_value(p)) for p in props.values()}
        columns = {
            k: (empty_value(props[k]) if v is None and not props[k].nullable else v)
            for k, v in columns.items()
        }
        names = ", ".join(quote(n) for n in columns)
        self.store.connection().execute(
            f"INSERT INTO {table_name(api.route, name)} (_company, _etag, {names})"
            f" VALUES (?, ?{', ?' * len(columns)})",
            [company, self.store.new_etag(), *columns.values()],
        )
        if header_set is not None:
            self._refresh_header(api, header_set, str(row["documentId"]))
        return str(row[entity_set.entity_type.key[0]])

    def _prepare_line(self, api: ApiModel, entity_set: EntitySet, row: dict[str, Any]) -> None:
        """A new line: its document, its sequence (BC's numbering or a free one), its amounts."""
        name = entity_set.name
        if not row.get("documentId"):
            raise docs_missing_document()
        self._header_posted_check(api, name, row)
        document_id = str(row["documentId"])
        if row.get("sequence") in (None, 0):
            row["sequence"] = docs.next_sequence(
                self.store, api, name, "documentId", document_id, "sequence"
            )
        elif docs.line_exists(self.store, api, name, document_id, row["sequence"]):
            raise docs.duplicate_line(name)
        if "taxPercent" in entity_set.entity_type.properties and "taxPercent" not in row:
            row["taxPercent"] = docs.line_taxes(self.store, api, name, document_id) or "0"
        row.update(docs.line_amounts(row))

    def _new_id(self, api: ApiModel, entity_set: EntitySet, sent: Any) -> str:  # noqa: ANN401
        """The new row's id: the one the client sent, else a new one.

        BC 2020 release wave 2 and later persist a SystemId sent in a POST (Microsoft Learn,
        "Table system fields"). A clash with an existing row is refused as a duplicate key
        (wording modelled on BC's duplicate-key message; unconfirmed for SystemId).
        """
        if sent in (None, "", EMPTY_GUID):
            return str(uuid.uuid4())
        clash = self.store.fetch_one(
            f'SELECT 1 FROM {table_name(api.route, entity_set.name)} WHERE "id" = ?', (sent,)
        )
        if clash is not None:
            raise duplicate_record(entity_set, f"Id='{sent}'")
        return str(sent)

    # -- PATCH -------------------------------------------------------------------------------

    def update(self, target: Target, body: Any, if_match: str | None) -> dict[str, Any]:  # noqa: ANN401
        """Change a row: the row with its new etag."""
        entity_set = target.entity_set
        if not target.single or not entity_set.updatable:
            raise method_not_allowed(_PATCH, target)
        api, name = target.api, entity_set.name
        with transaction(self.store):
            row = self._fetch_target(target)
            self._check_etag(if_match, row, required=True)
            self._header_posted_check(api, name, row)
            values, _ = convert_body(api, entity_set, body, insert=False)
            check_update(api, entity_set, row, values)
            record_sets.before_update(self.store, api, name, row, values)
            time_registration.before_update(self.store, api, name, row, values)
            merged = {**row, **values}
            # A reference repeated unchanged is not looked up again (nothing is re-derived).
            sent = {k for k in values if k not in _REFERENCE_FIELDS or values[k] != row.get(k)}
            validate_and_derive(self.store, api, name, row["_company"], merged, sent, row)
            if journal_lines.applies(api, name):
                journal_lines.on_update(self.store, api, row, merged, sent)
            if name in docs.HEADER_OF_LINES:
                merged.update(docs.line_amounts(merged))
            _computed(api, entity_set, merged)
            code_tables.on_update(page_name(api, entity_set), merged, set(values), row)
            subscriptions.on_update(name, merged)
            changes = {
                key: merged[key]
                for key in entity_set.entity_type.properties
                if key in values or merged[key] != row[key]
            }
            self._check_unique(api, entity_set, merged, row["_rowid"])
            self._update_columns(api, entity_set, "_rowid = ?", [row["_rowid"]], changes)
            if page_name(api, entity_set) and "code" in changes:
                code_tables.cascade_rename(
                    self.store, api, name, row["_company"], (row["code"], merged["code"])
                )
            header_set = docs.HEADER_OF_LINES.get(name)
            if header_set is not None:
                self._refresh_header(api, header_set, str(row["documentId"]))
            elif name in docs.LINES_OF:  # the page's UpdateDiscount after PropagateOnModify
                self._refresh_header(api, name, str(row["id"]), values.get("discountAmount"))
        key = entity_set.entity_type.key[0]
        return self.read_back(api, entity_set, row["_company"], str(merged[key]))

    def write_stream(self, target: Target, content: bytes, if_match: str | None) -> None:
        """Replace a media property's content (`PATCH attachments(id)/attachmentContent`).

        If-Match is required as for any PATCH (Microsoft Learn, v2.0 attachment_update); the
        page's OnModifyRecord runs as for a PATCH of the entity (byteSize from the content).
        """
        entity_set, name = target.entity_set, target.entity_set.name
        if not entity_set.updatable:
            raise method_not_allowed(_PATCH, target)
        with transaction(self.store):
            row = self._fetch_target(target)
            self._check_etag(if_match, row, required=True)
            values: dict[str, Any] = {str(target.stream): stored_stream(content)}
            record_sets.before_update(self.store, target.api, name, row, values)
            self._update_columns(target.api, entity_set, "_rowid = ?", [row["_rowid"]], values)

    # -- DELETE ------------------------------------------------------------------------------

    def delete(self, target: Target, if_match: str | None) -> None:
        """Remove a row (a document with its lines)."""
        entity_set = target.entity_set
        if not target.single or not entity_set.deletable:
            raise method_not_allowed(_DELETE, target)
        api, name = target.api, entity_set.name
        with transaction(self.store) as db:
            row = self._fetch_target(target)
            self._check_etag(if_match, row, required=False)
            self._header_posted_check(api, name, row)
            docs.check_delete(self.store, api, name, row)
            code_tables.check_delete(self.store, api, page_name(api, entity_set), row)
            master_data.check_delete(self.store, api, name, row)
            lines_set = docs.LINES_OF.get(name)
            if lines_set is not None:
                db.execute(
                    f'DELETE FROM {table_name(api.route, lines_set)} WHERE "documentId" = ?',
                    (row["id"],),
                )
            db.execute(
                f"DELETE FROM {table_name(api.route, name)} WHERE _rowid = ?", (row["_rowid"],)
            )
            code_tables.after_delete(self.store, api, page_name(api, entity_set), row)
            header_set = docs.HEADER_OF_LINES.get(name)
            if header_set is not None:
                self._refresh_header(api, header_set, str(row["documentId"]))

    # -- bound actions -----------------------------------------------------------------------

    def act(self, target: Target) -> None:
        """Run a bound action (`Microsoft.NAV.post`); a ...AndSend then sends, after its commit."""
        self._run_action(target)
        if (target.entity_set.name, target.action or "") in sending.SENDS_AFTER_COMMIT:
            raise sending.refuse_send_after_commit()

    def _run_action(self, target: Target) -> None:
        action = target.action or ""
        name = target.entity_set.name
        with transaction(self.store):
            batch = payments.payment_batch(self.store, target) if name == "journals" else None
            if batch is not None:  # journals(<payment journal id>)/post: see rules/payments.py
                payments.post_payments(self.store, target.api, *batch)
                return
            row = self._fetch_target(target)
            docs.action_precondition(name, action, row)
            if action in {"post", "postAndSend"} and name == "journals":
                self._post_journal(target, row)
            elif action in {"post", "postAndSend"} and name in docs.DOCUMENTS:
                self._post_document(target, row)
            elif name == "salesQuotes" and action in docs.QUOTE_CONVERSIONS:
                self._convert_quote(target, row, docs.QUOTE_CONVERSIONS[action])
            elif (name, action) in docs.ORDER_POSTINGS:
                self._post_order(target, row, *docs.ORDER_POSTINGS[name, action])
            elif (name, action) == ("jobQueueEntries", "restart"):
                restarted = job_queue.restarted()
                self._update_columns(
                    target.api, target.entity_set, "_rowid = ?", [row["_rowid"]], restarted
                )
            elif name == "salesInvoices" and action in corrections.CANCEL_ACTIONS:
                self._cancel_invoice(target, row)
            elif name == "salesCreditMemos" and action in corrections.CANCEL_ACTIONS:
                self._cancel_credit_memo(target, row)
            elif name == "salesInvoices" and action == corrections.CORRECTIVE_ACTION:
                corrections.check_corrective_credit_memo(row)
                self._credit_memo_from(target, row)
            else:
                self._send_or_cancel_purchase(target, row)

    def _send_or_cancel_purchase(self, target: Target, row: dict[str, Any]) -> None:
        """`send` (rules/sending.py), purchaseCreditMemos `cancel`; other actions: 501."""
        action, name = target.action or "", target.entity_set.name
        if (name, action) == purchase_corrections.CANCEL:
            allowed = self._allowed(target.api, row)
            purchase_corrections.check_cancel(self.store, target.api, row, posting_allowed=allowed)
            self._cancel_purchase_credit_memo(target, row)
        elif action == sending.SEND and name in sending.SENDING_SETS:
            sending.check_send(self.store, target.api, name, row)
        else:
            raise BusinessCentralError(
                501,
                "BadRequest_MethodNotImplemented",
                f"The action 'Microsoft.NAV.{action}' is not implemented by the emulator.",
            )

    def _post_document(self, target: Target, row: dict[str, Any]) -> None:
        api, name = target.api, target.entity_set.name
        if not docs.has_lines(self.store, api, name, str(row["id"])):
            raise docs.no_lines_error(name)
        posting_date = row.get("postingDate") or ""
        if posting_date in {"", "0001-01-01"}:
            posting_date = docs.now_stored()[:10]
        posting_dates.check_post(self.store, api, row["_company"], posting_date)
        changes: dict[str, Any] = {"status": "Open", "postingDate": posting_date}
        if "remainingAmount" in row:
            changes["remainingAmount"] = row.get("totalAmountIncludingTax") or "0"
        number = docs.posted_number(self.store, api, name, row["_company"])
        if number is not None:  # the same id, the posted series' number
            changes["number"] = number
        self._update_columns(api, target.entity_set, "_rowid = ?", [row["_rowid"]], changes)
        self._write_entries(api, name, {**row, **changes}, posting_date)

    def _cancel_invoice(self, target: Target, invoice: dict[str, Any]) -> None:
        """Cancel a posted invoice: a corrective credit memo, posted; the invoice Canceled."""
        corrections.check_cancel(invoice, posting_allowed=self._allowed(target.api, invoice))
        memo_id = self._credit_memo_from(target, invoice)
        self._post_copy(
            target.api, corrections.CREDIT_MEMOS, memo_id, {"status": corrections.CORRECTIVE}
        )
        self._update_columns(
            target.api, target.entity_set, "_rowid = ?", [invoice["_rowid"]],
            corrections.canceled_invoice(),
        )  # fmt: skip

    def _cancel_credit_memo(self, target: Target, memo: dict[str, Any]) -> None:
        """Cancel a corrective credit memo: a posted Corrective invoice; the memo Canceled."""
        corrections.check_cancel_credit_memo(memo, posting_allowed=self._allowed(target.api, memo))
        self._cancel_into_invoice(
            target,
            memo,
            (corrections.CREDIT_MEMO_LINES, corrections.INVOICES),
            lambda number: {"number": number},
            corrections.corrective_invoice(),
        )

    def _cancel_purchase_credit_memo(self, target: Target, memo: dict[str, Any]) -> None:
        """Cancel a corrective purchase credit memo: a posted Corrective invoice; it Canceled."""
        self._cancel_into_invoice(
            target,
            memo,
            purchase_corrections.INTO,
            purchase_corrections.cancelling_invoice,
            {"status": corrections.CORRECTIVE},
        )

    def _cancel_into_invoice(
        self,
        target: Target,
        memo: dict[str, Any],
        lines_to: tuple[str, str],
        copied: Callable[[str], dict[str, Any]],
        posted: dict[str, Any],
    ) -> None:
        """Cancel a credit memo into a posted invoice (codeunits 1339 and 1402 alike).

        The memo's lines are copied into an invoice of the posted series, which is posted with
        `posted`; the memo becomes Canceled.
        """
        api, company = target.api, memo["_company"]
        invoices = lines_to[1]
        number = docs.posted_number(self.store, api, invoices, company) or ""
        invoice_id = self._copy_document(target, memo, lines_to, copied(number))
        self._post_copy(api, invoices, invoice_id, posted)
        self._update_columns(
            api, target.entity_set, "_rowid = ?", [memo["_rowid"]], {"status": corrections.CANCELED}
        )

    def _credit_memo_from(self, target: Target, invoice: dict[str, Any]) -> str:
        """A draft credit memo copied from a posted invoice and applied to it: its id."""
        return self._copy_document(
            target, invoice, (corrections.INVOICE_LINES, corrections.CREDIT_MEMOS),
            corrections.credit_memo_links(invoice),
        )  # fmt: skip

    def _copy_document(
        self,
        target: Target,
        source: dict[str, Any],
        lines_to: tuple[str, str],
        extra: dict[str, Any],
    ) -> str:
        """A new draft of another set copied from a document (Copy Document Mgt.): its id.

        It takes the fields both types have, `extra`, the work date as posting date (Sales
        Header.Insert), and the source's lines one for one.
        """
        api, company = target.api, source["_company"]
        from_lines, to_set = lines_to
        header_set = api.entity_sets[to_set]
        values, filled = docs.copied_fields(source, header_set.entity_type.properties)
        values.update(extra, postingDate=docs.now_stored()[:10])
        filled |= {*extra, "postingDate"}
        new_id = self._insert_row(api, header_set, company, values, filled)
        self._copy_lines(api, company, (from_lines, source["id"]), (to_set, new_id))
        return new_id

    def _post_copy(
        self,
        api: ApiModel,
        set_name: str,
        document_id: str,
        changes: dict[str, Any],
    ) -> None:
        """Post a copied draft: its posted status, and its G/L entries on its posting date."""
        entity_set = api.entity_sets[set_name]
        document = self._fetch(api, entity_set, '"id" = ?', [document_id])
        if document is None:  # pragma: no cover - just written
            raise record_not_found(entity_set.entity_type.name, document_id)
        self._update_columns(api, entity_set, '"id" = ?', [document_id], changes)
        posting_date = str(document.get("postingDate") or docs.now_stored()[:10])
        self._write_entries(api, set_name, document, posting_date)

    def _write_entries(
        self, api: ApiModel, set_name: str, document: dict[str, Any], posting_date: str
    ) -> None:
        """A posted document's balanced G/L entries, under its number and document type."""
        docs.write_gl_entries(
            self.store,
            api,
            document["_company"],
            docs.document_entries(self.store, api, set_name, document),
            document_number=str(document.get("number") or ""),
            document_type=docs.DOCUMENTS[set_name].gl_document_type or "_x0020_",
            posting_date=posting_date,
        )

    def _allowed(self, api: ApiModel, row: dict[str, Any]) -> bool:
        """Whether the document's posting date is inside the allowed posting dates."""
        posting_date = str(row.get("postingDate") or "")
        return posting_dates.allowed(self.store, api, row["_company"], posting_date)

    def _post_journal(self, target: Target, journal: dict[str, Any]) -> None:
        api = target.api
        line_set = api.entity_sets["journalLines"]
        where = '_company IS ? AND "journalId" = ?'
        params = [journal["_company"], journal["id"]]
        names = list(line_set.entity_type.properties)
        raw = self.store.fetch(
            f"SELECT {', '.join(quote(n) for n in names)} FROM"
            f' {table_name(api.route, "journalLines")} WHERE {where} ORDER BY "lineNumber"',
            params,
        )
        if not raw:
            raise docs.nothing_to_post()
        lines = [dict(zip(names, r, strict=True)) for r in raw]
        for line in lines:
            posting_date = str(line.get("postingDate") or "")
            if posting_date in {"", "0001-01-01"}:
                posting_date = docs.now_stored()[:10]
            docs.write_gl_entries(
                self.store,
                api,
                journal["_company"],
                docs.journal_entries(self.store, api, journal["_company"], journal, [line]),
                document_number=str(line.get("documentNumber") or ""),
                document_type="_x0020_",
                posting_date=posting_date,
            )
        self.store.connection().execute(
            f"DELETE FROM {table_name(api.route, 'journalLines')} WHERE {where}", params
        )

    def _convert_quote(self, target: Target, source: dict[str, Any], to_set: str) -> None:
        """A quote made an invoice or order: a new draft with its header and lines; no quote."""
        api, company = target.api, source["_company"]
        header_set = api.entity_sets[to_set]
        values, filled = docs.copied_fields(source, header_set.entity_type.properties)
        if "postingDate" in header_set.entity_type.properties and "postingDate" not in filled:
            values["postingDate"] = docs.now_stored()[:10]  # the work date
        new_id = self._insert_row(api, header_set, company, values, filled)
        self._copy_lines(api, company, (docs.QUOTE_LINES, source["id"]), (to_set, new_id))
        self._delete_document(api, "salesQuotes", docs.QUOTE_LINES, source)

    def _copy_lines(
        self,
        api: ApiModel,
        company: str | None,
        source: tuple[str, str],
        to: tuple[str, str],
    ) -> int:
        """Copy the lines of one document (line set, id) under another (header set, id)."""
        (from_lines, from_id), (to_set, to_id) = source, to
        names = list(api.entity_sets[from_lines].entity_type.properties)
        rows = self.store.fetch(
            f"SELECT {', '.join(quote(n) for n in names)} FROM {table_name(api.route, from_lines)}"
            ' WHERE "documentId" = ? ORDER BY "sequence"',
            (from_id,),
        )
        line_set = api.entity_sets[docs.DOCUMENTS[to_set].lines]
        for raw in rows:
            line, filled = docs.copied_fields(
                dict(zip(names, raw, strict=True)), line_set.entity_type.properties
            )
            line["documentId"] = to_id
            self._insert_row(api, line_set, company, line, filled)
        return len(rows)

    def _delete_document(
        self, api: ApiModel, header_set: str, line_set: str, row: dict[str, Any]
    ) -> None:
        """Remove a document row and its lines (what an AL `Delete` of the header does)."""
        db = self.store.connection()
        db.execute(
            f'DELETE FROM {table_name(api.route, line_set)} WHERE "documentId" = ?', (row["id"],)
        )
        db.execute(
            f"DELETE FROM {table_name(api.route, header_set)} WHERE _rowid = ?", (row["_rowid"],)
        )

    def _post_order(
        self, target: Target, order: dict[str, Any], order_lines: str, invoice_set: str
    ) -> None:
        """An order shipped (received) and invoiced: a posted invoice of its own; no order."""
        api, company = target.api, order["_company"]
        invoice_entity = api.entity_sets[invoice_set]
        values, filled = docs.copied_fields(order, invoice_entity.entity_type.properties)
        posting_date = str(values.get("postingDate") or "")
        if posting_date in {"", "0001-01-01"}:
            posting_date = docs.now_stored()[:10]
        posting_dates.check_post(self.store, api, company, posting_date)
        values["postingDate"] = posting_date
        values["number"] = docs.posted_number(self.store, api, invoice_set, company) or ""
        invoice_id = self._insert_row(api, invoice_entity, company, values, filled)
        copied = self._copy_lines(
            api, company, (order_lines, order["id"]), (invoice_set, invoice_id)
        )
        if not copied:
            raise docs.no_lines_error(target.entity_set.name)
        invoice = self._fetch(api, invoice_entity, '"id" = ?', [invoice_id])
        if invoice is None:  # pragma: no cover - just written
            raise record_not_found(invoice_entity.entity_type.name, invoice_id)
        changes: dict[str, Any] = {"status": "Open"}
        if "remainingAmount" in invoice:
            changes["remainingAmount"] = invoice.get("totalAmountIncludingTax") or "0"
        self._update_columns(api, invoice_entity, '"id" = ?', [invoice_id], changes)
        docs.write_gl_entries(
            self.store,
            api,
            company,
            docs.document_entries(self.store, api, invoice_set, invoice),
            document_number=str(invoice.get("number") or ""),
            document_type="Invoice",
            posting_date=posting_date,
        )
        self._delete_document(api, target.entity_set.name, order_lines, order)


def _computed(api: ApiModel, entity_set: EntitySet, row: dict[str, Any]) -> None:
    """Fields a page computes on every write.

    employees.displayName = `StrSubstNo('%1 %2', "First Name", "Last Name")`
    (APIV2Employees.Page.al @270597d100da44810d4bc15d7e5ac31263b0e803).
    """
    if page_name(api, entity_set) == "employees":
        row["displayName"] = f"{row.get('givenName') or ''} {row.get('surname') or ''}"


def docs_missing_document() -> BusinessCentralError:
    """A company-level line POST without its document, in the aggregators' words.

    `DocumentIDNotSpecifiedErr` of Sales Invoice Aggregator
    (@c845a0c4974a573382204b27b5af2dd4397a6db6) and its siblings.
    """
    return dialog("You must specify a document id to get the lines.")
