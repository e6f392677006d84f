"""OData system query options as BC takes them, and `$filter`/`$orderby` compiled to SQLite.

Pure functions, no HTTP: `parse_query_options` validates a request's options against the entity
type (refusing what BC refuses, with BC's codes and ODL's wording), `compile_filter` and
`order_terms` turn them into SQL over the store's columns. SQL is built only from quoted EDMX
property names; every value a client sends is a bound parameter, in the stored form of `values`.

BC rules kept here (sources in the test module): `or` only between conditions on one field (501
`BadRequest_MethodNotImplemented`), `in` and nested function calls only with `$schemaversion=2.1`,
`eq null` means "blank", and `tolower`/`toupper` make a comparison case-insensitive.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from businesscentral_emulator.odata.filter_parser import (
    SYNTAX_ERROR,
    TOO_DEEP,
    Call,
    Compare,
    FilterSyntaxError,
    Ident,
    In,
    Logical,
    Not,
    Value,
    parse_filter,
)
from businesscentral_emulator.odata.values import empty_value
from businesscentral_emulator.store.sqlite import quote

if TYPE_CHECKING:
    from collections.abc import Mapping

    from businesscentral_emulator.odata.edmx import ApiModel, EntityType, Property
    from businesscentral_emulator.odata.filter_parser import Node

NOT_IMPLEMENTED = "BadRequest_MethodNotImplemented"
OR_ACROSS_FIELDS = "The 'OR' operator is not supported on distinct fields on an OData filter."
NOT_REFUSED = "Client requests that contain 'Not' filter options are not supported."
MAX_EXPAND_DEPTH = 32
# Wordings invented where BC's own text is not public:
_NESTED = "A nested function call in $filter"
_IN = "The 'in' operator in $filter"
_NOT_A_COMPARISON = "A $filter condition must compare a property with a literal value."

_SQL_OPERATOR = {"eq": "=", "ne": "<>", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}
_ODL_KIND = {
    "eq": "Equal",
    "ne": "NotEqual",
    "gt": "GreaterThan",
    "ge": "GreaterThanOrEqual",
    "lt": "LessThan",
    "le": "LessThanOrEqual",
    "in": "In",
}
_MIRROR = {"eq": "eq", "ne": "ne", "gt": "lt", "ge": "le", "lt": "gt", "le": "ge"}
# Below-millisecond datetimes: with `t` the value truncated to ms, `s > v` iff `s > t`, etc.
_INEXACT = {"gt": "gt", "ge": "gt", "lt": "le", "le": "le"}
_LITERAL_EDM = {
    "string": "Edm.String",
    "guid": "Edm.Guid",
    "int": "Edm.Int32",
    "decimal": "Edm.Decimal",
    "bool": "Edm.Boolean",
    "date": "Edm.Date",
    "datetime": "Edm.DateTimeOffset",
    "null": "<null>",
}
_ACCEPTS = {
    "string": {"string"},
    "guid": {"guid"},
    "decimal": {"int", "decimal"},
    "int": {"int", "decimal"},
    "bool": {"bool"},
    "date": {"date"},
    "datetime": {"datetime"},
    "enum": {"string", "enum"},
}
_STRING_FUNCTIONS = frozenset({"contains", "startswith", "endswith"})
_CASE_FUNCTIONS = {"tolower": "lower", "toupper": "upper"}
_OPTIONS = ("$filter", "$select", "$expand", "$orderby", "$top", "$skip")
_EXPAND_ITEM = re.compile(r"\s*(\w+)\s*(?:\((.*)\))?\s*", re.ASCII | re.DOTALL)


class QueryError(Exception):
    """A request BC refuses; `.status` (400 usually), `.code` (BC error code), `.message`."""

    def __init__(self, message: str, code: str = "BadRequest", status: int = 400) -> None:
        """Keep BC's message, error code and HTTP status."""
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status


@dataclass(frozen=True)
class OrderBy:
    """One `$orderby` term."""

    property: str
    descending: bool = False


@dataclass
class QueryOptions:
    """The validated system query options of one request (or of one `$expand` item)."""

    filter: str | None = None
    select: list[str] | None = None
    expand: list[ExpandItem] = field(default_factory=list)
    orderby: list[OrderBy] = field(default_factory=list)
    top: int | None = None
    skip: int | None = None
    schema_version: str = "1.0"


@dataclass
class ExpandItem:
    """A navigation to expand, with the options nested in its parentheses."""

    navigation: str
    options: QueryOptions


def _not_declared(name: str, type_name: str) -> QueryError:
    return QueryError(f"Could not find a property named '{name}' on type '{type_name}'.")


def _incompatible(left: str, right: str, op: str) -> QueryError:
    return QueryError(
        "A binary operator with incompatible types was detected. "
        f"Found operand types '{left}' and '{right}' for operator kind '{_ODL_KIND[op]}'."
    )


def _no_signature(name: str) -> QueryError:
    return QueryError(
        f"No function signature for the function with name '{name}' matches the specified "
        f"arguments. The function signatures considered are: {name}(Edm.String Nullable=true, "
        "Edm.String Nullable=true)."
    )


def _unknown_function(name: str) -> QueryError:
    return QueryError(
        f"An unknown function with name '{name}' was found. This may also be a function import "
        "or a key lookup on a navigation property, which is not allowed."
    )


def _not_boolean() -> QueryError:
    return QueryError("The $filter expression must evaluate to a single boolean value.")


def _needs_v21(what: str) -> QueryError:  # wording invented: BC's own text is not public
    return QueryError(f"{what} requires $schemaversion=2.1 or later.", NOT_IMPLEMENTED, 501)


def supports_v21(schema_version: str) -> bool:
    """Whether `$schemaversion` enables the 2.1 filter features (`in`, nested functions)."""
    parts = schema_version.strip().split(".")
    try:
        return tuple(int(p) for p in parts) >= (2, 1)
    except ValueError:
        return False


def xml_encode_name(text: str) -> str:
    """BC's wire spelling of an option name: `In Review` -> `In_x0020_Review`."""
    return "".join(
        c if c.isascii() and (c.isalnum() or c == "_") else f"_x{ord(c):04X}_" for c in text
    )


@dataclass(frozen=True)
class _Column:
    """The field side of a condition: a column, maybe wrapped in lower()/upper()."""

    prop: Property
    sql: str
    fold: str = ""  # SQL function applied to both sides: "lower", "upper" or ""


@dataclass(frozen=True)
class _Condition:
    sql: str
    params: tuple[Any, ...]
    fields: frozenset[str]


class _Binder:
    """Binds a parsed filter to an entity type and compiles it to a SQL condition."""

    def __init__(
        self,
        entity_type: EntityType,
        schema_version: str,
        namespace: str,
        *,
        allow_not: bool,
        computed: Mapping[str, str] | None = None,
    ) -> None:
        self.entity_type = entity_type
        self.computed = computed or {}
        self.type_name = f"{namespace}.{entity_type.name}"
        self.v21 = supports_v21(schema_version)
        self.allow_not = allow_not

    def bind(self, node: Node) -> _Condition:
        if isinstance(node, Logical):
            return self.logical(node)
        if isinstance(node, Not):
            if not self.allow_not:
                raise QueryError(NOT_REFUSED, NOT_IMPLEMENTED, 501)
            inner = self.bind(node.operand)
            return _Condition(f"NOT COALESCE({inner.sql}, 0)", inner.params, inner.fields)
        if isinstance(node, Compare):
            return self.compare(node)
        if isinstance(node, In):
            return self.member_of(node)
        if isinstance(node, Call):
            return self.function(node)
        if isinstance(node, Ident):
            column = self.column(node)
            if column is None or column.prop.kind != "bool":
                raise _not_boolean()
            return _Condition(f"{column.sql} = 1", (), frozenset({column.prop.name}))
        raise _not_boolean()

    def logical(self, node: Logical) -> _Condition:
        parts = [self.bind(operand) for operand in node.operands]
        fields = frozenset[str]().union(*(p.fields for p in parts))
        if node.op == "or" and len(fields) > 1:
            raise QueryError(OR_ACROSS_FIELDS, NOT_IMPLEMENTED, 501)
        joiner = " OR " if node.op == "or" else " AND "
        sql = "(" + joiner.join(p.sql for p in parts) + ")"
        return _Condition(sql, tuple(v for p in parts for v in p.params), fields)

    def column(self, node: Node) -> _Column | None:
        """The field a node stands for, None for a literal; errors for anything else."""
        if isinstance(node, Value):
            return None
        if isinstance(node, Ident):
            prop = self.entity_type.properties.get(node.name)
            if prop is None:
                if node.name in self.entity_type.navigations:  # wording invented
                    msg = f"Navigation property '{node.name}' cannot be used in $filter."
                    raise QueryError(msg)
                raise _not_declared(node.name, self.type_name)
            if prop.kind in {"json", "stream"}:  # wording invented
                msg = f"Property '{node.name}' of type '{prop.edm_type}' cannot be filtered on."
                raise QueryError(msg)
            sql = (
                f"CAST({quote(prop.name)} AS REAL)" if prop.kind == "decimal" else quote(prop.name)
            )
            return _Column(prop, self.computed.get(prop.name, sql))
        if isinstance(node, Call) and node.name in _CASE_FUNCTIONS:
            inner = self.column(node.args[0]) if len(node.args) == 1 else None
            if inner is None or inner.prop.kind != "string":
                raise _no_signature(node.name)
            if inner.fold and not self.v21:
                raise _needs_v21(_NESTED)
            fold = _CASE_FUNCTIONS[node.name]
            return _Column(inner.prop, f"{fold}({inner.sql})", fold)
        if isinstance(node, Call) and node.name not in _STRING_FUNCTIONS:
            raise _unknown_function(node.name)
        raise QueryError(_NOT_A_COMPARISON)

    def compare(self, node: Compare) -> _Condition:
        left, right = self.column(node.left), self.column(node.right)
        if left is not None and right is None and isinstance(node.right, Value):
            return self.condition(left, node.op, node.right)
        if right is not None and left is None and isinstance(node.left, Value):
            return self.condition(right, _MIRROR[node.op], node.left)
        raise QueryError(_NOT_A_COMPARISON)

    def condition(self, column: _Column, op: str, literal: Value) -> _Condition:
        prop, fields = column.prop, frozenset({column.prop.name})
        if literal.kind == "null":
            if op not in {"eq", "ne"}:
                raise _incompatible(prop.edm_type, "<null>", op)
            # BC has no nulls: `eq null` is its blank filter, the field's empty value.
            blank = _stored_blank(prop)
            if op == "eq":
                return _Condition(f"({column.sql} IS NULL OR {column.sql} = ?)", (blank,), fields)
            return _Condition(f"({column.sql} IS NOT NULL AND {column.sql} <> ?)", (blank,), fields)
        value = self.stored(column, literal, op)
        if prop.kind == "enum" and op not in {"eq", "ne"}:
            return _enum_range(column, op, str(value))
        if literal.inexact:
            if op in {"eq", "ne"}:
                return _Condition("0" if op == "eq" else "1", (), fields)
            op = _INEXACT[op]
        placeholder = f"{column.fold}(?)" if column.fold else "?"
        return _Condition(f"{column.sql} {_SQL_OPERATOR[op]} {placeholder}", (value,), fields)

    def stored(self, column: _Column, literal: Value, op: str) -> Any:  # noqa: ANN401
        """The literal in the column's stored form, after BC's type checks."""
        prop = column.prop
        if literal.kind not in _ACCEPTS.get(prop.kind, set()):
            other = literal.type_name or _LITERAL_EDM[literal.kind]
            raise _incompatible("Edm.String" if column.fold else prop.edm_type, other, op)
        if prop.kind == "enum":
            return _enum_member(prop, literal, op)
        if prop.kind == "bool":
            return 1 if literal.value else 0
        value = literal.value
        if prop.kind == "decimal" or literal.kind == "decimal":
            return float(str(value))
        if isinstance(value, dt.datetime):  # already UTC: the fixed-width stored form
            return value.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"
        if isinstance(value, dt.date):
            return value.isoformat()
        return value

    def member_of(self, node: In) -> _Condition:
        if not self.v21:
            raise _needs_v21(_IN)
        column = self.column(node.operand)
        if column is None:
            raise QueryError(_NOT_A_COMPARISON)
        values: list[Any] = []
        for item in node.items:
            if not isinstance(item, Value) or item.kind == "null":
                msg = "The 'in' operator takes a list of literal values."  # invented
                raise QueryError(msg)
            stored = self.stored(column, item, "in")
            if not item.inexact:  # a below-ms datetime can equal no stored value
                values.append(stored)
        fields = frozenset({column.prop.name})
        if not values:
            return _Condition("0", (), fields)
        placeholder = f"{column.fold}(?)" if column.fold else "?"
        marks = ", ".join([placeholder] * len(values))
        return _Condition(f"{column.sql} IN ({marks})", tuple(values), fields)

    def function(self, node: Call) -> _Condition:
        if node.name not in _STRING_FUNCTIONS:
            raise _not_boolean() if node.name in _CASE_FUNCTIONS else _unknown_function(node.name)
        if len(node.args) != 2:  # noqa: PLR2004 - (field, text)
            raise _no_signature(node.name)
        column, needle = self.column(node.args[0]), node.args[1]
        if column is None or column.prop.kind != "string":
            raise _no_signature(node.name)
        if not isinstance(needle, Value) or needle.kind != "string":
            raise _no_signature(node.name)
        if column.fold and not self.v21:
            raise _needs_v21(_NESTED)
        text = str(needle.value)
        placeholder = f"{column.fold}(?)" if column.fold else "?"
        fields = frozenset({column.prop.name})
        # Case-sensitive as BC's `*x*` filters are: instr/substr, never LIKE.
        if node.name == "contains":
            return _Condition(f"instr({column.sql}, {placeholder}) > 0", (text,), fields)
        if not text:
            return _Condition(f"{column.sql} IS NOT NULL", (), fields)
        start = 1 if node.name == "startswith" else -len(text)
        sql = f"substr({column.sql}, ?, ?) = {placeholder}"
        return _Condition(sql, (start, len(text), text), fields)


def _stored_blank(prop: Property) -> Any:  # noqa: ANN401
    blank = empty_value(prop)
    return float(blank) if prop.kind == "decimal" else blank


def _enum_member(prop: Property, literal: Value, op: str) -> str:
    members = prop.enum.members if prop.enum else ()
    if literal.kind == "enum" and literal.type_name != prop.edm_type:
        raise _incompatible(prop.edm_type, literal.type_name, op)
    text = str(literal.value)
    for candidate in (text, xml_encode_name(text)):
        if candidate in members:
            return candidate
    msg = f"The string '{text}' is not a valid enumeration type constant."
    raise QueryError(msg)


def _enum_range(column: _Column, op: str, member: str) -> _Condition:
    """BC orders enum values by ordinal, not name: compile `gt` etc. to the members that fit."""
    members = column.prop.enum.members if column.prop.enum else ()
    ordinal = members.index(member)
    tests = {"gt": int.__gt__, "ge": int.__ge__, "lt": int.__lt__, "le": int.__le__}[op]
    chosen = tuple(m for i, m in enumerate(members) if tests(i, ordinal))
    fields = frozenset({column.prop.name})
    if not chosen:
        return _Condition("0", (), fields)
    return _Condition(f"{column.sql} IN ({', '.join('?' * len(chosen))})", chosen, fields)


def compile_filter(  # noqa: PLR0913 - the options of one $filter
    text: str,
    entity_type: EntityType,
    schema_version: str = "1.0",
    *,
    namespace: str = "Microsoft.NAV",
    allow_not: bool = True,
    computed: Mapping[str, str] | None = None,
) -> tuple[str, list[Any]]:
    """Compile `$filter` text to a SQL condition over the store's columns.

    Args:
        text: the filter as the client sent it (URL-decoded).
        entity_type: the type whose properties the filter names.
        schema_version: the request's `$schemaversion`; 2.1 enables `in` and nested functions.
        namespace: the EDMX namespace, for messages naming the type.
        allow_not: False refuses `not` as live BC tenants were seen to (see the module notes).
        computed: SQL standing for a property whose served value is not its stored one.

    Returns:
        A SQL boolean expression with `?` placeholders, and its parameters in stored form.

    Raises:
        QueryError: the filter is malformed or refused by BC's rules.
    """
    try:
        tree = parse_filter(text)
    except FilterSyntaxError as exc:
        raise QueryError(str(exc)) from exc
    condition = _Binder(
        entity_type, schema_version, namespace, allow_not=allow_not, computed=computed
    ).bind(tree)
    return condition.sql, list(condition.params)


def order_terms(orderby: list[OrderBy], entity_type: EntityType) -> list[tuple[str, bool]]:
    """SQL sort expressions for `$orderby`: decimals as numbers, enums by ordinal as BC sorts."""
    terms: list[tuple[str, bool]] = []
    for term in orderby:
        prop = entity_type.properties.get(term.property)
        if prop is None:
            raise _not_declared(term.property, f"Microsoft.NAV.{entity_type.name}")
        column = quote(prop.name)
        if prop.kind == "decimal":
            column = f"CAST({column} AS REAL)"
        elif prop.kind == "enum" and prop.enum and prop.enum.members:
            # Member names come from the EDMX, not the client; quoted as SQL strings all the same.
            cases = " ".join(
                "WHEN '" + m.replace("'", "''") + f"' THEN {i}"
                for i, m in enumerate(prop.enum.members)
            )
            column = f"CASE {column} {cases} END"
        terms.append((column, term.descending))
    return terms


def _split_top_level(text: str, separator: str) -> list[str]:
    """Split at `separator` outside parentheses and quoted strings."""
    parts: list[str] = []
    depth, quoted, start = 0, False, 0
    for pos, char in enumerate(text):
        if char == "'":
            quoted = not quoted
        elif quoted:
            continue
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                raise QueryError(SYNTAX_ERROR.format(pos=pos, text=text))
        elif char == separator and depth == 0:
            parts.append(text[start:pos])
            start = pos + 1
    if depth or quoted:
        raise QueryError(SYNTAX_ERROR.format(pos=len(text), text=text))
    parts.append(text[start:])
    return parts


class _OptionParser:
    """Parses and validates the options of one level (the request, or one `$expand` item)."""

    def __init__(self, api: ApiModel, schema_version: str, depth: int, *, allow_not: bool) -> None:
        self.api = api
        self.schema_version = schema_version
        self.depth = depth
        self.allow_not = allow_not

    def parse(self, params: Mapping[str, str], entity_type: EntityType) -> QueryOptions:
        type_name = f"{self.api.namespace}.{entity_type.name}"
        options = QueryOptions(schema_version=self.schema_version)
        text = params.get("$filter")
        if text is not None and text.strip():
            compile_filter(
                text,
                entity_type,
                self.schema_version,
                namespace=self.api.namespace,
                allow_not=self.allow_not,
            )
            options.filter = text
        if params.get("$select") is not None:
            options.select = _select(params["$select"], entity_type, type_name)
        if params.get("$expand"):
            options.expand = self.expand(params["$expand"], entity_type, type_name)
        if params.get("$orderby"):
            options.orderby = _orderby(params["$orderby"], entity_type, type_name)
        options.top = _count("$top", params.get("$top"))
        options.skip = _count("$skip", params.get("$skip"))
        return options

    def expand(self, text: str, entity_type: EntityType, type_name: str) -> list[ExpandItem]:
        if self.depth >= MAX_EXPAND_DEPTH:
            raise QueryError(TOO_DEEP)
        nested = _OptionParser(
            self.api, self.schema_version, self.depth + 1, allow_not=self.allow_not
        )
        items: list[ExpandItem] = []
        for part in _split_top_level(text, ","):
            match = _EXPAND_ITEM.fullmatch(part)
            if match is None:
                msg = f"Syntax error in $expand at '{part.strip()}' in '{text}'."
                raise QueryError(msg)
            name, inner = match.group(1), match.group(2)
            navigation = entity_type.navigations.get(name)
            if navigation is None:
                if name in entity_type.properties:
                    msg = (
                        f"Property '{name}' on type '{type_name}' is not a navigation property "
                        "or complex property. Only navigation properties can be expanded."
                    )
                    raise QueryError(msg)
                raise _not_declared(name, type_name)
            target = self.api.entity_types[navigation.target_type]
            items.append(ExpandItem(name, nested.parse(_nested_params(inner or ""), target)))
        return items


def _nested_params(text: str) -> dict[str, str]:
    """The `;`-separated options inside an `$expand` item's parentheses."""
    params: dict[str, str] = {}
    for part in _split_top_level(text, ";"):
        if not part.strip():
            continue
        key, equals, value = part.partition("=")
        if not equals:
            msg = f"Syntax error in $expand options at '{part.strip()}'."
            raise QueryError(msg)
        if key.strip() in _OPTIONS:
            params[key.strip()] = value
    return params


def _select(text: str, entity_type: EntityType, type_name: str) -> list[str] | None:
    if not text.strip():
        return None
    names: list[str] = []
    for part in text.split(","):
        name = part.strip()
        if not name:
            msg = f"Syntax error in $select at an empty item in '{text}'."
            raise QueryError(msg)
        if name == "*":
            return None
        if name in entity_type.navigations:  # wording invented: BC's is not public
            msg = f"Navigation property '{name}' cannot be selected; use $expand for it."
            raise QueryError(msg)
        if name not in entity_type.properties:
            raise _not_declared(name, type_name)
        if name not in names:
            names.append(name)
    return names or None


def _orderby(text: str, entity_type: EntityType, type_name: str) -> list[OrderBy]:
    terms: list[OrderBy] = []
    for part in text.split(","):
        words = part.split()
        name, *direction = words or [""]
        if not name or direction not in ([], ["asc"], ["desc"]):
            msg = f"Syntax error in $orderby at '{part.strip()}' in '{text}'."
            raise QueryError(msg)
        prop = entity_type.properties.get(name)
        if prop is None:
            raise _not_declared(name, type_name)
        if prop.kind in {"json", "stream"}:
            msg = "The $orderby expression must evaluate to a single value of primitive type."
            raise QueryError(msg)
        terms.append(OrderBy(prop.name, descending=direction == ["desc"]))
    return terms


def _count(option: str, text: str | None) -> int | None:
    if text is None:
        return None
    if not re.fullmatch(r"[0-9]+", text.strip(), re.ASCII):
        msg = (
            f"Invalid value '{text}' for {option} query option found. "
            f"The {option} query option requires a non-negative integer value."
        )
        raise QueryError(msg)
    return int(text)


def parse_query_options(
    params: Mapping[str, str], entity_type: EntityType, api: ApiModel, *, allow_not: bool = True
) -> QueryOptions:
    """Parse and validate a request's system query options as BC does.

    Unknown options are ignored, as BC ignores them; `$skiptoken` and `aid` are the caller's.
    `$expand` options are validated against each navigation's target type, to any depth.

    Raises:
        QueryError: an option is malformed or names something the type does not have.
    """
    schema_version = (params.get("$schemaversion") or "1.0").strip()
    return _OptionParser(api, schema_version, 0, allow_not=allow_not).parse(params, entity_type)
