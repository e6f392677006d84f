"""Which streams a Business Central environment offers, read from ``$metadata``.

The EDMX is the source of truth; this module only adds the few rules it cannot say:
which property is the change date, which sets are document lines that travel with their header,
which sets BC serves only through a parent, and how custom API sets are named. Everything here is
pure so it can be tested without HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from businesscentral_api.odata import STANDARD_API, ApiRoute

if TYPE_CHECKING:
    from businesscentral_api.metadata import EntitySet, ServiceModel

__all__ = [
    "COMPANIES",
    "PER_PARENT_ONLY",
    "READ_THROUGH",
    "LineSpec",
    "ParentRead",
    "StreamSpec",
    "build_specs",
]

COMPANIES = "companies"
COMPANY_ID = "companyId"
DOCUMENT_ID = "documentId"


@dataclass(frozen=True)
class LineSpec:
    """A lines set that travels inside its header's response through ``$expand``.

    Attributes:
        stream_name: Name of the lines stream.
        navigation: Navigation property on the header, e.g. ``salesInvoiceLines``.
    """

    stream_name: str
    navigation: str


# Sets BC refuses to read at company level (400 Application_DialogException; the emulator's
# businesscentral_emulator/odata/refusals.py cites each AL page), and the parent collections BC
# serves them through: the tap reads ``<parent>?$select=id&$expand=<set>``, one request per page
# of parents. Document lines are found from ``$metadata`` (``_line_headers``) and read the same
# way when their header is not selected. These children have no change date their parent
# follows (a new payment does not touch its journal), so they are read in full every run.
READ_THROUGH: dict[str, tuple[str, ...]] = {
    "customerPayments": ("customerPaymentJournals",),
    "vendorPayments": ("vendorPaymentJournals",),
    "journalLines": ("journals",),
    "timeRegistrationEntries": ("employees",),
    "contactsInformation": ("customers", "vendors"),
}

# Sets BC serves only one parent at a time, or from so many parent sets that a stream of their
# own would be a guess: not selected by default (and not read if selected; the reason is logged).
PER_PARENT_ONLY: dict[str, str] = {
    "dimensionSetLines": (
        "BC serves dimension set lines only below their parent (one of some twenty sets, each "
        "keyed by its own ids); add them to a parent stream with "
        'stream_options, e.g. {"salesInvoices": {"expand": "dimensionSetLines"}}'
    ),
    "pictures": (
        "BC serves a picture only below its parent (items(id)/picture, customers(id)/picture, ...)"
        ", one parent per request"
    ),
    "applyVendorEntries": (
        "BC serves apply vendor entries only below one vendor payment "
        "(vendorPayments(id)/applyVendorEntries)"
    ),
    "pdfDocument": (
        "BC generates a PDF document per request, only below one document "
        "(salesInvoices(id)/pdfDocument)"
    ),
}

# Key fields a set's own key needs to be unique in a stream read through several parents.
_EXTRA_KEY: dict[str, tuple[str, ...]] = {"contactsInformation": ("relatedId",)}


@dataclass(frozen=True)
class ParentRead:
    """How a set BC refuses at company level is read: expanded from a parent collection.

    Attributes:
        parent: The parent entity set, read at company level.
        navigation: Its collection navigation to the set.
        parent_key: The parent's property the navigation matches (``id``).
        parent_field: The child's property that holds it (``documentId``, ``journalId``, ...).
    """

    parent: str
    navigation: str
    parent_key: str = "id"
    parent_field: str = DOCUMENT_ID


@dataclass(frozen=True)
class StreamSpec:
    """One stream: an entity set of one API, and how it is read.

    Attributes:
        name: Stream name (BC's entity set name; custom API sets prefixed only on collision).
        api: The API the set belongs to.
        entity_set: The set as ``$metadata`` declares it.
        replication_key: Change-date property, None for full-table sets and lines.
        company_scoped: Read below ``companies({id})`` (all sets but ``companies``).
        lines: Lines sets expanded into this set's requests.
        header: For a lines stream, the stream whose requests bring its rows.
        via: For a set BC refuses at company level, the parent collections it is read through.
        unread_reason: Why a set BC serves only one parent at a time is not read.
        extra_key: Fields added to the key (a set read through several parents).
    """

    name: str
    api: ApiRoute
    entity_set: EntitySet
    replication_key: str | None
    company_scoped: bool = True
    lines: tuple[LineSpec, ...] = field(default=())
    header: str | None = None
    via: tuple[ParentRead, ...] = ()
    unread_reason: str | None = None
    extra_key: tuple[str, ...] = ()

    @property
    def key(self) -> tuple[str, ...]:
        """Primary key: the company first, because copied companies share record ids."""
        return (COMPANY_ID, *self.extra_key, *self.entity_set.key)


def change_date(entity_set: EntitySet) -> str | None:
    """The set's change-date property, if it has one of BC's spellings."""
    return entity_set.change_date


def company_scoped_sets(model: ServiceModel) -> list[EntitySet]:
    """Sets reachable below a company: the collection navigations of the company type."""
    companies = model.entity_sets.get(COMPANIES)
    if companies is None:
        return []
    found: list[EntitySet] = []
    for navigation in companies.navigations.values():
        entity_set = model.entity_sets.get(navigation.name)
        if entity_set is not None and navigation.is_collection:
            found.append(entity_set)
    return found


def _line_headers(sets: list[EntitySet]) -> dict[str, tuple[EntitySet, str]]:
    """Map each lines set to its one header set with a change date and the navigation to it.

    A set is a lines set when it has no change date and exactly one set with a change date
    reaches it through a collection navigation of the same name (``dimensionSetLines``, reached
    from many sets, stays a set of its own).
    """
    by_name = {s.name: s for s in sets}
    parents: dict[str, list[tuple[EntitySet, str]]] = {}
    for header in sets:
        if change_date(header) is None:
            continue
        for navigation in header.navigations.values():
            child = by_name.get(navigation.name)
            if (
                navigation.is_collection
                and child is not None
                and child.entity_type.qualified_name == navigation.target_type
                and change_date(child) is None
            ):
                parents.setdefault(child.name, []).append((header, navigation.name))
    return {name: found[0] for name, found in parents.items() if len(found) == 1}


def stream_name(api: ApiRoute, set_name: str, taken: set[str]) -> str:
    """Keep BC's set name; prefix a custom API's set with its route only when the name is taken."""
    if api.is_standard or set_name not in taken:
        return set_name
    return f"{api.slug}__{set_name}"


def parent_read(parent: EntitySet, navigation: str) -> ParentRead:
    """The parent read of ``parent``'s ``navigation``, matched by its referential constraint."""
    constraints = parent.navigations[navigation].constraints
    if constraints:
        own, referenced = constraints[0]
        return ParentRead(parent.name, navigation, own, referenced)
    return ParentRead(parent.name, navigation)


def _read_through(model: ServiceModel, sets: list[EntitySet], name: str) -> tuple[ParentRead, ...]:
    """The parent reads of a set BC refuses at company level, as far as ``$metadata`` has them."""
    names = {s.name for s in sets}
    return tuple(
        parent_read(model.entity_sets[parent], name)
        for parent in READ_THROUGH.get(name, ())
        if parent in names and name in model.entity_sets[parent].navigations
    )


def _spec(  # noqa: PLR0913 - the parts of a spec, decided by the caller
    api: ApiRoute,
    model: ServiceModel,
    sets: list[EntitySet],
    entity_set: EntitySet,
    *,
    name: str,
    lines: tuple[LineSpec, ...],
) -> StreamSpec:
    if not api.is_standard:
        return StreamSpec(name, api, entity_set, change_date(entity_set), lines=lines)
    via = _read_through(model, sets, entity_set.name)
    return StreamSpec(
        name,
        api,
        entity_set,
        None if via else change_date(entity_set),
        lines=lines,
        via=via,
        unread_reason=PER_PARENT_ONLY.get(entity_set.name),
        extra_key=_EXTRA_KEY.get(entity_set.name, ()) if len(via) > 1 else (),
    )


def build_specs(models: dict[ApiRoute, ServiceModel]) -> list[StreamSpec]:
    """Every stream of the standard API and the custom APIs, lines right after their header.

    Args:
        models: ``$metadata`` models by API; the standard API first.
    """
    specs: list[StreamSpec] = []
    taken: set[str] = set()
    for api, model in models.items():
        if api == STANDARD_API and COMPANIES in model.entity_sets:
            companies = model.entity_sets[COMPANIES]
            specs.append(
                StreamSpec(COMPANIES, api, companies, change_date(companies), company_scoped=False)
            )
            taken.add(COMPANIES)
        sets = company_scoped_sets(model)
        headers = _line_headers(sets)
        names = {s.name: stream_name(api, s.name, taken) for s in sets}
        for entity_set in sets:
            if entity_set.name in headers:
                continue  # emitted right after its header below
            lines = tuple(
                LineSpec(names[child], navigation)
                for child, (header, navigation) in headers.items()
                if header.name == entity_set.name
            )
            name = names[entity_set.name]
            specs.append(_spec(api, model, sets, entity_set, name=name, lines=lines))
            specs.extend(
                StreamSpec(
                    line.stream_name,
                    api,
                    model.entity_sets[child],
                    None,
                    header=name,
                    via=(parent_read(entity_set, navigation),),
                )
                for line in lines
                for child, (header, navigation) in headers.items()
                if header.name == entity_set.name and navigation == line.navigation
            )
        taken.update(names.values())
    return specs
