"""OData query options and `$filter` compiled to SQLite, against the real v2.0 model.

Units check parsing and BC's refusals; the rest run the compiled SQL over an in-memory table built
as the store builds its tables (one column per property, rows in stored form), to prove semantics.

BC facts relied on, with sources:
- `or` across fields: 501 `BadRequest_MethodNotImplemented`, "The 'OR' operator is not supported
  on distinct fields on an OData filter." (MS Learn, odata-known-limitations; status and code as
  reported live in public client code and notes).
- `in` needs `$schemaversion=2.1`, else 501 `BadRequest_MethodNotImplemented` (MS Learn,
  use-filter-expressions-in-odata-uris; status measured live per public client code).
- `eq null` on a text field matches blank values (public client code, measured live).
"""

# The SQL under test is built from compile_filter's output, which is what these tests check.
# ruff: noqa: S608

from __future__ import annotations

import sqlite3
from typing import Any

import pytest
from businesscentral_emulator.odata.edmx import EntityType, standard_api
from businesscentral_emulator.odata.query import (
    NOT_IMPLEMENTED,
    OR_ACROSS_FIELDS,
    OrderBy,
    QueryError,
    compile_filter,
    order_terms,
    parse_query_options,
)
from businesscentral_emulator.odata.values import SQL_TYPE, empty_value
from businesscentral_emulator.store.sqlite import quote

API = standard_api()
CUSTOMER = API.entity_types["customer"]
INVOICE = API.entity_types["salesInvoice"]
GUID_1 = "5d115c9c-44e3-ea11-bb43-000d3a2feca1"

CUSTOMERS: list[dict[str, Any]] = [
    {
        "id": GUID_1,
        "number": "10000",
        "displayName": "O'Brien Ltd",
        "type": "Company",
        "city": "Miami",
        "balanceDue": "1000.5",
        "taxLiable": 1,
        "blocked": "_x0020_",
        "lastModifiedDateTime": "2019-08-18T20:05:51.603Z",
    },
    {
        "number": "20000",
        "displayName": "Adatum",
        "type": "Person",
        "balanceDue": "99.99",
        "blocked": "Ship",
        "lastModifiedDateTime": "2019-08-18T20:05:51.604Z",
    },
    {
        "number": "30000",
        "displayName": "x' or 1 eq 1",
        "city": "Miami",
        "balanceDue": "-5",
        "blocked": "All",
        "lastModifiedDateTime": "2020-01-01T00:00:00.000Z",
    },
    {
        "number": "40000",
        "displayName": "adatum lower",
        "city": "Oslo",
        "balanceDue": "1000.05",
        "blocked": "Invoice",
        "lastModifiedDateTime": "2019-08-18T18:05:51.603Z",
    },
]
INVOICES: list[dict[str, Any]] = [
    {"number": "S1", "invoiceDate": "2019-04-30", "status": "Draft"},
    {"number": "S2", "invoiceDate": "2019-05-01", "status": "Open"},
    {"number": "S3", "invoiceDate": "2019-05-02", "status": "In_x0020_Review"},
]


def make_db(entity_type: EntityType, rows: list[dict[str, Any]]) -> sqlite3.Connection:
    props = entity_type.properties.values()
    db = sqlite3.connect(":memory:")
    columns = ", ".join(f"{quote(p.name)} {SQL_TYPE[p.kind]}" for p in props)
    db.execute(f"CREATE TABLE t (_rowid INTEGER PRIMARY KEY, {columns})")
    names = [p.name for p in props]
    marks = ", ".join("?" * len(names))
    db.executemany(
        f"INSERT INTO t ({', '.join(quote(n) for n in names)}) VALUES ({marks})",
        [[row.get(p.name, empty_value(p)) for p in props] for row in rows],
    )
    return db


@pytest.fixture(scope="module")
def customers():
    db = make_db(CUSTOMER, CUSTOMERS)
    yield db
    db.close()


@pytest.fixture(scope="module")
def invoices():
    db = make_db(INVOICE, INVOICES)
    yield db
    db.close()


def numbers(db, entity_type, text, schema_version="1.0"):
    where, params = compile_filter(text, entity_type, schema_version)
    rows = db.execute(f"SELECT number FROM t WHERE {where} ORDER BY _rowid", params)
    return [n for (n,) in rows]


def refused(text, entity_type=CUSTOMER, schema_version="1.0") -> QueryError:
    with pytest.raises(QueryError) as caught:
        compile_filter(text, entity_type, schema_version)
    return caught.value


# --- semantics, executed -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("displayName eq 'O''Brien Ltd'", ["10000"]),
        ("displayName eq 'x'' or 1 eq 1'", ["30000"]),  # the quote is data, not SQL or OData
        ("displayName eq 'x' or 1 eq 1'", None),
        ("contains(displayName,'''')", ["10000", "30000"]),
        ("number ne '10000'", ["20000", "30000", "40000"]),
        ("'20000' eq number", ["20000"]),
        ("number ge '30000'", ["30000", "40000"]),
        ("'30000' lt number", ["40000"]),
    ],
)
def test_strings_and_escaping(customers, text, expected):
    if expected is None:
        assert refused(text).status == 400
    else:
        assert numbers(customers, CUSTOMER, text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("contains(displayName,'datum')", ["20000", "40000"]),
        ("contains(displayName,'Adatum')", ["20000"]),  # case-sensitive, as BC's *x* filters
        ("startswith(displayName,'O''B')", ["10000"]),
        ("startswith(displayName,'o''b')", []),
        ("endswith(displayName,'lower')", ["40000"]),
        ("endswith(displayName,'Ltd')", ["10000"]),
        ("endswith(displayName,'')", ["10000", "20000", "30000", "40000"]),
        ("contains(displayName,'%') or contains(displayName,'_')", []),  # no LIKE wildcards
        ("tolower(displayName) eq 'ADATUM'", ["20000"]),  # tolower: case-insensitive in BC
        ("toupper(displayName) eq 'adatum'", ["20000"]),
    ],
)
def test_string_functions(customers, text, expected):
    assert numbers(customers, CUSTOMER, text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("lastModifiedDateTime gt 2019-08-18T20:05:51.603Z", ["20000", "30000"]),
        ("lastModifiedDateTime eq 2019-08-18T20:05:51.603Z", ["10000"]),
        ("lastModifiedDateTime eq 2019-08-18T20:05:51.6030000Z", ["10000"]),
        ("lastModifiedDateTime eq 2019-08-18T22:05:51.603+02:00", ["10000"]),
        ("lastModifiedDateTime eq 2019-08-18T15:05:51.603-05:00", ["10000"]),
        ("lastModifiedDateTime le 2019-08-18T20:05:51Z", ["40000"]),
        ("lastModifiedDateTime lt 2019-08-18T20:06Z", ["10000", "20000", "40000"]),
        # Below the stored millisecond: exact order semantics, never a false equality.
        ("lastModifiedDateTime ge 2019-08-18T20:05:51.6035Z", ["20000", "30000"]),
        ("lastModifiedDateTime gt 2019-08-18T20:05:51.6035Z", ["20000", "30000"]),
        ("lastModifiedDateTime lt 2019-08-18T20:05:51.6035Z", ["10000", "40000"]),
        ("lastModifiedDateTime le 2019-08-18T20:05:51.6035Z", ["10000", "40000"]),
        ("lastModifiedDateTime eq 2019-08-18T20:05:51.6035Z", []),
        ("lastModifiedDateTime ne 2019-08-18T20:05:51.6035Z", ["10000", "20000", "30000", "40000"]),
    ],
)
def test_datetimes(customers, text, expected):
    assert numbers(customers, CUSTOMER, text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("invoiceDate eq 2019-05-01", ["S2"]),
        ("invoiceDate ge 2019-05-01", ["S2", "S3"]),
        ("invoiceDate lt 2019-05-01", ["S1"]),
        ("status eq 'Draft'", ["S1"]),
        ("status eq Microsoft.NAV.invoiceEntityAggregateStatus'Open'", ["S2"]),
        ("status eq 'In_x0020_Review'", ["S3"]),
        ("status eq 'In Review'", ["S3"]),  # BC's encoded spelling, or the plain one
        ("status ne 'Draft'", ["S2", "S3"]),
        ("status gt 'Draft'", ["S2", "S3"]),  # by ordinal: In Review (2) and Open (3)
        ("status lt 'Open'", ["S1", "S3"]),
        ("status le '_x0020_'", []),
    ],
)
def test_dates_and_enums(invoices, text, expected):
    assert numbers(invoices, INVOICE, text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"id eq {GUID_1}", ["10000"]),
        (f"id eq {GUID_1.upper()}", ["10000"]),
        ("id ne 00000000-0000-0000-0000-000000000000", ["10000"]),
        ("balanceDue gt 1000.1", ["10000"]),
        ("balanceDue eq 1000.50", ["10000"]),
        ("balanceDue ge 100", ["10000", "40000"]),  # numeric, not text, order
        ("balanceDue lt 0", ["30000"]),
        ("balanceDue gt -5.5 and balanceDue lt 100", ["20000", "30000"]),
        ("taxLiable eq true", ["10000"]),
        ("taxLiable eq false", ["20000", "30000", "40000"]),
        ("taxLiable", ["10000"]),
        ("blocked eq ' '", ["10000"]),
        ("blocked gt 'Ship'", ["30000", "40000"]),
        ("type eq 'Person'", ["20000"]),
        ("city eq null", ["20000"]),  # BC has no nulls: `eq null` is the blank filter
        ("city ne null", ["10000", "30000", "40000"]),
    ],
)
def test_guids_numbers_bools_enums_blanks(customers, text, expected):
    assert numbers(customers, CUSTOMER, text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("city eq 'Miami' and balanceDue gt 0", ["10000"]),
        ("number eq '10000' or number eq '30000'", ["10000", "30000"]),
        (
            "(number ge '20000' and number le '30000') or number eq '40000'",
            ["20000", "30000", "40000"],
        ),
        ("city eq 'Oslo' and (number eq '10000' or number eq '40000')", ["40000"]),
        (
            "contains(displayName,'datum') or startswith(displayName,'O')",
            ["10000", "20000", "40000"],
        ),
        ("not (city eq 'Miami')", ["20000", "40000"]),
        ("not contains(displayName,'datum')", ["10000", "30000"]),
        ("not (number eq '10000' or number eq '20000') and city ne ''", ["30000", "40000"]),
    ],
)
def test_logic(customers, text, expected):
    assert numbers(customers, CUSTOMER, text) == expected


def test_or_across_fields_is_refused_as_bc_does():
    for text in (
        "number eq '10000' or city eq 'Miami'",
        "(number eq '1' and city eq 'x') or number eq '2'",
        "city eq 'Oslo' and (number eq '10000' or balanceDue gt 0)",
        (
            "lastModifiedDateTime gt 2019-01-01T00:00:00Z or (lastModifiedDateTime eq "
            "2019-01-01T00:00:00Z and id gt 00000000-0000-0000-0000-000000000000)"
        ),
    ):
        error = refused(text)
        assert (error.status, error.code, error.message) == (501, NOT_IMPLEMENTED, OR_ACROSS_FIELDS)


def test_in_needs_schema_version_2_1(customers):
    text = "number in ('10000', '30000')"
    assert numbers(customers, CUSTOMER, text, "2.1") == ["10000", "30000"]
    assert numbers(customers, CUSTOMER, "balanceDue in (1000.5, -5)", "2.1") == ["10000", "30000"]
    assert numbers(customers, CUSTOMER, "blocked in ('Ship', 'All')", "2.1") == ["20000", "30000"]
    error = refused(text)
    assert (error.status, error.code) == (501, NOT_IMPLEMENTED)
    assert "$schemaversion=2.1" in error.message


def test_nested_functions_need_schema_version_2_1(customers):
    text = "contains(tolower(displayName),'adatum')"
    assert numbers(customers, CUSTOMER, text, "2.1") == ["20000", "40000"]
    assert refused(text).status == 501


def test_not_can_be_refused_as_live_tenants_do():
    with pytest.raises(QueryError) as caught:
        compile_filter("not (city eq 'Miami')", CUSTOMER, allow_not=False)
    assert (caught.value.status, caught.value.code) == (501, NOT_IMPLEMENTED)


def test_long_or_chains_and_deep_nesting():
    chain = " or ".join(f"number eq '{n}'" for n in range(3000))
    where, params = compile_filter(chain, CUSTOMER)
    assert len(params) == 3000
    assert where.count("OR") == 2999
    deep = "(" * 500 + "number eq '1'" + ")" * 500
    assert refused(deep).message == "Recursion depth exceeded allowed limit."


def test_values_are_always_parameters():
    where, params = compile_filter("displayName eq 'a\"b'' --'", CUSTOMER)
    assert where == '"displayName" = ?'
    assert params == ["a\"b' --"]


# --- refusals and their wording ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("nope eq 1", "Could not find a property named 'nope' on type 'Microsoft.NAV.customer'."),
        (
            "lastModifiedDateTime gt '2019-01-01'",
            (
                "A binary operator with incompatible types was detected. Found operand types "
                "'Edm.DateTimeOffset' and 'Edm.String' for operator kind 'GreaterThan'."
            ),
        ),
        (
            "id eq 'abc'",
            (
                "A binary operator with incompatible types was detected. Found operand types "
                "'Edm.Guid' and 'Edm.String' for operator kind 'Equal'."
            ),
        ),
        (
            "number eq 10000",
            (
                "A binary operator with incompatible types was detected. Found operand types "
                "'Edm.String' and 'Edm.Int32' for operator kind 'Equal'."
            ),
        ),
        ("blocked eq 'Nope'", "The string 'Nope' is not a valid enumeration type constant."),
        (
            "number eq 'x",
            "There is an unterminated string literal at position 10 in 'number eq 'x'.",
        ),
        ("number eq", "Expression expected at position 9 in 'number eq'."),
        ("(number eq '1'", "')' or operator expected at position 14 in '(number eq '1''."),
        ("number eq '1' city", "')' or operator expected at position 14 in 'number eq '1' city'."),
        ("id eq 5d115c9c-44e3", "Syntax error at position 6 in 'id eq 5d115c9c-44e3'."),
        (
            "number eq '1' & x",
            "Syntax error: character '&' is not valid at position 14 in 'number eq '1' & x'.",
        ),
        ("contains(number,'1'", "')' or ',' expected at position 19 in 'contains(number,'1''."),
        (
            "lastModifiedDateTime gt 2019-13-01T00:00:00Z",
            (
                "Unrecognized 'Edm.DateTimeOffset' literal '2019-13-01T00:00:00Z' at '24' in "
                "'lastModifiedDateTime gt 2019-13-01T00:00:00Z'."
            ),
        ),
        ("contains(balanceDue,'1')", None),
        ("contains(number, 1)", None),
        ("number eq city", None),
        ("1 eq 1", None),
        ("number", "The $filter expression must evaluate to a single boolean value."),
        ("length(number) eq 1", None),
        ("currency eq null", None),
        ("balanceDue gt null", None),
    ],
)
def test_filter_refusals(text, message):
    error = refused(text)
    assert (error.status, error.code) == (400, "BadRequest")
    if message is not None:
        assert error.message == message


def test_enum_literal_of_another_type_is_refused():
    error = refused("blocked eq Microsoft.NAV.contactType'Company'")
    assert "incompatible types" in error.message


# --- system query options ------------------------------------------------------------------------


def options(params, entity_type=INVOICE):
    return parse_query_options(params, entity_type, API)


def test_options_defaults_and_unknown_options_ignored():
    parsed = options({"$count": "true", "foo": "bar", "$skiptoken": "x", "aid": "FIN"})
    assert parsed.filter is None
    assert parsed.select is None
    assert parsed.expand == []
    assert parsed.orderby == []
    assert (parsed.top, parsed.skip, parsed.schema_version) == (None, None, "1.0")


def test_options_parsed():
    parsed = options(
        {
            "$filter": "status eq 'Open'",
            "$select": "id, number,number",
            "$orderby": "invoiceDate desc, number asc,totalAmountIncludingTax",
            "$top": "10",
            "$skip": "0",
            "$schemaversion": "2.1",
        }
    )
    assert parsed.filter == "status eq 'Open'"
    assert parsed.select == ["id", "number"]
    assert parsed.orderby == [
        OrderBy("invoiceDate", descending=True),
        OrderBy("number"),
        OrderBy("totalAmountIncludingTax"),
    ]
    assert (parsed.top, parsed.skip, parsed.schema_version) == (10, 0, "2.1")
    assert options({"$select": "*"}).select is None


def test_nested_expand():
    parsed = options(
        {
            "$expand": (
                "salesInvoiceLines($select=id,description;$filter=description eq 'a;b,(c)';"
                "$expand=dimensionSetLines($select=code;$top=1);$orderby=sequence desc;"
                "$top=5;$skip=2), customer"
            ),
            "$schemaversion": "2.1",
        }
    )
    lines, customer = parsed.expand
    assert lines.navigation == "salesInvoiceLines"
    assert lines.options.select == ["id", "description"]
    assert lines.options.filter == "description eq 'a;b,(c)'"
    assert lines.options.orderby == [OrderBy("sequence", descending=True)]
    assert (lines.options.top, lines.options.skip, lines.options.schema_version) == (5, 2, "2.1")
    (dimensions,) = lines.options.expand
    assert dimensions.navigation == "dimensionSetLines"
    assert (dimensions.options.select, dimensions.options.top) == (["code"], 1)
    assert customer.navigation == "customer"
    assert customer.options.select is None


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"$select": "nope"},
            "Could not find a property named 'nope' on type 'Microsoft.NAV.salesInvoice'.",
        ),
        ({"$select": "customer"}, None),
        ({"$select": "id,,number"}, None),
        (
            {"$orderby": "nope"},
            "Could not find a property named 'nope' on type 'Microsoft.NAV.salesInvoice'.",
        ),
        ({"$orderby": "number up"}, None),
        ({"$orderby": "number desc extra"}, None),
        (
            {"$expand": "nope"},
            "Could not find a property named 'nope' on type 'Microsoft.NAV.salesInvoice'.",
        ),
        (
            {"$expand": "number"},
            (
                "Property 'number' on type 'Microsoft.NAV.salesInvoice' is not a navigation "
                "property or complex property. Only navigation properties can be expanded."
            ),
        ),
        (
            {"$expand": "salesInvoiceLines($select=nope)"},
            "Could not find a property named 'nope' on type 'Microsoft.NAV.salesInvoiceLine'.",
        ),
        (
            {"$expand": "salesInvoiceLines($expand=item($filter=nope eq 1))"},
            "Could not find a property named 'nope' on type 'Microsoft.NAV.item'.",
        ),
        ({"$expand": "salesInvoiceLines($select=id"}, None),
        ({"$expand": "salesInvoiceLines)"}, None),
        ({"$expand": "salesInvoiceLines($top)"}, None),
        ({"$expand": "salesInvoiceLines($filter=description in ('a'))"}, None),  # 1.0: 501
        ({"$filter": "number eq '1' or status eq 'Open'"}, OR_ACROSS_FIELDS),
        (
            {"$filter": "nope eq 1"},
            "Could not find a property named 'nope' on type 'Microsoft.NAV.salesInvoice'.",
        ),
        (
            {"$top": "-1"},
            (
                "Invalid value '-1' for $top query option found. "
                "The $top query option requires a non-negative integer value."
            ),
        ),
        ({"$skip": "x"}, None),
        ({"$top": ""}, None),
    ],
)
def test_option_refusals(params, message):
    with pytest.raises(QueryError) as caught:
        options(params)
    assert caught.value.status in {400, 501}
    if message is not None:
        assert caught.value.message == message


def test_expand_depth_is_bounded():
    text = "salesInvoiceLines($expand=salesInvoice($expand=" * 40 + "customer" + "))" * 40
    with pytest.raises(QueryError):
        options({"$expand": text})


def test_order_terms_sort_as_bc_does(customers, invoices):
    def ordered(db, entity_type, orderby):
        terms = order_terms(orderby, entity_type)
        clause = ", ".join(f"{sql} {'DESC' if desc else 'ASC'}" for sql, desc in terms)
        return [n for (n,) in db.execute(f"SELECT number FROM t ORDER BY {clause}")]

    # Decimals by value ('99.99' sorts after '1000.5' as text), enums by ordinal, not name.
    assert ordered(customers, CUSTOMER, [OrderBy("balanceDue")]) == [
        "30000",
        "20000",
        "40000",
        "10000",
    ]
    assert ordered(customers, CUSTOMER, [OrderBy("blocked", descending=True)]) == [
        "30000",
        "40000",
        "20000",
        "10000",
    ]
    assert ordered(customers, CUSTOMER, [OrderBy("city"), OrderBy("number", descending=True)]) == [
        "20000",
        "30000",
        "10000",
        "40000",
    ]
    assert ordered(invoices, INVOICE, [OrderBy("status")]) == ["S1", "S3", "S2"]
    with pytest.raises(QueryError):
        order_terms([OrderBy("nope")], CUSTOMER)
