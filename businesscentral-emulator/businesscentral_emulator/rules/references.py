"""References from a written row to other rows (a customer number on an invoice), as BC checks them.

A reference names its target by number or by id; BC looks the target up, refuses a value that
matches nothing, and fills in the other fields it copies from the target (name, id, price).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from businesscentral_emulator.odata.errors import BusinessCentralError
from businesscentral_emulator.store.sqlite import quote, table_name

if TYPE_CHECKING:
    from businesscentral_emulator.odata.edmx import ApiModel
    from businesscentral_emulator.store.sqlite import Store

EMPTY_GUID = "00000000-0000-0000-0000-000000000000"


@dataclass(frozen=True)
class Reference:
    """`number_field`/`id_field` of a row point at `target` (by `number` and `id`)."""

    number_field: str
    id_field: str
    target: str
    caption: str
    copies: tuple[tuple[str, str], ...] = ()  # (target property, own property), filled if empty


_CUSTOMER = Reference(
    "customerNumber",
    "customerId",
    "customers",
    "Customer",
    (
        ("displayName", "customerName"),
        ("number", "billToCustomerNumber"),
        ("id", "billToCustomerId"),
        ("displayName", "billToName"),
    ),
)
_ITEM = Reference(
    "lineObjectNumber",
    "itemId",
    "items",
    "Item",
    (("displayName", "description"), ("unitPrice", "unitPrice")),
)
REFERENCES: dict[str, tuple[Reference, ...]] = {
    "salesInvoices": (_CUSTOMER,),
    "salesOrders": (_CUSTOMER,),
    "salesCreditMemos": (_CUSTOMER,),
    "purchaseInvoices": (
        Reference(
            "vendorNumber",
            "vendorId",
            "vendors",
            "Vendor",
            (
                ("displayName", "vendorName"),
                ("number", "payToVendorNumber"),
                ("id", "payToVendorId"),
                ("displayName", "payToName"),
            ),
        ),
    ),
    "salesInvoiceLines": (_ITEM,),
    "salesOrderLines": (_ITEM,),
    "salesCreditMemoLines": (_ITEM,),
    "purchaseInvoiceLines": (
        Reference(
            "lineObjectNumber",
            "itemId",
            "items",
            "Item",
            (("displayName", "description"), ("unitCost", "unitCost")),
        ),
    ),
    "journalLines": (Reference("accountNumber", "accountId", "accounts", "G/L Account"),),
}


def not_found(caption: str, field: str, value: str) -> BusinessCentralError:
    """BC's record-not-found wording (`The Customer does not exist. Identification ...`)."""
    label = "No." if field != "id" else "Id"
    return BusinessCentralError(
        404,
        "Internal_RecordNotFound",
        f"The {caption} does not exist. Identification fields and values: {label}='{value}'",
    )


def _applies(set_name: str, ref: Reference, row: dict[str, Any]) -> bool:
    # Document lines reference an item only when their type says so (or is not given).
    if ref.target == "items":
        return row.get("lineType") in (None, "Item")
    if set_name == "journalLines":
        return row.get("accountType") in (None, "G_x002F_L_x0020_Account")
    return True


def resolve_references(  # noqa: PLR0913, PLR0917
    store: Store,
    api: ApiModel,
    set_name: str,
    company: str | None,
    row: dict[str, Any],
    changed: set[str],
) -> None:
    """Check the references `changed` touches and fill the copied fields into `row`."""
    for ref in REFERENCES.get(set_name, ()):
        if not ({ref.number_field, ref.id_field} & changed) or not _applies(set_name, ref, row):
            continue
        target_set = api.entity_sets[ref.target]
        props = target_set.entity_type.properties
        if ref.id_field in changed and row.get(ref.id_field) not in (None, EMPTY_GUID):
            field, value = "id", str(row[ref.id_field])
        elif row.get(ref.number_field):
            field, value = "number", str(row[ref.number_field])
        else:
            continue
        wanted = ["id", "number", *(t for t, _ in ref.copies if t in props)]
        names = ", ".join(quote(n) for n in dict.fromkeys(wanted))
        found = store.fetch_one(
            f"SELECT {names} FROM {table_name(api.route, ref.target)}"
            f" WHERE _company IS ? AND {quote(field)} = ?",
            (company, value),
        )
        if found is None:
            raise not_found(ref.caption, field, value)
        target = dict(zip(dict.fromkeys(wanted), found, strict=True))
        row[ref.id_field] = target["id"]
        row[ref.number_field] = target["number"]
        if ref.target == "items":
            row.setdefault("lineType", "Item")
        own_props = api.entity_sets[set_name].entity_type.properties
        for source, own in ref.copies:
            if (
                own in own_props
                and source in target
                and (own not in changed or row.get(own) in (None, "", "0"))
            ):
                row[own] = target[source]
