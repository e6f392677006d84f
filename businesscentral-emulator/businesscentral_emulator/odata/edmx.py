"""The entity model the emulator serves, read from a real BC `$metadata` EDMX document.

The emulator shares nothing with the client packages but the EDMX file itself, so it has its own
small reader: entity sets, keys, typed properties, navigations with their referential constraints,
capability restrictions and bound actions. Everything else in the emulator is driven by this model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from typing import TYPE_CHECKING

from defusedxml import ElementTree

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element

_EDM = "{http://docs.oasis-open.org/odata/ns/edm}"
_EDMX = "{http://docs.oasis-open.org/odata/ns/edmx}"
_CAPABILITIES = "Org.OData.Capabilities.V1."

# Storage kinds: how a value is kept in the store and written on the wire.
KIND_BY_EDM_TYPE = {
    "Edm.String": "string",
    "Edm.Guid": "guid",
    "Edm.Decimal": "decimal",
    "Edm.Double": "decimal",
    "Edm.Single": "decimal",
    "Edm.Int16": "int",
    "Edm.Int32": "int",
    "Edm.Int64": "int",
    "Edm.Byte": "int",
    "Edm.Boolean": "bool",
    "Edm.Date": "date",
    "Edm.DateTimeOffset": "datetime",
    "Edm.TimeOfDay": "string",
    "Edm.Duration": "string",
    "Edm.Stream": "stream",
    "Edm.Binary": "stream",
}


@dataclass(frozen=True)
class EnumType:
    """An EDMX enum: members keep BC's wire spelling (`_x0020_`, `In_x0020_Review`)."""

    name: str
    members: tuple[str, ...]


@dataclass(frozen=True)
class Property:
    """One structural property of an entity type."""

    name: str
    edm_type: str
    kind: str
    nullable: bool = True
    max_length: int | None = None
    enum: EnumType | None = None


@dataclass(frozen=True)
class Navigation:
    """A navigation property; `constraints` pairs (this type's property, target's property)."""

    name: str
    target_type: str
    collection: bool
    constraints: tuple[tuple[str, str], ...] = ()


@dataclass
class EntityType:
    """An entity type with its key, properties, navigations and bound actions."""

    name: str
    key: tuple[str, ...]
    properties: dict[str, Property]
    navigations: dict[str, Navigation]
    actions: tuple[str, ...] = ()


@dataclass
class EntitySet:
    """An entity set and what its Capabilities annotations allow."""

    name: str
    entity_type: EntityType
    insertable: bool = True
    updatable: bool = True
    deletable: bool = True
    company_scoped: bool = False


@dataclass
class ApiModel:
    """One API (v2.0 or a custom API page): its sets, types and the EDMX text it came from."""

    route: str
    namespace: str
    entity_types: dict[str, EntityType]
    entity_sets: dict[str, EntitySet]
    enums: dict[str, EnumType]
    edmx: bytes
    set_by_type: dict[str, str] = field(default_factory=dict)

    def set_for_navigation(self, nav: Navigation) -> EntitySet | None:
        """The entity set a navigation leads into (the one whose type it targets)."""
        name = nav.name if nav.name in self.entity_sets else self.set_by_type.get(nav.target_type)
        return self.entity_sets.get(name) if name else None

    def change_date_field(self, entity_set: EntitySet) -> str | None:
        """The property BC keeps the last change time in, if the set has one."""
        for name in ("lastModifiedDateTime", "lastModfiedDateTime", "systemModifiedAt"):
            if name in entity_set.entity_type.properties:
                return name
        return None


def _bool_annotation(node: Element, term: str, prop: str) -> bool:
    for annotation in node.findall(f"{_EDM}Annotation"):
        if annotation.get("Term") == _CAPABILITIES + term:
            for value in annotation.iter(f"{_EDM}PropertyValue"):
                if value.get("Property") == prop:
                    return value.get("Bool", "true") == "true"
    return True


def _local(qualified: str) -> str:
    return qualified.rsplit(".", 1)[-1]


def _read_property(node: Element, enums: dict[str, EnumType]) -> Property:
    edm_type = node.get("Type", "Edm.String")
    if edm_type.startswith("Collection("):
        kind = "json"
    elif edm_type in KIND_BY_EDM_TYPE:
        kind = KIND_BY_EDM_TYPE[edm_type]
    elif _local(edm_type) in enums:
        kind = "enum"
    else:
        kind = "json"
    max_length = node.get("MaxLength")
    return Property(
        name=node.get("Name", ""),
        edm_type=edm_type,
        kind=kind,
        nullable=node.get("Nullable", "true") == "true",
        max_length=int(max_length) if max_length and max_length.isdigit() else None,
        enum=enums.get(_local(edm_type)) if kind == "enum" else None,
    )


def _read_navigation(node: Element) -> Navigation:
    target = node.get("Type", "")
    collection = target.startswith("Collection(")
    if collection:
        target = target[len("Collection(") : -1]
    constraints = tuple(
        (c.get("Property", ""), c.get("ReferencedProperty", ""))
        for c in node.findall(f"{_EDM}ReferentialConstraint")
    )
    return Navigation(
        name=node.get("Name", ""),
        target_type=_local(target),
        collection=collection,
        constraints=constraints,
    )


def parse_edmx(edmx: bytes, route: str) -> ApiModel:
    """Build the model of one API from its EDMX text."""
    root = ElementTree.fromstring(edmx)
    schema = root.find(f"{_EDMX}DataServices/{_EDM}Schema")
    if schema is None:
        msg = "EDMX has no Schema"
        raise ValueError(msg)
    namespace = schema.get("Namespace", "Microsoft.NAV")
    enums = {
        node.get("Name", ""): EnumType(
            node.get("Name", ""),
            tuple(m.get("Name", "") for m in node.findall(f"{_EDM}Member")),
        )
        for node in schema.findall(f"{_EDM}EnumType")
    }
    actions: dict[str, list[str]] = {}
    for node in schema.findall(f"{_EDM}Action"):
        binding = node.find(f"{_EDM}Parameter")
        if node.get("IsBound") == "true" and binding is not None:
            actions.setdefault(_local(binding.get("Type", "")), []).append(node.get("Name", ""))
    types: dict[str, EntityType] = {}
    for node in schema.findall(f"{_EDM}EntityType"):
        name = node.get("Name", "")
        key = tuple(ref.get("Name", "") for ref in node.iter(f"{_EDM}PropertyRef"))
        types[name] = EntityType(
            name=name,
            key=key,
            properties={
                p.get("Name", ""): _read_property(p, enums) for p in node.findall(f"{_EDM}Property")
            },
            navigations={
                n.get("Name", ""): _read_navigation(n)
                for n in node.findall(f"{_EDM}NavigationProperty")
            },
            actions=tuple(actions.get(name, ())),
        )
    sets: dict[str, EntitySet] = {}
    container = schema.find(f"{_EDM}EntityContainer")
    for node in container.findall(f"{_EDM}EntitySet") if container is not None else []:
        sets[node.get("Name", "")] = EntitySet(
            name=node.get("Name", ""),
            entity_type=types[_local(node.get("EntityType", ""))],
            insertable=_bool_annotation(node, "InsertRestrictions", "Insertable"),
            updatable=_bool_annotation(node, "UpdateRestrictions", "Updatable"),
            deletable=_bool_annotation(node, "DeleteRestrictions", "Deletable"),
        )
    company = types.get("company")
    if company is not None:
        for nav in company.navigations.values():
            if nav.collection and nav.name in sets:
                sets[nav.name].company_scoped = True
    set_by_type: dict[str, str] = {}
    for entity_set in sets.values():
        set_by_type.setdefault(entity_set.entity_type.name, entity_set.name)
    return ApiModel(route, namespace, types, sets, enums, edmx, set_by_type)


def bundled_edmx(filename: str) -> bytes:
    """Read an EDMX file shipped inside the emulator package."""
    return (resources.files("businesscentral_emulator") / "data" / filename).read_bytes()


def standard_api() -> ApiModel:
    """The model of API v2.0, from the real BC 26.0 `$metadata` the package ships."""
    return parse_edmx(bundled_edmx("metadata-v2.0.xml"), "v2.0")
