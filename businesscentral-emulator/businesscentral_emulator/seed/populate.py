"""Deterministic, CRONUS-like seed data for every entity set of a model.

Same seed, same ids and values: every (seed, company, set) draws from a generator of its own, and
`now` only anchors dates. For the standard API the sets get hand-written CRONUS generators
(`seed_master`, `seed_documents`, `seed_finance`); any other set, and every set of a custom API
page, gets generic rows from its EDMX properties (`seed_generic`). Rows stream into the store, so
scale 100 (a million GL entries) costs disk, not memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from businesscentral_emulator.seed import data, documents, finance, master
from businesscentral_emulator.seed.common import (
    DAY_MS,
    SPAN_MS,
    CompanyContext,
    Locale,
    Row,
    derive_rng,
    epoch_ms,
    format_ms,
    new_guid,
)
from businesscentral_emulator.seed.generic import dependencies, generic_rows

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from datetime import datetime

    from businesscentral_emulator.odata.edmx import ApiModel, EntitySet
    from businesscentral_emulator.store.sqlite import Store

SYSTEM_VERSION = "26.0.30643.32100"
COMPANY_NAMES = ("CRONUS USA, Inc.", "CRONUS International Ltd.")
LOCALES = (
    Locale("US", "USD", "+1 425 ", ".com", data.US_CITIES, sales_tax=True),
    Locale("GB", "GBP", "+44 20 ", ".co.uk", data.GB_CITIES, sales_tax=False),
)
# Sets the standard generators fill, in dependency order.
STANDARD_STEPS: tuple[Callable[[CompanyContext], None], ...] = (
    master.setup_tables,
    finance.prepare_accounts,
    finance.bank_accounts,
    master.customers,
    master.vendors,
    master.items,
    master.item_variants,
    master.contacts,
    master.employees,
    master.projects,
    master.fixed_assets,
    master.time_registration,
    master.default_dimensions,
    master.pictures,
    finance.ledger,
    finance.journals,
    documents.all_documents,
    documents.document_files,
    finance.payments,
    finance.item_ledger,
    finance.periods_and_rates,
    finance.company_setup,
    documents.dimension_set_lines,
)
# What marks a model as BC's standard API (custom API pages get generic rows throughout).
_STANDARD_SIGNATURE = (
    ("customers", "number"),
    ("items", "baseUnitOfMeasureCode"),
    ("accounts", "category"),
    ("generalLedgerEntries", "entryNumber"),
)


@dataclass(frozen=True)
class CompanySpec:
    """A company the emulator serves: the same ids in every API of an environment."""

    id: str
    name: str
    display_name: str


def company_names(count: int) -> list[str]:
    """Names of the first `count` companies: the two CRONUS ones, then `CRONUS Company 3`, ..."""
    if count < 1:
        msg = f"an environment has at least one company, not {count}"
        raise ValueError(msg)
    extra = [f"CRONUS Company {n}" for n in range(len(COMPANY_NAMES) + 1, count + 1)]
    return [*COMPANY_NAMES, *extra][:count]


def default_companies(seed: int, count: int = len(COMPANY_NAMES)) -> list[CompanySpec]:
    """The CRONUS companies (two unless `count` says otherwise), with GUIDs from the seed only.

    A company's id depends on the seed and its name alone, so the first companies keep their ids
    whatever the count; companies past the second alternate the US and GB locales.
    """
    return [
        CompanySpec(id=new_guid(derive_rng(seed, "company", name)), name=name, display_name=name)
        for name in company_names(count)
    ]


def is_standard(api: ApiModel) -> bool:
    """Whether a model is BC's API v2.0 (or shaped like it), so the CRONUS generators apply."""
    return all(
        name in api.entity_sets and prop in api.entity_sets[name].entity_type.properties
        for name, prop in _STANDARD_SIGNATURE
    )


def populate(  # noqa: PLR0913 - the signature the emulator app is written against
    store: Store,
    api: ApiModel,
    *,
    seed: int,
    scale: float,
    companies: Sequence[CompanySpec],
    now: datetime,
) -> dict[str, int]:
    """Fill `companies` and every company-scoped set for every company; return rows per set.

    Dates are anchored at the start of `now`'s UTC day, so emulators started on the same day with
    the same seed serve identical rows, and every seeded change lies before any live edit.
    """
    counts: dict[str, int] = {}
    now_ms = epoch_ms(now) // DAY_MS * DAY_MS
    if "companies" in api.entity_sets:
        inserted = store.insert_many(
            api, api.entity_sets["companies"], None, _company_rows(seed, companies, now_ms)
        )
        counts["companies"] = inserted
    scoped = [s for s in api.entity_sets.values() if s.company_scoped]
    standard = is_standard(api)
    for index, company in enumerate(companies):
        ctx = CompanyContext(
            api=api,
            store=store,
            company_id=company.id,
            company_name=company.display_name or company.name,
            seed=seed,
            scale=scale,
            now_ms=now_ms,
            locale=LOCALES[index % len(LOCALES)],
            counts=counts,
        )
        if standard:
            for step in STANDARD_STEPS:
                step(ctx)
        for entity_set in _dependency_order(api, [s for s in scoped if s.name not in ctx.done]):
            ctx.insert(entity_set.name, generic_rows(ctx, entity_set), remember=True)
    for entity_set in scoped:
        counts.setdefault(entity_set.name, 0)
    return counts


def _company_rows(seed: int, companies: Sequence[CompanySpec], now_ms: int) -> list[Row]:
    rows = []
    for company in companies:
        rng = derive_rng(seed, "companies", company.id)
        created = now_ms - SPAN_MS - rng.randrange(DAY_MS, 90 * DAY_MS)
        modified = created + rng.randrange(DAY_MS, SPAN_MS)
        creator = new_guid(rng)
        rows.append(
            {
                "id": company.id,
                "systemVersion": SYSTEM_VERSION,
                "timestamp": rng.randrange(1000, 1_000_000),
                "name": company.name,
                "displayName": company.display_name,
                "businessProfileId": "",
                "systemCreatedAt": format_ms(created),
                "systemCreatedBy": creator,
                "systemModifiedAt": format_ms(modified),
                "systemModifiedBy": creator if rng.random() < 0.5 else new_guid(rng),  # noqa: PLR2004
            }
        )
    return rows


def _dependency_order(api: ApiModel, sets: Sequence[EntitySet]) -> list[EntitySet]:
    """Referenced sets before the sets that refer to them (EDMX order otherwise; cycles cut)."""
    by_name = {s.name: s for s in sets}
    ordered: list[EntitySet] = []
    state: dict[str, int] = {}

    def visit(name: str) -> None:
        if state.get(name):
            return
        state[name] = 1
        for dep in sorted(dependencies(api, by_name[name])):
            if dep in by_name:
                visit(dep)
        state[name] = 2
        ordered.append(by_name[name])

    for entity_set in sets:
        visit(entity_set.name)
    return ordered
