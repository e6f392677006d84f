"""The entity model read from BC's ``$metadata`` (EDMX), and JSON Schema derived from it.

The EDMX is the single source of truth for entity sets, keys, field names and types, writability
and bound actions, for the standard API and for every custom API. It comes from the network, so it
is parsed with ``defusedxml`` (no entity expansion, no external references).

Schemas describe values as BC sends them: GUIDs ``format: uuid``, dates ``format: date``,
datetimes ``format: date-time``, enums as strings listing their wire names (``Sales_x0020_Order``),
and ``Edm.Decimal`` as ``number``. A ``number`` schema says nothing about how the value is parsed:
read BC bodies with :func:`businesscentral_api.jsonutil.parse_json` (``Decimal``, never ``float``)
so money arrives exact.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from defusedxml import ElementTree

from businesscentral_api.jsonutil import parse_json

if TYPE_CHECKING:
    from collections.abc import Iterable
    from xml.etree.ElementTree import Element

__all__ = [
    "CHANGE_DATE_FIELDS",
    "EntitySet",
    "EntityType",
    "EnumType",
    "NavigationProperty",
    "Property",
    "ServiceModel",
    "parse_edmx",
    "parse_json",
]

# The change date of a set, in order of preference: BC spells it three ways.
CHANGE_DATE_FIELDS = ("lastModifiedDateTime", "lastModfiedDateTime", "systemModifiedAt")
_EDM = "{http://docs.oasis-open.org/odata/ns/edm}"
_CAPABILITIES = "Org.OData.Capabilities.V1."
_SCALARS: dict[str, dict[str, Any]] = {
    "Edm.String": {"type": "string"},
    "Edm.Guid": {"type": "string", "format": "uuid"},
    "Edm.Date": {"type": "string", "format": "date"},
    "Edm.DateTimeOffset": {"type": "string", "format": "date-time"},
    "Edm.TimeOfDay": {"type": "string", "format": "time"},
    "Edm.Duration": {"type": "string", "format": "duration"},
    "Edm.Decimal": {"type": "number"},
    "Edm.Double": {"type": "number"},
    "Edm.Single": {"type": "number"},
    "Edm.Int16": {"type": "integer"},
    "Edm.Int32": {"type": "integer"},
    "Edm.Int64": {"type": "integer"},
    "Edm.Byte": {"type": "integer"},
    "Edm.SByte": {"type": "integer"},
    "Edm.Boolean": {"type": "boolean"},
    "Edm.Binary": {"type": "string", "contentEncoding": "base64"},
}


@dataclass(frozen=True)
class EnumType:
    """An enum type; members are wire names (``_x0020_`` for blanks) with their numbers."""

    name: str
    members: tuple[tuple[str, int], ...]

    @property
    def wire_names(self) -> list[str]:
        """Member names exactly as BC sends and accepts them."""
        return [name for name, _ in self.members]


@dataclass(frozen=True)
class Property:
    """A structural property.

    Attributes:
        name: Field name on the wire.
        type_name: Qualified type, e.g. ``Edm.Guid`` or ``Microsoft.NAV.contactType``.
        nullable: Whether BC may send null (CSDL default: true).
        max_length: ``MaxLength`` for strings, None when unbounded.
        is_collection: Declared as ``Collection(...)``.
        enum: The enum type when ``type_name`` names one.
        is_stream: ``Edm.Stream``: never in the JSON body, only as a media link.
    """

    name: str
    type_name: str
    nullable: bool = True
    max_length: int | None = None
    is_collection: bool = False
    enum: EnumType | None = None
    is_stream: bool = False


@dataclass(frozen=True)
class NavigationProperty:
    """A navigation (``$expand``-able) property; ``is_collection`` for to-many."""

    name: str
    target_type: str
    is_collection: bool
    contains_target: bool = False
    partner: str | None = None
    constraints: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class EntityType:
    """An entity type (or complex type, with no key)."""

    name: str
    qualified_name: str
    key: tuple[str, ...]
    properties: dict[str, Property] = field(hash=False)
    navigations: dict[str, NavigationProperty] = field(hash=False)


@dataclass(frozen=True)
class EntitySet:
    """An entity set with what BC allows on it and the actions bound to its type."""

    name: str
    entity_type: EntityType
    insertable: bool = True
    updatable: bool = True
    deletable: bool = True
    sortable: bool = True
    bound_actions: tuple[str, ...] = ()

    @property
    def key(self) -> tuple[str, ...]:
        """Key property names, e.g. ``("id",)``."""
        return self.entity_type.key

    @property
    def properties(self) -> dict[str, Property]:
        """Structural properties by name."""
        return self.entity_type.properties

    @property
    def navigations(self) -> dict[str, NavigationProperty]:
        """Navigation properties by name."""
        return self.entity_type.navigations

    @property
    def change_date(self) -> str | None:
        """The set's change-date property, if it has one of BC's spellings."""
        return next((f for f in CHANGE_DATE_FIELDS if f in self.entity_type.properties), None)

    @property
    def read_only(self) -> bool:
        """True when BC refuses inserts, updates and deletes alike."""
        return not (self.insertable or self.updatable or self.deletable)


@dataclass
class ServiceModel:
    """Everything one ``$metadata`` document declares."""

    entity_sets: dict[str, EntitySet]
    entity_types: dict[str, EntityType]
    complex_types: dict[str, EntityType]
    enum_types: dict[str, EnumType]
    actions: dict[str, tuple[str, ...]]

    def entity_set(self, name: str) -> EntitySet:
        """Look an entity set up by name.

        Raises:
            KeyError: No such entity set, with the name in the message.
        """
        try:
            return self.entity_sets[name]
        except KeyError:
            msg = f"entity set {name!r} is not in $metadata"
            raise KeyError(msg) from None

    def entity_set_for_type(self, qualified_name: str) -> EntitySet | None:
        """The (first) entity set whose type is ``qualified_name``, e.g. for a navigation."""
        return next(
            (
                s
                for s in self.entity_sets.values()
                if s.entity_type.qualified_name == qualified_name
            ),
            None,
        )

    def json_schema(self, entity_set: str, expand: Iterable[str] = ()) -> dict[str, Any]:
        """JSON Schema of one entity set's records, as BC sends them.

        Args:
            entity_set: Entity set name.
            expand: Navigation properties that will be ``$expand``-ed into the record; each becomes
                an object (to-one) or an array of objects (to-many) of the target type's schema.

        Returns:
            A Draft 2020-12-compatible object schema. ``Edm.Stream`` properties are left out
            (BC sends only a media link for them); no property is ``required`` because
            ``$select`` may omit any of them.
        """
        target = self.entity_set(entity_set)
        schema = self._type_schema(target.entity_type, nullable=False)
        for name in expand:
            navigation = target.navigations.get(name)
            if navigation is None:
                msg = f"{entity_set} has no navigation property {name!r}"
                raise KeyError(msg)
            nested_type = self.entity_types[navigation.target_type]
            nested = self._type_schema(nested_type, nullable=not navigation.is_collection)
            schema["properties"][name] = (
                {"type": ["array", "null"], "items": self._type_schema(nested_type, nullable=False)}
                if navigation.is_collection
                else nested
            )
        return schema

    def _type_schema(self, entity_type: EntityType, *, nullable: bool) -> dict[str, Any]:
        properties = {
            prop.name: self._property_schema(prop)
            for prop in entity_type.properties.values()
            if not prop.is_stream
        }
        return {
            "type": ["object", "null"] if nullable else "object",
            "properties": properties,
        }

    def _property_schema(self, prop: Property) -> dict[str, Any]:
        item = self._value_schema(prop, nullable=prop.nullable and not prop.is_collection)
        if prop.is_collection:
            return {"type": ["array", "null"] if prop.nullable else "array", "items": item}
        return item

    def _value_schema(self, prop: Property, *, nullable: bool) -> dict[str, Any]:
        if prop.enum is not None:
            values: list[str | None] = list(prop.enum.wire_names)
            if nullable:
                values.append(None)
            return {"type": ["string", "null"] if nullable else "string", "enum": values}
        if prop.type_name in self.complex_types:
            return self._type_schema(self.complex_types[prop.type_name], nullable=nullable)
        schema = dict(_SCALARS.get(prop.type_name, {}))
        if not schema:
            return {}  # an unknown type: accept anything rather than reject BC's data
        if nullable:
            schema["type"] = [schema["type"], "null"]
        if prop.max_length is not None and prop.type_name == "Edm.String":
            schema["maxLength"] = prop.max_length
        return schema


def parse_edmx(document: bytes | str) -> ServiceModel:
    """Parse an EDMX document safely into a :class:`ServiceModel`.

    Raises:
        ValueError: The document is not EDMX (or not XML), with the reason.
    """
    try:
        root = ElementTree.fromstring(document)
    except ElementTree.ParseError as exc:
        msg = f"$metadata is not valid XML: {exc}"
        raise ValueError(msg) from None
    schemas = list(root.iter(f"{_EDM}Schema"))
    if not schemas:
        msg = "$metadata has no EDM Schema element"
        raise ValueError(msg)
    enum_types: dict[str, EnumType] = {}
    for schema in schemas:
        for element in schema.findall(f"{_EDM}EnumType"):
            qualified = _qualify(schema, element.get("Name", ""))
            members = tuple(
                (m.get("Name", ""), int(m.get("Value", "0")))
                for m in element.findall(f"{_EDM}Member")
            )
            enum_types[qualified] = EnumType(qualified, members)
    entity_types = {
        t.qualified_name: t
        for schema in schemas
        for t in (_structured(schema, e, enum_types) for e in schema.findall(f"{_EDM}EntityType"))
    }
    complex_types = {
        t.qualified_name: t
        for schema in schemas
        for t in (_structured(schema, e, enum_types) for e in schema.findall(f"{_EDM}ComplexType"))
    }
    actions = _bound_actions(schemas)
    external = _external_annotations(schemas)
    entity_sets: dict[str, EntitySet] = {}
    for schema in schemas:
        for container in schema.findall(f"{_EDM}EntityContainer"):
            container_name = _qualify(schema, container.get("Name", ""))
            for element in container.findall(f"{_EDM}EntitySet"):
                name = element.get("Name", "")
                type_name = element.get("EntityType", "")
                if type_name not in entity_types:
                    msg = f"entity set {name} has undeclared type {type_name}"
                    raise ValueError(msg)
                capabilities = _capabilities(element)
                capabilities.update(external.get(f"{container_name}/{name}", {}))
                # BC annotates every writable set; one with no annotation at all (e.g.
                # entityDefinitions) is read-only, whatever OData's default would say.
                writable = bool(capabilities)
                entity_sets[name] = EntitySet(
                    name=name,
                    entity_type=entity_types[type_name],
                    insertable=capabilities.get("InsertRestrictions", writable),
                    updatable=capabilities.get("UpdateRestrictions", writable),
                    deletable=capabilities.get("DeleteRestrictions", writable),
                    sortable=capabilities.get("SortRestrictions", True),
                    bound_actions=actions.get(type_name, ()),
                )
    return ServiceModel(entity_sets, entity_types, complex_types, enum_types, actions)


def _qualify(schema: Element, name: str) -> str:
    return f"{schema.get('Namespace', '')}.{name}"


def _structured(schema: Element, element: Element, enums: dict[str, EnumType]) -> EntityType:
    key = tuple(ref.get("Name", "") for ref in element.findall(f"{_EDM}Key/{_EDM}PropertyRef"))
    properties: dict[str, Property] = {}
    for prop in element.findall(f"{_EDM}Property"):
        declared = prop.get("Type", "")
        is_collection = declared.startswith("Collection(")
        type_name = declared[len("Collection(") : -1] if is_collection else declared
        max_length = prop.get("MaxLength")
        properties[prop.get("Name", "")] = Property(
            name=prop.get("Name", ""),
            type_name=type_name,
            nullable=prop.get("Nullable", "true").lower() != "false",
            max_length=int(max_length) if max_length and max_length.isdigit() else None,
            is_collection=is_collection,
            enum=enums.get(type_name),
            is_stream=type_name == "Edm.Stream",
        )
    navigations: dict[str, NavigationProperty] = {}
    for nav in element.findall(f"{_EDM}NavigationProperty"):
        declared = nav.get("Type", "")
        is_collection = declared.startswith("Collection(")
        navigations[nav.get("Name", "")] = NavigationProperty(
            name=nav.get("Name", ""),
            target_type=declared[len("Collection(") : -1] if is_collection else declared,
            is_collection=is_collection,
            contains_target=nav.get("ContainsTarget", "false").lower() == "true",
            partner=nav.get("Partner"),
            constraints=tuple(
                (c.get("Property", ""), c.get("ReferencedProperty", ""))
                for c in nav.findall(f"{_EDM}ReferentialConstraint")
            ),
        )
    name = element.get("Name", "")
    return EntityType(name, _qualify(schema, name), key, properties, navigations)


def _bound_actions(schemas: list[Element]) -> dict[str, tuple[str, ...]]:
    bound: dict[str, list[str]] = {}
    for schema in schemas:
        for action in schema.findall(f"{_EDM}Action"):
            if action.get("IsBound", "false").lower() != "true":
                continue
            parameter = action.find(f"{_EDM}Parameter")
            if parameter is None:
                continue
            bound.setdefault(parameter.get("Type", ""), []).append(action.get("Name", ""))
    return {type_name: tuple(names) for type_name, names in bound.items()}


def _capabilities(element: Element) -> dict[str, bool]:
    """Read ``Org.OData.Capabilities.V1.*Restrictions`` annotations into ``{term: allowed}``."""
    found: dict[str, bool] = {}
    for annotation in element.findall(f"{_EDM}Annotation"):
        term = annotation.get("Term", "")
        if not term.startswith(_CAPABILITIES):
            continue
        for value in annotation.iter(f"{_EDM}PropertyValue"):
            if value.get("Property") in {"Insertable", "Updatable", "Deletable", "Sortable"}:
                found[term.removeprefix(_CAPABILITIES)] = value.get("Bool", "true") == "true"
    return found


def _external_annotations(schemas: list[Element]) -> dict[str, dict[str, bool]]:
    """Capabilities given in ``<Annotations Target="Ns.Container/set">`` blocks."""
    found: dict[str, dict[str, bool]] = {}
    for schema in schemas:
        for block in schema.findall(f"{_EDM}Annotations"):
            capabilities = _capabilities(block)
            if capabilities:
                found.setdefault(block.get("Target", ""), {}).update(capabilities)
    return found
