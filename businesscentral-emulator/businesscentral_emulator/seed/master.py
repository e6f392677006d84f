"""Seed generators for setup tables and master data: codes, customers, vendors, items, people.

Each generator takes the company context, stores its rows and keeps the ones later generators
refer to (`remember=True`). Keys starting with `_` are private helper values: the store only
reads the model's columns, so they never reach the database.
"""

from __future__ import annotations

import unicodedata
from typing import TYPE_CHECKING

from businesscentral_emulator.odata.values import EMPTY_DATE, EMPTY_GUID
from businesscentral_emulator.seed import data
from businesscentral_emulator.seed.common import (
    DAY_MS,
    SPAN_MS,
    CompanyContext,
    Row,
    cents_text,
    chance,
    date_of_ms,
    fit,
    new_guid,
)

if TYPE_CHECKING:
    import random
    from collections.abc import Iterator, Sequence


def by_code(rows: Sequence[Row], prop: str = "code") -> dict[str, Row]:
    """Index kept rows by their code (or number)."""
    return {str(row[prop]): row for row in rows}


def slug(text: str) -> str:
    """Lower-case ASCII letters and digits of a name, for e-mail addresses and web sites."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in plain.lower() if ch.isalnum())


def party_name(index: int, names: Sequence[str]) -> str:
    """A distinct business name per index: the base list first, then suffixed variants."""
    base = names[index % len(names)]
    round_ = index // len(names)
    if round_ == 0:
        return base
    suffix = data.NAME_SUFFIXES[(round_ - 1) % len(data.NAME_SUFFIXES)]
    extra = (round_ - 1) // len(data.NAME_SUFFIXES)
    return f"{base} {suffix}" + (f" {extra + 1}" if extra else "")


def person_name(rng: random.Random) -> tuple[str, str]:
    """A given name and surname."""
    return rng.choice(data.FIRST_NAMES), rng.choice(data.LAST_NAMES)


def phone(rng: random.Random, ctx: CompanyContext) -> str:
    """A phone number in the company's national style."""
    return f"{ctx.locale.phone_prefix}{rng.randrange(100, 999)} {rng.randrange(1000, 9999)}"


def address(rng: random.Random, ctx: CompanyContext, *, foreign_rate: float = 0.0) -> Row:
    """An address in BC's customer field names; sometimes abroad (then with its currency)."""
    if chance(rng, foreign_rate):
        country, city, state, postal = rng.choice(data.FOREIGN_CITIES)
        currency = data.FOREIGN_CURRENCY.get(country, "EUR")
    else:
        city, state, postal = rng.choice(ctx.locale.cities)
        country, currency = ctx.locale.country, ctx.locale.currency
    return {
        "addressLine1": f"{rng.randrange(1, 999)} {rng.choice(data.STREETS)}",
        "addressLine2": rng.choice(data.ADDRESS_LINE2),
        "city": city,
        "state": state,
        "country": country,
        "postalCode": postal,
        "_currency": currency,
    }


def code_table(
    ctx: CompanyContext,
    set_name: str,
    entries: Sequence[tuple[str, str]],
    *,
    name_prop: str = "displayName",
    extra: Sequence[Row] | None = None,
) -> None:
    """A setup table of codes and names (units, methods, categories...): fixed size, any scale."""
    rng = ctx.rng(set_name)
    clock = ctx.clock(set_name)
    props = ctx.props(set_name)
    code_len = props["code"].max_length if "code" in props else None
    name_len = props[name_prop].max_length if name_prop in props else None

    def rows() -> Iterator[Row]:
        for index, (code, name) in enumerate(entries):
            row: Row = {
                "id": new_guid(rng),
                "code": fit(code, code_len),
                name_prop: fit(name, name_len),
                "lastModifiedDateTime": clock.next(),
            }
            if extra is not None:
                row.update(extra[index])
            yield row

    ctx.insert(set_name, rows(), remember=True)


def setup_tables(ctx: CompanyContext) -> None:
    """Units, categories, methods, terms, currencies, countries, tax, dimensions, locations."""
    code_table(ctx, "unitsOfMeasure", [(c, n) for c, n, _ in data.UNITS_OF_MEASURE],
               extra=[{"internationalStandardCode": iso, "symbol": c.lower()}
                      for c, _, iso in data.UNITS_OF_MEASURE])  # fmt: skip
    code_table(ctx, "itemCategories", data.ITEM_CATEGORIES)
    code_table(ctx, "paymentMethods", data.PAYMENT_METHODS)
    code_table(ctx, "shipmentMethods", data.SHIPMENT_METHODS)
    code_table(
        ctx,
        "paymentTerms",
        [(c, n) for c, n, *_ in data.PAYMENT_TERMS],
        extra=[
            {
                "dueDateCalculation": f"{days}D" if code != "CM" else "CM",
                "discountDateCalculation": disc_date,
                "discountPercent": pct,
                "calculateDiscountOnCreditMemos": 0,
                "_days": days,
            }
            for code, _, days, disc_date, pct in data.PAYMENT_TERMS
        ],
    )
    foreign = [c for c in data.CURRENCIES if c[0] != ctx.locale.currency]
    code_table(
        ctx,
        "currencies",
        [(c[0], c[1]) for c in foreign],
        extra=[
            {"symbol": sym, "amountDecimalPlaces": places, "amountRoundingPrecision": precision,
             "_per_100_usd": rate}
            for _, _, sym, places, precision, rate in foreign
        ],
    )  # fmt: skip
    formats = {"US": "City_x002B_County_x002B_Post_x0020_Code", "GB": "City_x002B_Post_x0020_Code"}
    code_table(
        ctx,
        "countriesRegions",
        data.COUNTRIES,
        extra=[
            {"addressFormat": formats.get(c, "Post_x0020_Code_x002B_City")}
            for c, _ in data.COUNTRIES
        ],
    )
    tax_type = "Sales_x0020_Tax" if ctx.locale.sales_tax else "VAT"
    groups = data.US_TAX_GROUPS if ctx.locale.sales_tax else data.GB_TAX_GROUPS
    code_table(ctx, "taxGroups", groups, extra=[{"taxType": tax_type}] * len(groups))
    areas = data.US_TAX_AREAS if ctx.locale.sales_tax else data.GB_TAX_AREAS
    code_table(
        ctx,
        "taxAreas",
        [(c, n) for c, n, _ in areas],
        extra=[{"taxType": tax_type, "_rate_bp": bp} for _, _, bp in areas],
    )
    code_table(
        ctx, "inventoryPostingGroups", data.INVENTORY_POSTING_GROUPS, name_prop="description"
    )
    code_table(
        ctx,
        "generalProductPostingGroups",
        [(c, n) for c, n, _ in data.GENERAL_PRODUCT_POSTING_GROUPS],
        name_prop="description",
        extra=[{"defaultVATProductPostingGroup": v, "autoInsertDefault": 1}
               for *_, v in data.GENERAL_PRODUCT_POSTING_GROUPS],
    )  # fmt: skip
    code_table(ctx, "customerReturnReasons", data.RETURN_REASONS, name_prop="description")
    code_table(ctx, "fixedAssetLocations", data.FIXED_ASSET_LOCATIONS)
    if ctx.has("disputeStatus"):
        rng = ctx.rng("disputeStatus")
        ctx.insert(
            "disputeStatus",
            ({"id": new_guid(rng), "code": c, "displayName": n} for c, n in data.DISPUTE_STATUSES),
            remember=True,
        )
    dimensions(ctx)
    locations(ctx)
    salespeople(ctx)


def dimensions(ctx: CompanyContext) -> None:
    """Dimensions and their values, each value pointing at its dimension."""
    code_table(ctx, "dimensions", [(code, name) for code, name, _ in data.DIMENSIONS],
               extra=[{"consolidationCode": ""} for _ in data.DIMENSIONS])  # fmt: skip
    dims = by_code(ctx.ref("dimensions"))
    rng = ctx.rng("dimensionValues")
    clock = ctx.clock("dimensionValues")

    def rows() -> Iterator[Row]:
        for code, _, values in data.DIMENSIONS:
            dim = dims.get(code)
            for value_code, value_name in values:
                yield {
                    "id": new_guid(rng),
                    "code": value_code,
                    "dimensionId": dim["id"] if dim else EMPTY_GUID,
                    "displayName": value_name,
                    "consolidationCode": "",
                    "lastModifiedDateTime": clock.next(),
                    "_dimension": code,
                    "_dimension_name": dim["displayName"] if dim else "",
                }

    ctx.insert("dimensionValues", rows(), remember=True)


def locations(ctx: CompanyContext) -> None:
    """Warehouses with addresses in the company's country."""
    rng = ctx.rng("locations")
    clock = ctx.clock("locations")

    def rows() -> Iterator[Row]:
        for code, name in data.LOCATIONS:
            first, last = person_name(rng)
            place = address(rng, ctx)
            yield {
                "id": new_guid(rng),
                "code": code,
                "displayName": name,
                "contact": f"{first} {last}",
                **{k: v for k, v in place.items() if not k.startswith("_")},
                "phoneNumber": phone(rng, ctx),
                "email": f"{slug(code)}@cronus-company.com",
                "website": "",
                "lastModifiedDateTime": clock.next(),
            }

    ctx.insert("locations", rows(), remember=True)


def salespeople(ctx: CompanyContext) -> None:
    """Salespeople and purchasers: the codes customers and documents carry."""
    rng = ctx.rng("salespeoplePurchasers")
    clock = ctx.clock("salespeoplePurchasers")

    def rows() -> Iterator[Row]:
        for code, name, title in data.SALESPEOPLE:
            yield {
                "id": new_guid(rng),
                "code": code,
                "displayName": name,
                "email": f"{slug(name.split()[0])}@cronus-company.com",
                "email2": "",
                "phoneNo": phone(rng, ctx),
                "jobTitle": title,
                "commisionPercent": str(rng.choice((0, 2, 5, 7))),
                "privacyBlocked": 0,
                "blocked": 0,
                "lastModifiedDateTime": clock.next(),
            }

    ctx.insert("salespeoplePurchasers", rows(), remember=True)


def _pick_id(rng: random.Random, rows: Sequence[Row]) -> str:
    return str(rng.choice(rows)["id"]) if rows else EMPTY_GUID


def _party_common(rng: random.Random, ctx: CompanyContext, name: str, foreign_rate: float) -> Row:
    place = address(rng, ctx, foreign_rate=foreign_rate)
    currency = place.pop("_currency")
    currencies = by_code(ctx.ref("currencies"))
    foreign = currencies.get(currency) if currency != ctx.locale.currency else None
    web = slug(name)[:40] or "contoso"
    return {
        **place,
        "displayName": name,
        "phoneNumber": phone(rng, ctx),
        "email": f"info@{web}{ctx.locale.domain}" if chance(rng, 0.9) else "",
        "website": f"www.{web}{ctx.locale.domain}" if chance(rng, 0.6) else "",
        "currencyId": foreign["id"] if foreign else EMPTY_GUID,
        "currencyCode": currency if foreign else "",  # BC stores the LCY as a blank code
        "taxRegistrationNumber": str(rng.randrange(10**8, 10**9)) if chance(rng, 0.7) else "",
        "paymentTermsId": _pick_id(rng, ctx.ref("paymentTerms")),
        "paymentMethodId": _pick_id(rng, ctx.ref("paymentMethods")),
    }


def customers(ctx: CompanyContext) -> None:
    """Customers numbered 10000, 20000, ...; some persons, a few blocked, some abroad."""
    rng = ctx.rng("customers")
    clock = ctx.clock("customers", empty_rate=0.01)
    areas = ctx.ref("taxAreas")
    sales_codes = [str(r["code"]) for r in ctx.ref("salespeoplePurchasers")] or [""]

    def rows() -> Iterator[Row]:
        for index in range(ctx.count(100)):
            person = chance(rng, 0.1)
            if person:
                first, last = person_name(rng)
                name = f"{first} {last}"
            else:
                name = party_name(index, data.COMPANY_NAMES)
            row = _party_common(rng, ctx, name, 0.1)
            area = _tax_area(rng, ctx, areas, str(row["country"]))
            rate = int(area["_rate_bp"]) if area else 0
            yield {
                "id": new_guid(rng),
                "number": str(10000 * (index + 1)),
                "type": "Person" if person else "Company",
                **row,
                "salespersonCode": rng.choice(sales_codes),
                "balanceDue": cents_text(rng.randrange(0, 5_000_000) if chance(rng, 0.6) else 0),
                "creditLimit": cents_text(rng.choice((0, 0, 1_000_000, 2_500_000, 5_000_000))),
                "taxLiable": 1 if rate else 0,
                "taxAreaId": area["id"] if area else EMPTY_GUID,
                "taxAreaDisplayName": area["displayName"] if area else "",
                "shipmentMethodId": _pick_id(rng, ctx.ref("shipmentMethods")),
                "blocked": _weighted(
                    rng, (("_x0020_", 94), ("Ship", 2), ("Invoice", 2), ("All", 2))
                ),
                "lastModifiedDateTime": clock.next(),
                "_rate_bp": rate,
            }

    ctx.insert("customers", rows(), remember=True)


def _tax_area(
    rng: random.Random, ctx: CompanyContext, areas: Sequence[Row], country: str
) -> Row | None:
    if not areas:
        return None
    if ctx.locale.sales_tax:
        return (
            rng.choice(areas) if country == ctx.locale.country else by_code(areas).get("NONTAXABLE")
        )
    if country == ctx.locale.country:
        return by_code(areas).get("DOMESTIC")
    return by_code(areas).get("EU" if country in data.FOREIGN_CURRENCY else "EXPORT")


def _weighted(rng: random.Random, choices: Sequence[tuple[str, int]]) -> str:
    total = sum(w for _, w in choices)
    point = rng.randrange(total)
    for value, weight in choices:
        point -= weight
        if point < 0:
            return value
    return choices[-1][0]


def vendors(ctx: CompanyContext) -> None:
    """Vendors numbered 10000, 20000, ..., a few blocked for payment."""
    rng = ctx.rng("vendors")
    clock = ctx.clock("vendors", empty_rate=0.01)

    def rows() -> Iterator[Row]:
        for index in range(ctx.count(50)):
            row = _party_common(rng, ctx, party_name(index, data.VENDOR_NAMES), 0.15)
            yield {
                "id": new_guid(rng),
                "number": str(10000 * (index + 1)),
                **row,
                "irs1099Code": rng.choice(("", "", "", "MISC-07", "NEC-01"))
                if ctx.locale.sales_tax
                else "",
                "taxLiable": 1 if chance(rng, 0.8) else 0,
                "blocked": _weighted(rng, (("_x0020_", 95), ("Payment", 3), ("All", 2))),
                "balance": cents_text(rng.randrange(0, 3_000_000) if chance(rng, 0.5) else 0),
                "lastModifiedDateTime": clock.next(),
            }

    ctx.insert("vendors", rows(), remember=True)


def items(ctx: CompanyContext) -> None:
    """Items like `1896-S` "ATHENS Desk": prices and costs in cents, categories, units."""
    rng = ctx.rng("items")
    clock = ctx.clock("items", empty_rate=0.01)
    categories = by_code(ctx.ref("itemCategories"))
    units = by_code(ctx.ref("unitsOfMeasure"))
    tax_groups = by_code(ctx.ref("taxGroups"))
    gen_groups = by_code(ctx.ref("generalProductPostingGroups"))
    inv_groups = by_code(ctx.ref("inventoryPostingGroups"))
    combos = len(data.ITEM_CITIES) * len(data.ITEM_PRODUCTS) * len(data.ITEM_COLORS)

    def rows() -> Iterator[Row]:
        for index in range(ctx.count(150)):
            city = data.ITEM_CITIES[index % len(data.ITEM_CITIES)]
            product, category, unit, (low, high) = data.ITEM_PRODUCTS[
                (index // len(data.ITEM_CITIES)) % len(data.ITEM_PRODUCTS)
            ]
            color = data.ITEM_COLORS[
                (index // (len(data.ITEM_CITIES) * len(data.ITEM_PRODUCTS))) % len(data.ITEM_COLORS)
            ]
            name = f"{city} {product}" + (f", {color}" if color else "")
            if index >= combos:
                name += f" {index // combos + 1}"
            kind = _weighted(rng, (("Inventory", 85), ("Service", 8), ("Non_x002D_Inventory", 7)))
            if kind == "Service":
                unit = "HOUR"
            price = rng.randrange(low, high) // 10 * 10
            cost = price * rng.randrange(55, 80) // 100
            tax_code = ("SUPPLIES" if category == "SUPPLIERS" else "FURNITURE") if (
                ctx.locale.sales_tax) else "STANDARD"  # fmt: skip
            yield {
                "id": new_guid(rng),
                "number": f"{1896 + 4 * index}-{'W' if kind == 'Service' else 'S'}",
                "displayName": name,
                "displayName2": "",
                "type": kind,
                "itemCategoryId": categories[category]["id"]
                if category in categories
                else EMPTY_GUID,
                "itemCategoryCode": category,
                "blocked": 1 if chance(rng, 0.02) else 0,
                "gtin": str(rng.randrange(10**12, 10**13)) if chance(rng, 0.5) else "",
                "inventory": str(rng.randrange(0, 500)) if kind == "Inventory" else "0",
                "unitPrice": cents_text(price),
                "priceIncludesTax": 0,
                "unitCost": cents_text(cost),
                "taxGroupId": tax_groups[tax_code]["id"] if tax_code in tax_groups else EMPTY_GUID,
                "taxGroupCode": tax_code,
                "baseUnitOfMeasureId": units[unit]["id"] if unit in units else EMPTY_GUID,
                "baseUnitOfMeasureCode": unit,
                "generalProductPostingGroupId": gen_groups["RETAIL"]["id"]
                if "RETAIL" in gen_groups
                else EMPTY_GUID,
                "generalProductPostingGroupCode": "RETAIL",
                "inventoryPostingGroupId": inv_groups["RESALE"]["id"]
                if "RESALE" in inv_groups
                else EMPTY_GUID,
                "inventoryPostingGroupCode": "RESALE",
                "lastModifiedDateTime": clock.next(),
                "_price": price,
                "_cost": cost,
            }

    ctx.insert("items", rows(), remember=True)


def item_variants(ctx: CompanyContext) -> None:
    """Colour variants of some items."""
    rng = ctx.rng("itemVariants")
    clock = ctx.clock("itemVariants")
    all_items = ctx.ref("items")
    chosen = all_items[:: max(1, len(all_items) // max(1, ctx.count(30)))]

    def rows() -> Iterator[Row]:
        for item in chosen:
            for number, color in enumerate(rng.sample(data.ITEM_COLORS[1:], 2), start=1):
                yield {
                    "id": new_guid(rng),
                    "itemId": item["id"],
                    "itemNumber": item["number"],
                    "code": f"V{number:02d}",
                    "description": f"{item['displayName']}, {color}"[:100],
                    "lastModifiedDateTime": clock.next(),
                }

    ctx.insert("itemVariants", rows(), remember=True)


def contacts(ctx: CompanyContext) -> None:
    """Company contacts for customers and vendors, and persons working there."""
    rng = ctx.rng("contacts")
    clock = ctx.clock("contacts", empty_rate=0.01)
    parties = [("Customer", c) for c in ctx.ref("customers")] + [
        ("Vendor", v) for v in ctx.ref("vendors")
    ]

    def rows() -> Iterator[Row]:
        number = 0
        for relation, party in parties:
            number += 1
            company_number = f"CT{number:06d}"
            common = {
                k: party.get(k, "")
                for k in ("addressLine1", "addressLine2", "city", "state", "country", "postalCode")
            }
            name = str(party["displayName"])
            yield {
                "id": new_guid(rng),
                "number": company_number,
                "type": "Company",
                "displayName": name,
                "jobTitle": "",
                "companyNumber": company_number,
                "companyName": name,
                "contactBusinessRelation": relation,
                **common,
                "phoneNumber": party.get("phoneNumber", ""),
                "mobilePhoneNumber": "",
                "email": party.get("email", ""),
                "website": party.get("website", ""),
                "searchName": name.upper(),
                "privacyBlocked": 0,
                "taxRegistrationNumber": party.get("taxRegistrationNumber", ""),
                "lastInteractionDate": date_of_ms(ctx.now_ms - rng.randrange(SPAN_MS)),
                "lastModifiedDateTime": clock.next(),
                "_related": (relation, party["id"]),
            }
            if chance(rng, 0.4):
                number += 1
                first, last = person_name(rng)
                yield {
                    "id": new_guid(rng),
                    "number": f"CT{number:06d}",
                    "type": "Person",
                    "displayName": f"{first} {last}",
                    "jobTitle": rng.choice(data.JOB_TITLES),
                    "companyNumber": company_number,
                    "companyName": name,
                    "contactBusinessRelation": relation,
                    **common,
                    "phoneNumber": phone(rng, ctx),
                    "mobilePhoneNumber": phone(rng, ctx),
                    "email": f"{slug(first)}.{slug(last)}@{slug(name)[:30]}{ctx.locale.domain}",
                    "searchName": f"{first} {last}".upper(),
                    "privacyBlocked": 1 if chance(rng, 0.02) else 0,
                    "lastInteractionDate": EMPTY_DATE,
                    "lastModifiedDateTime": clock.next(),
                    "_related": (relation, party["id"]),
                }

    ctx.insert("contacts", rows(), remember=True)
    ctx.insert(
        "contactsInformation",
        (
            {
                "contactId": c["id"],
                "contactNumber": c["number"],
                "contactName": c["displayName"],
                "contactType": c["type"],
                "relatedId": c["_related"][1],
                "relatedType": c["_related"][0],
            }
            for c in ctx.ref("contacts")
        ),
    )


def employees(ctx: CompanyContext) -> None:
    """Employees, most active, a few terminated."""
    rng = ctx.rng("employees")
    clock = ctx.clock("employees", empty_rate=0.01)

    def rows() -> Iterator[Row]:
        for index in range(ctx.count(30)):
            first, last = person_name(rng)
            place = address(rng, ctx)
            place.pop("_currency")
            status = _weighted(rng, (("Active", 90), ("Inactive", 4), ("Terminated", 6)))
            hired = ctx.now_ms - rng.randrange(SPAN_MS, 6 * SPAN_MS)
            yield {
                "id": new_guid(rng),
                "number": f"EMP{index + 1:04d}",
                "displayName": f"{first} {last}",
                "givenName": first,
                "middleName": "",
                "surname": last,
                "jobTitle": rng.choice(data.JOB_TITLES),
                **place,
                "phoneNumber": phone(rng, ctx),
                "mobilePhone": phone(rng, ctx),
                "email": f"{slug(first)}.{slug(last)}{index}@cronus-company.com",
                "personalEmail": f"{slug(first)}{rng.randrange(10, 99)}@example.com",
                "employmentDate": date_of_ms(hired),
                "terminationDate": date_of_ms(ctx.now_ms - rng.randrange(DAY_MS, SPAN_MS))
                if status == "Terminated"
                else EMPTY_DATE,
                "status": status,
                "birthDate": date_of_ms(hired - rng.randrange(20, 45) * 365 * DAY_MS),
                "statisticsGroupCode": "",
                "lastModifiedDateTime": clock.next(),
            }

    ctx.insert("employees", rows(), remember=True)


def projects(ctx: CompanyContext) -> None:
    """Projects (jobs) numbered J00010, J00020, ..."""
    rng = ctx.rng("projects")
    clock = ctx.clock("projects")
    count = ctx.count(15)

    def rows() -> Iterator[Row]:
        for index in range(count):
            base = data.PROJECTS[index % len(data.PROJECTS)]
            round_ = index // len(data.PROJECTS)
            yield {
                "id": new_guid(rng),
                "number": f"J{(index + 1) * 10:05d}",
                "displayName": base + (f" (phase {round_ + 1})" if round_ else ""),
                "lastModifiedDateTime": clock.next(),
            }

    ctx.insert("projects", rows(), remember=True)


def fixed_assets(ctx: CompanyContext) -> None:
    """Fixed assets at a location, some held by an employee."""
    rng = ctx.rng("fixedAssets")
    clock = ctx.clock("fixedAssets")
    places = ctx.ref("fixedAssetLocations")
    people = ctx.ref("employees")

    def rows() -> Iterator[Row]:
        for index in range(ctx.count(20)):
            name, klass = data.FIXED_ASSETS[index % len(data.FIXED_ASSETS)]
            place = rng.choice(places) if places else None
            holder = rng.choice(people) if people and chance(rng, 0.5) else None
            yield {
                "id": new_guid(rng),
                "number": f"FA{index + 1:06d}",
                "displayName": name,
                "fixedAssetLocationCode": place["code"] if place else "",
                "fixedAssetLocationId": place["id"] if place else EMPTY_GUID,
                "classCode": "TANGIBLE",
                "subclassCode": klass,
                "blocked": 0,
                "serialNumber": f"SN-{rng.randrange(10**6, 10**7)}",
                "employeeNumber": holder["number"] if holder else "",
                "employeeId": holder["id"] if holder else EMPTY_GUID,
                "underMaintenance": 1 if chance(rng, 0.1) else 0,
                "lastModifiedDateTime": clock.next(),
            }

    ctx.insert("fixedAssets", rows(), remember=True)


def time_registration(ctx: CompanyContext) -> None:
    """Hours employees booked on projects; the change field is BC's `lastModfiedDateTime`."""
    rng = ctx.rng("timeRegistrationEntries")
    clock = ctx.clock("timeRegistrationEntries")
    people = ctx.ref("employees")
    jobs = ctx.ref("projects")
    hour = by_code(ctx.ref("unitsOfMeasure")).get("HOUR")
    if not people:
        return

    def rows() -> Iterator[Row]:
        for index in range(ctx.count(100)):
            person = rng.choice(people)
            job = rng.choice(jobs) if jobs and chance(rng, 0.8) else None
            yield {
                "id": new_guid(rng),
                "employeeId": person["id"],
                "employeeNumber": person["number"],
                "jobId": job["id"] if job else EMPTY_GUID,
                "jobNumber": job["number"] if job else "",
                "jobTaskNumber": "1000" if job else "",
                "absence": "" if job else rng.choice(("", "HOLIDAY", "SICK")),
                "lineNumber": (index + 1) * 10000,
                "date": date_of_ms(ctx.now_ms - rng.randrange(SPAN_MS)),
                "quantity": str(rng.randrange(1, 9)),
                "status": _weighted(
                    rng, (("Open", 30), ("Submitted", 20), ("Approved", 45), ("Rejected", 5))
                ),
                "unitOfMeasureId": hour["id"] if hour else EMPTY_GUID,
                "unitOfMeasureCode": "HOUR",
                "lastModfiedDateTime": clock.next(),
            }

    ctx.insert("timeRegistrationEntries", rows())


def default_dimensions(ctx: CompanyContext) -> None:
    """Default dimension values on some customers, vendors, items and employees."""
    rng = ctx.rng("defaultDimensions")
    clock = ctx.clock("defaultDimensions")
    values = ctx.ref("dimensionValues")
    dims = by_code(ctx.ref("dimensions"))
    if not values:
        return
    by_dimension: dict[str, list[Row]] = {}
    for value in values:
        if value["_dimension"] in dims:
            by_dimension.setdefault(str(value["_dimension"]), []).append(value)
    if len(by_dimension) < 2:  # noqa: PLR2004 - two dimensions per parent
        return
    parents = [
        ("Customer", ctx.ref("customers")),
        ("Vendor", ctx.ref("vendors")),
        ("Item", ctx.ref("items")),
        ("Employee", ctx.ref("employees")),
    ]

    def rows() -> Iterator[Row]:
        for kind, rows_ in parents:
            for parent in rows_[:: max(1, len(rows_) // max(1, ctx.count(12)))]:
                for code in rng.sample(sorted(by_dimension), 2):
                    value = rng.choice(by_dimension[code])
                    yield {
                        "id": new_guid(rng),
                        "parentType": kind,
                        "parentId": parent["id"],
                        "dimensionId": value["dimensionId"],
                        "dimensionCode": value["_dimension"],
                        "dimensionValueId": value["id"],
                        "dimensionValueCode": value["code"],
                        "postingValidation": rng.choice(
                            ("_x0020_", "_x0020_", "Code_x0020_Mandatory", "Same_x0020_Code")
                        ),
                        "lastModifiedDateTime": clock.next(),
                    }

    ctx.insert("defaultDimensions", rows())


def pictures(ctx: CompanyContext) -> None:
    """Picture records for a few items (id = the item's id, as BC has it); content stays empty."""
    chosen = ctx.ref("items")[:5]
    ctx.insert(
        "pictures",
        (
            {"id": item["id"], "parentType": "Item", "width": 500, "height": 500,
             "contentType": "image/jpeg"}
            for item in chosen
        ),
    )  # fmt: skip
