"""The pages' field validations and derivations, run in one order for a POST and for a PATCH.

A BC API page validates the fields a body sends in the page's layout order, and each field's
OnValidate derives what depends on it (a line's item fills its price, a customer fills the
document's addresses, a currency code its id). POST and PATCH run the same triggers; only what
they start from differs, so both writes call `validate_and_derive` instead of keeping two copies
of the chain.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from businesscentral_emulator.rules import documents as docs
from businesscentral_emulator.rules import due_dates, line_pricing, master_data, payments
from businesscentral_emulator.rules.currency import take_currency
from businesscentral_emulator.rules.references import resolve_references

if TYPE_CHECKING:
    from businesscentral_emulator.odata.edmx import ApiModel
    from businesscentral_emulator.store.sqlite import Store


def validate_and_derive(  # noqa: PLR0913, PLR0917 - the write's context travels together
    store: Store,
    api: ApiModel,
    set_name: str,
    company: str | None,
    row: dict[str, Any],
    changed: set[str],
    old: dict[str, Any] | None,
) -> None:
    """Check the fields in `changed` and fill what BC derives from them into `row`.

    `row` is the whole record after the write, `old` the stored record on PATCH (None on POST).

    Raises:
        BusinessCentralError: A field's validation refuses its value, in the page's words.
    """
    inserting = old is None
    resolve_references(store, api, set_name, company, row, changed)
    take_currency(store, api, set_name, company, row, changed)
    master_data.apply(store, api, set_name, company, row, changed, old=old)
    due_dates.derive(store, api, set_name, row, changed, inserting=inserting)
    docs.derive_line(store, api, set_name, company, row, changed)
    line_pricing.apply(store, api, set_name, row, changed, old)
    payments.derive_payment(store, api, set_name, company, row, changed, insert=inserting)
