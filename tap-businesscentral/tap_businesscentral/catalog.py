"""Which streams a Business Central environment offers, read from ``$metadata``.

The EDMX is the source of truth; this module only adds the few rules it cannot say:
which property is the change date, which sets are document lines that travel with their header,
and how custom API sets are named. Everything here is pure so it can be tested without HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from businesscentral_api.odata import STANDARD_API, ApiRoute

if TYPE_CHECKING:
    from businesscentral_api.metadata import EntitySet, ServiceModel

__all__ = [
    "COMPANIES",
    "LineSpec",
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
    """

    name: str
    api: ApiRoute
    entity_set: EntitySet
    replication_key: str | None
    company_scoped: bool = True
    lines: tuple[LineSpec, ...] = field(default=())
    header: str | None = None

    @property
    def key(self) -> tuple[str, ...]:
        """Primary key: the company first, because copied companies share record ids."""
        return (COMPANY_ID, *self.entity_set.key)


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
            specs.append(StreamSpec(name, api, entity_set, change_date(entity_set), lines=lines))
            specs.extend(
                StreamSpec(
                    line.stream_name,
                    api,
                    model.entity_sets[child],
                    None,
                    header=name,
                )
                for line in lines
                for child, (header, navigation) in headers.items()
                if header.name == entity_set.name and navigation == line.navigation
            )
        taken.update(names.values())
    return specs
