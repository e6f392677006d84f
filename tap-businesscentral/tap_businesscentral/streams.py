"""The streams: every entity set is one of three kinds, all built from ``$metadata``."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from tap_businesscentral.client import BusinessCentralStream

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["CompaniesStream", "EntitySetStream", "LinesStream"]


class EntitySetStream(BusinessCentralStream):
    """A company-scoped entity set: incremental on its change date, else full table."""


class LinesStream(BusinessCentralStream):
    """Document lines: no change date; they arrive expanded inside their header's pages.

    When the header stream is not selected, the lines are still read through the header
    collection (``<header>?$select=id&$expand=<lines>``, BC refuses most lines sets at company
    level), full table.
    """

    @property
    @override
    def emit_activate_version_messages(self) -> bool:
        """Only a full read of the set may retire old rows; lines of an incremental header don't."""
        return self.header_stream() is None and super().emit_activate_version_messages

    @property
    @override
    def replication_method(self) -> str:
        """INCREMENTAL while the header is selected: lines come with each changed header.

        (Lines have no change date of their own.)
        """
        # Not the catalog's word: a discovered catalog says INCREMENTAL, the header's selection
        # decides. Read alone (through the header collection), the lines are a full table.
        return "INCREMENTAL" if self.header_stream() is not None else "FULL_TABLE"


class CompaniesStream(BusinessCentralStream):
    """The companies of the environment, limited to those ``company_ids`` chose."""

    @override
    def rows(self, page: list[dict[str, Any]], company_id: str | None) -> Iterator[dict[str, Any]]:
        chosen = {company.id for company in self.bc_tap.companies}
        for row in super().rows(page, company_id):
            if row.get("id") in chosen:
                yield row
