"""Documents across a run: headers and their lines, wherever each of them arrives from.

Lines find their header; copied headers keep their new ids for their lines; drafts wait to be
posted; the nested lines of a header that already existed are written one by one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from target_businesscentral.entities import write_model
from target_businesscentral.ledger import Rejection
from target_businesscentral.plan import Item, complete_key

if TYPE_CHECKING:
    from collections.abc import Callable

    from businesscentral_api.metadata import ServiceModel
    from businesscentral_api.odata import ApiRoute

    from target_businesscentral.ledger import Ledger
    from target_businesscentral.prepare import IdMap, RecordPreparer
    from target_businesscentral.writer import WriteEngine

__all__ = ["Documents"]


class Documents:
    """What the run remembers about documents."""

    def __init__(
        self, engine: WriteEngine, ledger: Ledger, model: Callable[[ApiRoute], ServiceModel]
    ) -> None:
        """Share the run's engine and ledger; ``model`` gives an API's ``$metadata``."""
        self.engine = engine
        self.ledger = ledger
        self.model = model
        self.id_map: IdMap = {}
        self.to_post: list[Item] = []

    def find_headers(self, items: list[Item], preparer: RecordPreparer) -> list[Item]:
        """Lines that name their document by its natural key get its id (or are rejected)."""
        lines_of = preparer.target.model.lines_of
        if lines_of is None:
            return items
        field = preparer.settings.document_key_field
        waiting = [i for i in items if lines_of.parent_field not in i.values]
        if not waiting:
            return items
        # A line names its document by BC's document number (BC's own "Document No." of a line),
        # whatever natural key finds headers to write.
        model = self.model(preparer.target.api)
        header_key = (
            ("number",) if "number" in model.entity_set(lines_of.header_set).properties else None
        )
        header_model = write_model(model, lines_of.header_set, header_key)
        if len(header_model.natural_key) != 1:
            for item in waiting:
                self.ledger.reject(
                    item.stream,
                    item.record,
                    Rejection(
                        "validate",
                        f"{lines_of.header_set} has no single-field natural key to find by {field}",
                    ),
                )
            return [i for i in items if lines_of.parent_field in i.values]
        headers = {
            id(item): Item(
                stream=item.stream,
                record=item.record,
                model=header_model,
                api=item.api,
                company_id=item.company_id,
                company_scoped=item.company_scoped,
                action="update",
                values={},
                natural_key=(item.record[field],),
            )
            for item in waiting
        }
        found = {id(h) for h in self.engine.look_up(list(headers.values()))}
        ready = []
        for item in items:
            header = headers.get(id(item))
            if header is None:
                ready.append(item)
                continue
            if id(header) not in found or header.found is None:
                if id(header) in found:
                    message = (
                        f"no {lines_of.header_set} record has"
                        f" {header_model.natural_key[0]} {item.record[field]!r}"
                    )
                    self.ledger.reject(item.stream, item.record, Rejection("validate", message))
                continue
            document_id = str(header.found[header_model.key_field])
            item.values[lines_of.parent_field] = document_id
            key = tuple({**item.record, **item.values}.get(name) for name in item.model.natural_key)
            item.natural_key = key if complete_key(key) else None
            ready.append(item)
        return ready

    def after_write(self, settled: list[Item], preparer: RecordPreparer) -> None:
        """Remember copied headers' new ids, queue drafts to post, write lines of old headers."""
        model = preparer.target.model
        options = preparer.settings
        children: list[Item] = []
        for item in settled:
            if item.found is None:
                continue
            new_id = str(item.found.get(model.key_field, ""))
            source_id = item.record.get(model.key_field)
            if model.lines and source_id and new_id:
                source_company = str(item.record.get("companyId") or "").lower()
                self.id_map[(model.name, source_company, str(source_id).lower())] = new_id
            if options.post:
                self.to_post.append(item)
            if item.nested_lines and item.outcome != "created":
                children.extend(self._line_items(item, new_id, preparer))
        if children:
            self.engine.run(children)

    def _line_items(self, header: Item, header_id: str, preparer: RecordPreparer) -> list[Item]:
        """Nested lines of a header that already existed: upserted one by one (no deep PATCH)."""
        items = []
        for navigation, lines in header.nested_lines.items():
            line_model = preparer.target.lines_models[navigation]
            parent = line_model.lines_of.parent_field if line_model.lines_of else "documentId"
            for line in lines:
                values = {**line, parent: header_id}
                key = tuple(values.get(name) for name in line_model.natural_key)
                items.append(
                    Item(
                        stream=f"{header.stream}.{navigation}",
                        record={**line, parent: header_id},
                        model=line_model,
                        api=header.api,
                        company_id=header.company_id,
                        company_scoped=header.company_scoped,
                        action="upsert",
                        values=values,
                        natural_key=key if complete_key(key) else None,
                        overwrite=header.overwrite,
                    )
                )
        return items
