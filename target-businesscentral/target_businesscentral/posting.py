"""Posting drafts through the bound ``post`` action, after their headers and lines are written.

Posting is not repeatable (a posted document cannot be posted again) and not reversible, so it
runs last, only for documents BC still shows as drafts, and a lost answer is settled by reading
the document's status rather than by posting again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from businesscentral_api.batch import BatchOperation, BatchResult

from target_businesscentral.ledger import Rejection

if TYPE_CHECKING:
    from target_businesscentral.plan import Item
    from target_businesscentral.writer import WriteEngine

__all__ = ["post_documents"]

DRAFT = "Draft"


def post_documents(engine: WriteEngine, items: list[Item]) -> None:
    """Post each distinct draft among ``items``; count posted, or reject with BC's reason."""
    drafts: dict[tuple[str, str, str], Item] = {}
    for item in items:
        if item.found is None:
            continue
        row_id = str(item.found.get(item.model.key_field, "")).lower()
        drafts[(item.model.name, item.company_id.lower(), row_id)] = item
    ledger = engine.ledger
    to_post = [
        (item, str(item.found[item.model.key_field]))
        for item in drafts.values()
        if item.found and item.found.get("status") == DRAFT
    ]
    if engine.dry_run:
        for item, _ in to_post:
            ledger.count(item.stream, "posted")
        return
    operations = [
        BatchOperation("POST", item.entity_path(row_id) + "/Microsoft.NAV.post")
        for item, row_id in to_post
    ]
    unknown: list[Item] = []
    apis = [item.api for item, _ in to_post]
    stream = to_post[0][0].stream if to_post else ""
    for index, outcome in engine.in_batches(operations, apis, stream):
        item = to_post[index][0]
        if isinstance(outcome, BatchResult) and outcome.ok:
            ledger.count(item.stream, "posted")
        elif isinstance(outcome, BatchResult) and outcome.answered and outcome.status < 500:  # noqa: PLR2004
            ledger.reject(
                item.stream,
                item.record,
                Rejection.from_error("post", outcome.error(operations[index])),
            )
        else:
            unknown.append(item)
    if unknown:
        _settle_unknown(engine, unknown)


def _settle_unknown(engine: WriteEngine, items: list[Item]) -> None:
    """A post with no answer: the document's status says whether it happened."""
    for item in items:
        item.record_id = str(item.found[item.model.key_field]) if item.found else None
        item.natural_key = None
    for item in engine.look_up(items):
        if item.found is not None and item.found.get("status") not in (None, DRAFT):
            engine.ledger.count(item.stream, "posted")
        else:
            message = "the post action got no answer and the document is still a draft"
            engine.ledger.reject(item.stream, item.record, Rejection("post", message))
