"""Generic seed rows for any entity set, from the EDMX alone (custom API pages, minor sets).

Values follow property kinds and, where a name says what it holds (`city`, `email`, `no`), that
meaning. References are resolved from the model: navigation constraints in either direction and
the `xId` naming rule; a reference in the key makes one row per referenced row.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from businesscentral_emulator.odata.values import EMPTY_GUID
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
    format_ms,
    new_guid,
)
from businesscentral_emulator.seed.master import party_name

if TYPE_CHECKING:
    import random
    from collections.abc import Iterator, Mapping

    from businesscentral_emulator.odata.edmx import ApiModel, EntitySet, Property

# Rows a generic set gets at scale 1, unless a reference in its key decides.
GENERIC_BASE = 10.0
# Sets that custom API pages commonly expose get the volumes of their standard counterparts.
BASE_BY_NAME = {"customers": 100.0, "vendors": 50.0, "items": 150.0, "shipToAddresses": 150.0}
# A reference in the key gives one row per referenced row, up to this many.
PER_PARENT_CAP = 2000


def references(api: ApiModel, entity_set: EntitySet) -> dict[str, list[tuple[str, str]]]:
    """Target set -> [(local property, target property)] for every reference this set holds."""
    etype = entity_set.entity_type
    found: dict[str, list[tuple[str, str]]] = {}
    taken: set[str] = set()
    for target, candidates in _candidate_references(api, entity_set):
        pairs = [(local, remote) for local, remote in candidates if local not in taken]
        if target != entity_set.name and pairs and target not in found:
            found[target] = pairs
            taken.update(local for local, _ in pairs)
    for name, prop in etype.properties.items():
        if prop.kind == "guid" and name.endswith("Id") and name not in taken and name != "id":
            stem = name[:-2]
            named = api.set_by_type.get(stem) or api.set_by_type.get(stem.rstrip("s"))
            if named is not None and named != entity_set.name and named not in found:
                found[named] = [(name, "id")]
    return found


def _candidate_references(
    api: ApiModel, entity_set: EntitySet
) -> Iterator[tuple[str, list[tuple[str, str]]]]:
    """References declared by constraints: own navigations, then other types' collections."""
    etype = entity_set.entity_type
    for nav in etype.navigations.values():
        target_set = api.set_for_navigation(nav)
        if nav.collection or target_set is None or not nav.constraints:
            continue
        target_key = target_set.entity_type.key
        pairs = [
            (local, remote)
            for local, remote in nav.constraints
            if remote in target_key or remote in {"code", "number", "no"}
        ]
        # `id` = the target's `id` (pictures, financial details) is identity, not a reference.
        if pairs and not (len(pairs) == 1 and pairs[0] == ("id", "id") and len(etype.key) == 1):
            yield target_set.name, pairs
    for other in api.entity_sets.values():
        for nav in other.entity_type.navigations.values():
            if nav.collection and nav.constraints and nav.target_type == etype.name:
                yield other.name, [(local, remote) for remote, local in nav.constraints]


def dependencies(api: ApiModel, entity_set: EntitySet) -> set[str]:
    """Sets this one refers to (generate those first)."""
    return set(references(api, entity_set))


def generic_rows(ctx: CompanyContext, entity_set: EntitySet) -> Iterator[Row]:
    """Rows for a set nobody wrote a generator for."""
    rng = ctx.rng(entity_set.name, "generic")
    clock = ctx.clock(entity_set.name, empty_rate=0.01)
    etype = entity_set.entity_type
    change = ctx.api.change_date_field(entity_set)
    refs = {t: (pairs, ctx.ref(t)) for t, pairs in references(ctx.api, entity_set).items()}
    key_ref = next(
        (t for t, (pairs, _) in refs.items() if any(loc in etype.key for loc, _ in pairs)), None
    )
    if key_ref is not None:
        parents = refs[key_ref][1][:PER_PARENT_CAP]
        count = len(parents)
    else:
        parents = []
        count = ctx.count(BASE_BY_NAME.get(entity_set.name, GENERIC_BASE))
    # A property the set's own collection navigations link children by is an identity, like the
    # key: jobQueueEntries.jobQueueEntryId is Job Queue Entry "ID", which the log entries carry
    # (APIV2JobQueueEntries.Page.al @270597d1, part jobQueueLogEntry SubPageLink ID = field(ID)).
    identities = {
        own
        for nav in etype.navigations.values()
        if nav.collection
        for own, _ in nav.constraints
        if etype.properties[own].kind == "guid"
    }
    for index in range(count):
        row: Row = {}
        for target, (pairs, rows) in refs.items():
            parent = parents[index] if target == key_ref else (rng.choice(rows) if rows else None)
            if parent is not None:
                _copy_reference(row, pairs, parent, etype.properties)
        for name, prop in etype.properties.items():
            if name not in row:
                in_key = name in etype.key or name in identities
                row[name] = (
                    clock.next() if name == change else _value(ctx, rng, prop, index, in_key=in_key)
                )
        yield row


def _copy_reference(
    row: Row, pairs: list[tuple[str, str]], parent: Row, props: Mapping[str, Property]
) -> None:
    """Point `row` at `parent`; its `xNumber`/`xCode`/`xName` follow the referenced row."""
    for local, remote in pairs:
        row[local] = parent.get(remote)
    stem = pairs[0][0][:-2] if pairs[0][0].endswith("Id") else ""
    for suffix, source in (("Number", "number"), ("Code", "code"), ("Name", "displayName")):
        if stem and stem + suffix in props and source in parent:
            row.setdefault(stem + suffix, parent[source])


def _value(  # noqa: C901, PLR0911 - one flat table of kind rules
    ctx: CompanyContext, rng: random.Random, prop: Property, index: int, *, in_key: bool
) -> Any:  # noqa: ANN401 - stored values are of several kinds
    name = prop.name.lower()
    kind = prop.kind
    if kind == "guid":
        return new_guid(rng) if in_key or name == "id" else EMPTY_GUID
    if kind == "enum":
        members = prop.enum.members if prop.enum else ()
        if not members:
            return ""
        return members[0] if chance(rng, 0.5) else rng.choice(members)
    if kind == "bool":
        return 1 if chance(rng, 0.05 if "block" in name else 0.5) else 0
    if kind == "int":
        if name in {"linenumber", "sequence"}:
            return (index + 1) * 10000
        if "number" in name or in_key:
            return index + 1
        return rng.randrange(0, 100)
    if kind == "decimal":
        if any(w in name for w in ("amount", "price", "cost", "balance", "value", "score")):
            return cents_text(rng.randrange(0, 10_000_000))
        return str(rng.randrange(0, 100))
    if kind == "date":
        return date_of_ms(ctx.now_ms - rng.randrange(0, SPAN_MS // DAY_MS) * DAY_MS)
    if kind == "datetime":
        return format_ms(ctx.now_ms - rng.randrange(1, SPAN_MS))
    if kind != "string":
        return None
    return fit(_text(ctx, rng, name, index, in_key=in_key), prop.max_length)


def _text(  # noqa: C901, PLR0911, PLR0912 - one flat table of name rules
    ctx: CompanyContext, rng: random.Random, name: str, index: int, *, in_key: bool
) -> str:
    # One place per row, so that city, state and postal code agree.
    city, state, postal = ctx.locale.cities[index * 7 % len(ctx.locale.cities)]
    if "email" in name:
        return (
            f"contact{index + 1}@{rng.choice(data.COMPANY_NAMES).split()[0].lower()}.com".replace(
                "'", ""
            ).replace(",", "")
        )
    if "phone" in name or "fax" in name:
        return f"{ctx.locale.phone_prefix}{rng.randrange(100, 999)} {rng.randrange(1000, 9999)}"
    if "city" in name:
        return city
    if "state" in name or "county" in name:
        return state
    if "postcode" in name or "postalcode" in name or "zip" in name:
        return postal
    if "country" in name:
        return ctx.locale.country
    if "currency" in name:  # BC stores the local currency as a blank code (rules/currency.py)
        return ""
    if name.endswith(("address2", "addressline2", "name2")):
        return ""
    if "address" in name:
        return f"{rng.randrange(1, 999)} {rng.choice(data.STREETS)}"
    if name == "gln":
        return str(rng.randrange(10**12, 10**13))
    if "vat" in name or "taxregistration" in name:
        return f"{ctx.locale.country}{rng.randrange(10**8, 10**9)}"
    if "salesperson" in name or "purchaser" in name:
        return rng.choice(data.SALESPEOPLE)[0]
    if name in {"no", "number"} or (in_key and "code" not in name):
        return f"{10000 * (index + 1)}"
    if name == "code" or name.endswith("code"):
        return f"C{index + 1:04d}" if name == "code" else ""
    if name == "contact":
        return f"{rng.choice(data.FIRST_NAMES)} {rng.choice(data.LAST_NAMES)}"
    if "firstname" in name or "givenname" in name:
        return rng.choice(data.FIRST_NAMES)
    if "lastname" in name or "surname" in name:
        return rng.choice(data.LAST_NAMES)
    if "name" in name or "description" in name or name == "display":
        return party_name(index, data.COMPANY_NAMES)
    if "website" in name or "url" in name:
        return "www.cronus-company.com"
    return ""
