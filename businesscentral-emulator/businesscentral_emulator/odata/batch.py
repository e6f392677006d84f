"""OData JSON `$batch`: many operations in one request, answered in BC's shape.

`{"requests": [{"id", "method", "url", "headers", "body"}]}` in, `{"responses": [{"id", "status",
"headers", "body"}]}` out. BC's rules, each from its source:

- Operations run in order and the batch stops after the first failed one, whose answer is the
  last; `Prefer: odata.continue-on-error` runs (and answers) the rest too. Sources: OData's
  DefaultODataBatchHandler.ExecuteRequestMessagesAsync (OData/WebApi
  src/Microsoft.AspNet.OData/Batch/DefaultODataBatchHandler.cs @010f3107, and the same loop in
  OData/AspNetCoreOData @0c149bed), and for BC: A. J. Kauffmann, "Batch calls with Business
  Central (2) - Error handling" (dynamicsuser.net/nav/b/kauffmann): "further execution will be
  stopped and the returned response contains the results up to the operation that failed".
- `Isolation: snapshot` runs the batch in one transaction: after a failure every change is rolled
  back, yet every operation that ran is still answered with its own status (successes keep their
  200/201/204). Source: MicrosoftDocs/dynamics365smb-devitpro-pb
  dev-itpro/webservices/use-odata-batch.md @136c4ff1 (answers 200, 204, 400).
- More than 100 operations: `Unknown`, "The current batch message contains too many parts. A
  maximum number of '100' query operations and change sets are allowed in a batch message."
  (ODataLib's ODataBatchReader_MaxBatchSizeExceeded with BC's quota, as a BC partner received it:
  https://demiliani.com/2021/01/12/dynamics-365-business-central-batch-api-calls-and-max-number-of-operations/).
  The HTTP status of that answer is not shown there; 400 is kept (unconfirmed).
- An inner request may name its company by a `Company` header (the company's name) and use a
  URL without `companies(...)`, e.g. `items(...)` (use-odata-batch.md, as above).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import msgspec

from businesscentral_emulator.odata.errors import BusinessCentralError
from businesscentral_emulator.rules import sending
from businesscentral_emulator.rules.writes import transaction
from businesscentral_emulator.store.sqlite import table_name

if TYPE_CHECKING:
    from collections.abc import Callable

    from starlette.responses import Response

    from businesscentral_emulator.odata.edmx import ApiModel
    from businesscentral_emulator.store.backend import Counters
    from businesscentral_emulator.store.sqlite import Store

_KEPT_HEADERS = ("location", "content-type", "odata-version", "retry-after", "preference-applied")
BATCH_TOO_LARGE = (
    "The current batch message contains too many parts. A maximum number of '{limit}' query"
    " operations and change sets are allowed in a batch message."
)


@dataclass
class Operation:
    """One API request, from HTTP or from inside a batch: what the handlers need of it."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    url: str


class _Rollback(Exception):  # noqa: N818 - control flow, not an error
    """Unwinds an atomic batch's savepoint after a failed operation."""


def _operation(raw: Any, api_root: str, outer: Operation) -> tuple[Any, Operation]:  # noqa: ANN401
    if not isinstance(raw, dict) or not isinstance(raw.get("url"), str):
        raise BusinessCentralError(400, "BadRequest", "Each batch request needs a method and url.")
    url: str = raw["url"]
    url = url.removeprefix(api_root)
    url = url.lstrip("/")
    path, _, query = url.partition("?")
    headers = {str(k).lower(): str(v) for k, v in (raw.get("headers") or {}).items()}
    intent = outer.headers.get("data-access-intent")
    if intent is not None:
        headers.setdefault("data-access-intent", intent)
    body = msgspec.json.encode(raw["body"]) if raw.get("body") is not None else b""
    method = str(raw.get("method", "GET")).upper()
    return raw.get("id"), Operation(method, path, query, headers, body, f"{api_root}/{url}")


def _entry(op_id: Any, response: Response) -> dict[str, Any]:  # noqa: ANN401
    headers = {name: response.headers[name] for name in _KEPT_HEADERS if name in response.headers}
    entry: dict[str, Any] = {"id": op_id, "status": response.status_code, "headers": headers}
    if response.body:
        headers.setdefault("odata-version", "4.0")
        entry["body"] = msgspec.Raw(bytes(response.body))
    return entry


def run_batch(  # noqa: PLR0913, PLR0917
    outer: Operation,
    api_root: str,
    store: Store,
    counters: Counters,
    execute: Callable[[Operation], Response],
    max_operations: int,
) -> bytes:
    """Run a batch; the JSON body of its answer (the caller sends it with status 200)."""
    try:
        payload = msgspec.json.decode(outer.body or b"{}")
    except msgspec.DecodeError as error:
        raise BusinessCentralError(
            400, "BadRequest", "The batch body is not valid JSON."
        ) from error
    requests = payload.get("requests") if isinstance(payload, dict) else None
    if not isinstance(requests, list):
        raise BusinessCentralError(400, "BadRequest", "The batch body must have a 'requests' list.")
    if len(requests) > max_operations:
        raise BusinessCentralError(400, "Unknown", BATCH_TOO_LARGE.format(limit=max_operations))
    operations = [_operation(raw, api_root, outer) for raw in requests]
    atomic = outer.headers.get("isolation", "").lower() == "snapshot"
    keep_going = "odata.continue-on-error" in outer.headers.get("prefer", "").lower()
    counters.count("batches")
    run = _Run(operations, execute, counters, keep_going=keep_going)
    while run.more():
        if atomic:
            _atomic_stretch(store, run)
        else:
            run.until_commit()
    return msgspec.json.encode({"responses": run.entries})


def _atomic_stretch(store: Store, run: _Run) -> None:
    """One transaction of an atomic batch: up to a commit, kept; ended by a failure, reverted."""
    try:
        with transaction(store):
            committed = run.until_commit()
            if run.failed and not committed:
                raise _Rollback  # noqa: TRY301 - unwinds the savepoint, answers are kept
    except _Rollback:
        pass


# Bound actions whose AL code commits: the documents' post actions run SendToPosting, and the
# posting codeunits end with `if not (InvtPickPutaway or SuppressCommit or PreviewMode) then
# Commit()` (BaseApp/Source/Base Application/Sales/Posting/SalesPost.Codeunit.al, and
# Purch.-Post alike); postAndSend also calls Commit() itself (APIV2SalesInvoices.Page.al
# @02a8df41, APIV2SalesCreditMemos.Page.al @406aa00d); Sales-Quote to Invoice ends with
# Commit() (BaseApp/Source/Base Application/Sales/Document/SalesQuotetoInvoice.Codeunit.al);
# purchaseOrders.receiveAndInvoice calls Commit() (APIV2PurchaseOrders.Page.al @02326b00).
# cancel and cancelAndSend post a corrective document through Sales-Post, which commits as above
# (codeunits "Correct Posted Sales Invoice" CancelPostedInvoice -> CreateCreditMemo, and "Cancel
# Posted Sales Cr. Memo"; read for FIDELITY.md section 3).
# purchaseCreditMemos.cancel runs codeunit 1402 "Cancel Posted Purch. Cr. Memo", whose OnRun posts
# the cancelling invoice through Purch.-Post and ends with Commit() (BaseApp/Source/Base
# Application/Purchases/History/CancelPostedPurchCrMemo.Codeunit.al @9d4008cf).
# Journal posting and makeOrder (Sales-Quote to Order has no final Commit) are left out.
_COMMITTING_ACTIONS = frozenset(
    {
        *(
            (name, action)
            for name in ("salesInvoices", "salesCreditMemos")
            for action in ("post", "postAndSend")
        ),
        ("purchaseInvoices", "post"),
        ("salesQuotes", "makeInvoice"),
        ("salesOrders", "shipAndInvoice"),  # SendToPosting -> Sales-Post, as post
        ("purchaseOrders", "receiveAndInvoice"),  # explicit Commit() (APIV2PurchaseOrders)
        *(
            (name, action)
            for name in ("salesInvoices", "salesCreditMemos")
            for action in ("cancel", "cancelAndSend")
        ),
        ("purchaseCreditMemos", "cancel"),
    }
)


def _commits(op: Operation, entry: dict[str, Any]) -> bool:
    """Whether an operation committed BC's transaction (see _COMMITTING_ACTIONS).

    A successful committing action did; so did a PostAndSend / CancelAndSend refused only by
    its send, after its post or cancel committed (rules/sending.py SENDS_AFTER_COMMIT).
    """
    segments = op.path.rstrip("/").split("/")
    if op.method != "POST" or len(segments) < 2:  # noqa: PLR2004
        return False
    key = (segments[-2].split("(", 1)[0], segments[-1].removeprefix("Microsoft.NAV."))
    if entry["status"] < 300:  # noqa: PLR2004
        return key in _COMMITTING_ACTIONS
    return key in sending.SENDS_AFTER_COMMIT and _refused_by_send(entry)


def _refused_by_send(entry: dict[str, Any]) -> bool:
    body = entry.get("body")
    if body is None:
        return False
    error = msgspec.json.decode(bytes(body)).get("error") or {}
    return str(error.get("message", "")).startswith(sending.MAIL_NOT_CONFIGURED)


class _Run:
    """The operations of one batch, run and answered in order.

    In an atomic batch each stretch up to a committing operation is one transaction: "If the AL
    code doesn't invoke COMMIT, then the entire batch runs in the same transaction. Otherwise,
    for each commit, the transaction is committed, and a new one is started." (use-odata-batch.md
    @136c4ff1). A failure reverts what ran since the last commit.
    """

    def __init__(
        self,
        operations: list[tuple[Any, Operation]],
        execute: Callable[[Operation], Response],
        counters: Counters,
        *,
        keep_going: bool,
    ) -> None:
        self.operations = operations
        self.execute = execute
        self.counters = counters
        self.keep_going = keep_going
        self.entries: list[dict[str, Any]] = []
        self.failed = False
        self._next = 0

    def more(self) -> bool:
        """Whether operations remain to run (none after a failure, unless told to go on)."""
        return self._next < len(self.operations) and (self.keep_going or not self.failed)

    def until_commit(self) -> bool:
        """Run operations until one commits (True), or until the end or a failure stops them."""
        while self.more():
            op_id, op = self.operations[self._next]
            self._next += 1
            self.counters.count("batch_operations")
            entry = _entry(op_id, self.execute(op))
            self.entries.append(entry)
            if entry["status"] >= 400:  # noqa: PLR2004
                self.failed = True
            if _commits(op, entry):
                return True
        return False


def with_company(op: Operation, store: Store, api: ApiModel) -> Operation:
    """The operation with `companies(<id>)/` put before its path when a `Company` header names it.

    BC lets an inner batch request name its company by name in a `Company` header and address a
    company's entity set without `companies(...)` (use-odata-batch.md @136c4ff1). A company of
    that name that does not exist is answered as an unknown company id is (wording unconfirmed).
    """
    name = op.headers.get("company")
    first = op.path.split("/", 1)[0].split("(", 1)[0]
    entity_set = api.entity_sets.get(first)
    if not name or entity_set is None or not entity_set.company_scoped:
        return op
    if "companies" not in api.entity_sets:  # pragma: no cover - every API has companies
        return op
    row = store.fetch_one(
        f"SELECT id FROM {table_name(api.route, 'companies')} WHERE name = ? LIMIT 1", (name,)
    )
    if row is None:
        raise BusinessCentralError(
            404,
            "Internal_CompanyNotFound",
            f"The company '{name}' does not exist or you do not have access to it.",
        )
    return replace(op, path=f"companies({row[0]})/{op.path}")
