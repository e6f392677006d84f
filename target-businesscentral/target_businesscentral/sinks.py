"""One sink per stream: a drain's records prepared, written through the engine, accounted for."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from businesscentral_api.errors import BusinessCentralError, ConfigurationError
from singer_sdk.sinks import BatchSink

from target_businesscentral.bad_input import json_safe
from target_businesscentral.ledger import Rejection

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if TYPE_CHECKING:
    from singer_sdk.sinks.core import BaseJSONSchemaValidator

    from target_businesscentral.plan import Item
    from target_businesscentral.prepare import RecordPreparer
    from target_businesscentral.target import TargetBusinessCentral

__all__ = ["BusinessCentralSink"]

_SDC_KEPT = "_sdc_deleted_at"


class BusinessCentralSink(BatchSink):
    """Writes a stream's records to its entity set in batches; every record is accounted for."""

    bc_target: TargetBusinessCentral

    # -- what the SDK would do per record that we do better or not at all --------------------
    @override
    def get_validator(self) -> BaseJSONSchemaValidator | None:
        """No jsonschema pass: records are checked against BC's ``$metadata`` (faster, stricter)."""
        return None

    @override
    def _validate_and_parse(self, record: dict[str, Any]) -> dict[str, Any]:
        """Keep values as they came: BC takes ISO strings; parsed datetimes would not compare."""
        return record

    @override
    def _singer_validate_message(self, record: dict[str, Any]) -> None:
        """A record without its key properties is looked up by natural key instead."""

    @override
    def _remove_sdc_metadata_from_record(self, record: dict[str, Any]) -> None:
        """Drop the SDK's metadata columns but keep ``_sdc_deleted_at`` for ``hard_delete``."""
        deleted_at = record.get(_SDC_KEPT)
        super()._remove_sdc_metadata_from_record(record)
        if deleted_at is not None:
            record[_SDC_KEPT] = deleted_at

    # -- writing -----------------------------------------------------------------------------
    @property
    def preparer(self) -> RecordPreparer | Rejection:
        """How this stream's records are prepared, or why none of them can be written."""
        return self.bc_target.preparer(self.stream_name)

    @override
    def process_batch(self, context: dict[str, Any]) -> None:
        """Prepare, look up, plan and write the drain's records; reject what cannot be written."""
        records: list[dict[str, Any]] = context.get("records") or []
        context["records"] = []
        if not records:
            return
        target = self.bc_target
        target.drain_headers_of(self.stream_name)
        preparer = self.preparer
        ledger = target.ledger
        if isinstance(preparer, Rejection):
            for record in records:
                ledger.reject(self.stream_name, json_safe(record), preparer)
            return
        items: list[Item] = []
        for record in records:
            prepared = _prepare(preparer, record)
            if isinstance(prepared, Rejection):
                ledger.reject(self.stream_name, json_safe(record), prepared)
            else:
                items.append(prepared)
        items = target.documents.find_headers(items, preparer)
        settled = target.engine.run(items)
        target.documents.after_write(settled, preparer)
        self.tally_record_written(len(settled))


def _prepare(preparer: RecordPreparer, record: dict[str, Any]) -> Item | Rejection:
    """The record's item; a record the checks did not foresee is rejected, not fatal to the run.

    Every known problem has its own check and message in ``prepare``; this is the guard for the
    unforeseen, so that one odd record can never cost the records buffered with it.
    """
    try:
        return preparer.prepare(record)
    except (ConfigurationError, BusinessCentralError):
        raise  # a setting or BC itself is wrong: every record would fail, so the run stops
    except Exception as exc:  # noqa: BLE001 - one record's surprise must not end the run
        return Rejection(
            "validate", f"the record could not be checked: {type(exc).__name__}: {exc}"
        )
