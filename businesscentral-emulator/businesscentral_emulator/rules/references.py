"""References from a written row to other rows (a customer on an invoice), as BC's pages check them.

A reference names its target by number or by id. BC looks the target up, refuses a value that
matches nothing with the page's own label (400 `Application_DialogException`), and fills in what
the standard table validation copies from the target: a document's names, addresses, currency and
terms from its customer or vendor. Values the client sent in the same body win, because the API
pages validate the customer before the address fields (page layout order).

Sources (Microsoft's APIV2 AL source, StefanMaron/MSDyn365BC.Code.History,
APIV2/Source/_Exclude_APIV2_/src/pages/): APIV2SalesInvoices.Page.al
@02a8df419400b10bfc9cc4bc714de5cd2ddb9fad, APIV2SalesOrders.Page.al
@03c38418d322f60516c21dc3df9389ad3ada806f, APIV2PurchaseInvoices.Page.al
@114421e2d2490b5b431c9953b44d09e64c47ed21, APIV2PurchaseOrders.Page.al
@02326b0079a61c1a35de8912007230f4f11e4f64, APIV2PurchaseCreditMemos.Page.al
@3da3569a38ba567695e1b497643c910f65616830, APIV2JournalLines.Page.al
@10383a2a4754c10fba7f2bb9222d4c203ca769e4. What is copied from the customer or vendor is
BaseApp's Sales/Purchase Header validation of the sell-to (buy-from) and bill-to (pay-to) party,
run by the aggregators' PropagateOnInsert (SalesInvoiceAggregator.Codeunit.al
@c845a0c4974a573382204b27b5af2dd4397a6db6), reduced to the fields the v2.0 entities show.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from businesscentral_emulator.rules.validation import EMPTY_GUID, STANDARD_ROUTE, dialog
from businesscentral_emulator.store.sqlite import quote, table_name

if TYPE_CHECKING:
    from businesscentral_emulator.odata.edmx import ApiModel
    from businesscentral_emulator.store.sqlite import Store

_ADDRESS = ("addressLine1", "addressLine2", "city", "country", "state", "postalCode")
_ADDRESS_SUFFIXES = ("AddressLine1", "AddressLine2", "City", "Country", "State", "PostCode")


def _address(prefix: str) -> tuple[tuple[str, str], ...]:
    """Copies of a party's address into `<prefix>AddressLine1` ... `<prefix>PostCode`."""
    return tuple(
        (source, prefix + suffix)
        for source, suffix in zip(_ADDRESS, _ADDRESS_SUFFIXES, strict=True)
    )


@dataclass(frozen=True)
class Reference:
    """`number_field`/`id_field` of a row point at a row of `target` (by `number` and `id`).

    Attributes:
        number_field: The row's field naming the target by number (None: by id only).
        id_field: The row's field naming the target by id.
        target: The entity set referenced.
        not_found: BC's label when the id or number matches nothing.
        not_found_number: The label for an unknown number, when it differs from `not_found`.
        mismatch: The label when both are sent and name different rows; None: the number is then
            ignored (purchaseInvoices' vendorNumber after vendorId).
        copies: (target field, own field) copied when the reference is set; a field sent in the
            same body is kept.
        defaults_from: A reference that, when not sent, takes its id from this id field (the
            bill-to customer from the sell-to customer).
    """

    number_field: str | None
    id_field: str
    target: str
    not_found: str
    not_found_number: str | None = None
    mismatch: str | None = None
    copies: tuple[tuple[str, str], ...] = ()
    defaults_from: str | None = None


def _sales(sell_to_mismatch: str, bill_to_mismatch: str) -> tuple[Reference, ...]:
    sell_to = Reference(
        "customerNumber",
        "customerId",
        "customers",
        "The sell-to customer cannot be found.",
        mismatch=sell_to_mismatch,
        copies=(
            ("displayName", "customerName"),
            *_address("sellTo"),
            ("displayName", "shipToName"),
            *_address("shipTo"),
            ("phoneNumber", "phoneNumber"),
            ("email", "email"),
            ("salespersonCode", "salesperson"),
            ("shipmentMethodId", "shipmentMethodId"),
        ),
    )
    bill_to = Reference(
        "billToCustomerNumber",
        "billToCustomerId",
        "customers",
        "The bill-to customer cannot be found.",
        mismatch=bill_to_mismatch,
        copies=(
            ("displayName", "billToName"),
            *_address("billTo"),
            ("currencyId", "currencyId"),
            ("currencyCode", "currencyCode"),
            ("paymentTermsId", "paymentTermsId"),
        ),
        defaults_from="customerId",
    )
    return (sell_to, bill_to)


def _purchase(
    not_found: str, pay_to_not_found: str, mismatch: str | None, pay_to_mismatch: str | None
) -> tuple[Reference, ...]:
    buy_from = Reference(
        "vendorNumber",
        "vendorId",
        "vendors",
        not_found,
        mismatch=mismatch,
        copies=(("displayName", "vendorName"), *_address("buyFrom")),
    )
    pay_to = Reference(
        "payToVendorNumber",
        "payToVendorId",
        "vendors",
        pay_to_not_found,
        mismatch=pay_to_mismatch,
        copies=(
            ("displayName", "payToName"),
            *_address("payTo"),
            ("currencyId", "currencyId"),
            ("currencyCode", "currencyCode"),
            ("paymentTermsId", "paymentTermsId"),
        ),
        defaults_from="vendorId",
    )
    return (buy_from, pay_to)


# Id-only references the pages check with their own labels (APIV2SalesInvoices.Page.al,
# APIV2Customers.Page.al @069a685cfdaa720c6f0665d3da7f1e30253b8938, APIV2Vendors.Page.al).
_PAYMENT_TERMS = Reference(
    None,
    "paymentTermsId",
    "paymentTerms",
    'The "paymentTermsId" does not match to a Payment Terms.',
)
_SHIPMENT_METHOD = Reference(
    None,
    "shipmentMethodId",
    "shipmentMethods",
    'The "shipmentMethodId" does not match to a Shipment Method.',
)
_SALES = (
    *_sales(
        "The sell-to customer values do not match to a specific Customer.",
        "The bill-to customer values do not match to a specific Customer.",
    ),
    _PAYMENT_TERMS,
    _SHIPMENT_METHOD,
)
# customers and vendors: their Id fields carry a TableRelation, whose platform check answers
# before the page's label (rules/master_data.py RELATIONS).
HEADER_REFERENCES: dict[str, tuple[Reference, ...]] = {
    "salesInvoices": _SALES,
    "salesOrders": _SALES,
    "salesCreditMemos": _SALES,
    "salesQuotes": _SALES,
    # purchaseInvoices: a vendorNumber after a vendorId is ignored (the page exits), no mismatch.
    "purchaseInvoices": _purchase(
        "The vendor cannot be found.", "The pay-to vendor cannot be found.", None, None
    ),
    "purchaseOrders": _purchase(
        "The buy-from vendor cannot be found.",
        "The pay-to vendor cannot be found.",
        "The buy-from vendor values do not match to a specific Vendor.",
        "The pay-to vendor values do not match to a specific Vendor.",
    ),
    "purchaseCreditMemos": _purchase(
        "The buy-from vendor cannot be found.",
        "The pay-to vendor cannot be found.",
        "The buy-from vendor values do not match to a Vendor.",
        "The pay-to vendor values do not match to a Vendor.",
    ),
    "journalLines": (
        Reference(
            "accountNumber",
            "accountId",
            "accounts",
            'The "accountId" does not match to an Account.',
            not_found_number='The "accountNumber" does not match to an Account.',
            mismatch="The account values do not match to a specific Account.",
        ),
    ),
}


def find_row(
    store: Store,
    api: ApiModel,
    target: str,
    company: str | None,
    by: tuple[str, Any],
) -> dict[str, Any] | None:
    """The target row with `by` = (field, value), all its properties; None if none matches.

    An `id` is compared in lower case, as the store keeps GUIDs.
    """
    names = list(api.entity_sets[target].entity_type.properties)
    field, value = by
    found = store.fetch_one(
        f"SELECT {', '.join(quote(n) for n in names)} FROM {table_name(api.route, target)}"
        f" WHERE _company IS ? AND {quote(field)} = ?",
        (company, str(value).lower() if field == "id" else str(value)),
    )
    return None if found is None else dict(zip(names, found, strict=True))


def _given(row: dict[str, Any], name: str) -> bool:
    return row.get(name) not in (None, "", EMPTY_GUID)


def _applies(set_name: str, row: dict[str, Any]) -> bool:
    # Journal lines reference a G/L account only when their account type says so.
    if set_name == "journalLines":
        return row.get("accountType") in (None, "", "G_x002F_L_x0020_Account")
    return True


def resolve_references(  # noqa: PLR0913, PLR0917
    store: Store,
    api: ApiModel,
    set_name: str,
    company: str | None,
    row: dict[str, Any],
    changed: set[str],
) -> None:
    """Check the references `changed` touches and fill the fields BC copies into `row`.

    Raises:
        BusinessCentralError: A reference matches nothing, or its id and number disagree.
    """
    if api.route != STANDARD_ROUTE or not _applies(set_name, row):
        return
    own_props = api.entity_sets[set_name].entity_type.properties
    resolved: dict[str, dict[str, Any]] = {}
    for ref in HEADER_REFERENCES.get(set_name, ()):
        target = _resolve_one(store, api, company, ref, row, changed, resolved)
        if target is None:
            continue
        resolved[ref.id_field] = target
        row[ref.id_field] = target["id"]
        if ref.number_field is not None:
            row[ref.number_field] = target["number"]
        for source, own in ref.copies:
            if own in own_props and source in target and own not in changed:
                row[own] = target[source]


def _resolve_one(  # noqa: PLR0913, PLR0917
    store: Store,
    api: ApiModel,
    company: str | None,
    ref: Reference,
    row: dict[str, Any],
    changed: set[str],
    resolved: dict[str, dict[str, Any]],
) -> dict[str, Any] | None:
    """The target row `ref` now points at, if the write set it (else None)."""
    if ref.id_field in changed and _given(row, ref.id_field):
        target = find_row(store, api, ref.target, company, ("id", row[ref.id_field]))
        if target is None:
            raise dialog(ref.not_found)
        number = ref.number_field
        if (
            number is not None
            and number in changed
            and _given(row, number)
            and ref.mismatch
            and str(row[number]) != target["number"]
        ):
            raise dialog(ref.mismatch)
        return target
    if (
        ref.number_field is not None
        and ref.number_field in changed
        and _given(row, ref.number_field)
    ):
        target = find_row(store, api, ref.target, company, ("number", row[ref.number_field]))
        if target is None:
            raise dialog(ref.not_found_number or ref.not_found)
        return target
    if ref.defaults_from is not None and ref.defaults_from in resolved:
        return resolved[ref.defaults_from]  # the sell-to party is also the bill-to party
    return None
