"""The real EDMX: every entity set parsed and every generated schema valid JSON Schema."""

from __future__ import annotations

import decimal
from pathlib import Path

import jsonschema
import pytest
from businesscentral_api.jsonutil import dump_json, parse_json
from businesscentral_api.metadata import ServiceModel, parse_edmx
from tests_support import BC_API_FIXTURES


@pytest.fixture(scope="module")
def model() -> ServiceModel:
    return parse_edmx((BC_API_FIXTURES / "metadata-v2.0.xml").read_bytes())


def _tsv() -> list[dict[str, str]]:
    lines = (BC_API_FIXTURES / "entity-sets.tsv").read_text().splitlines()
    header = lines[0].split("\t")
    return [dict(zip(header, line.split("\t"), strict=True)) for line in lines[1:]]


def test_all_87_entity_sets_match_the_derived_table(model):
    rows = _tsv()
    assert len(model.entity_sets) == len(rows) == 87
    for row in rows:
        entity_set = model.entity_set(row["entitySet"])
        assert entity_set.entity_type.name == row["entityType"]
        assert ",".join(entity_set.key) == row["key"]
        operations = {"GET"}
        operations |= {"POST"} if entity_set.insertable else set()
        operations |= {"PATCH"} if entity_set.updatable else set()
        operations |= {"DELETE"} if entity_set.deletable else set()
        assert operations == set(row["operations"].split(",")), row["entitySet"]
        navs = {n.name for n in entity_set.navigations.values() if n.is_collection}
        expected_navs = (
            set()
            if row["collectionNavigations"] == "-"
            else set(row["collectionNavigations"].split(","))
        )
        assert navs == expected_navs, row["entitySet"]
        actions = (
            set()
            if row["boundActions"] == "-"
            else {a.removeprefix("Microsoft.NAV.") for a in row["boundActions"].split(",")}
        )
        assert set(entity_set.bound_actions) == actions, row["entitySet"]


def test_every_schema_is_valid_json_schema(model):
    for name in model.entity_sets:
        schema = model.json_schema(name)
        jsonschema.Draft202012Validator.check_schema(schema)
        jsonschema.Draft7Validator.check_schema(schema)
        assert schema["properties"], name


def test_property_details(model):
    customer = model.entity_set("customers")
    assert customer.properties["id"].nullable is False
    assert customer.properties["displayName"].max_length == 100
    assert customer.properties["blocked"].enum is not None
    assert customer.navigations["customerFinancialDetail"].is_collection is False
    assert customer.navigations["defaultDimensions"].is_collection is True
    assert model.entity_set("accounts").read_only
    assert model.entity_set("companies").read_only
    assert model.entity_set("salesInvoices").sortable
    pictures = model.entity_set("pictures") if "pictures" in model.entity_sets else None
    if pictures is not None:
        assert any(p.is_stream for p in pictures.properties.values())


def test_schema_formats_enums_decimals_and_nullability(model):
    schema = model.json_schema("customers")["properties"]
    assert schema["id"] == {"type": "string", "format": "uuid"}
    assert schema["lastModifiedDateTime"] == {"type": ["string", "null"], "format": "date-time"}
    assert schema["displayName"] == {"type": "string", "maxLength": 100}
    assert schema["balanceDue"] == {"type": ["number", "null"]}
    assert schema["blocked"]["type"] == ["string", "null"]
    assert "_x0020_" in schema["blocked"]["enum"]
    assert None in schema["blocked"]["enum"]
    invoice = model.json_schema("salesInvoices")["properties"]
    assert invoice["invoiceDate"]["format"] == "date"
    assert "pictureContent" not in model.json_schema("pictures")["properties"]


def test_expanded_navigation_schema(model):
    schema = model.json_schema("salesOrders", expand=["salesOrderLines", "customer"])
    lines = schema["properties"]["salesOrderLines"]
    assert lines["type"] == ["array", "null"]
    assert "lineType" in lines["items"]["properties"]
    assert schema["properties"]["customer"]["type"] == ["object", "null"]
    jsonschema.Draft202012Validator.check_schema(schema)
    with pytest.raises(KeyError, match="nothing"):
        model.json_schema("salesOrders", expand=["nothing"])


def test_real_responses_validate_against_their_schemas(model):
    checks = {
        "companies.json": ("companies", []),
        "salesOrders.json": ("salesOrders", ["customer", "salesOrderLines"]),
    }
    for file_name, (entity_set, expand) in checks.items():
        document = parse_json((BC_API_FIXTURES / "responses" / file_name).read_bytes())
        validator = jsonschema.Draft202012Validator(
            model.json_schema(entity_set, expand=expand),
            format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
        )
        for record in document["value"]:
            validator.validate(record)
    customer = parse_json((BC_API_FIXTURES / "responses" / "customer.json").read_bytes())
    jsonschema.Draft202012Validator(model.json_schema("customers")).validate(customer)


def test_decimals_are_parsed_and_written_without_float_loss():
    document = parse_json(b'{"amount": 0.1, "big": 12345678901234567.89, "n": 3}')
    assert document["amount"] == decimal.Decimal("0.1")
    assert document["big"] == decimal.Decimal("12345678901234567.89")
    assert type(document["n"]) is int
    assert dump_json({"amount": decimal.Decimal("0.10")}) == b'{"amount":0.10}'
    with pytest.raises(ValueError, match=r"."):
        parse_json(b'{"value": [1, 2')


def test_edmx_parsing_is_safe_and_strict():
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>'
        b'<edmx:Edmx xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">&b;</edmx:Edmx>'
    )
    with pytest.raises(Exception, match=r"(?i)entit|forbidden"):
        parse_edmx(bomb)
    with pytest.raises(ValueError, match="XML"):
        parse_edmx(b"not xml")
    with pytest.raises(ValueError, match="Schema"):
        parse_edmx(b'<edmx:Edmx xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx"/>')


def test_custom_api_edmx_from_the_emulator_package():
    path = (
        Path(__file__).resolve().parents[2]
        / "businesscentral-emulator"
        / "businesscentral_emulator"
    )
    custom = path / "data" / "custom-contoso-sales-v1.0.xml"
    if not custom.is_file():
        pytest.skip("the emulator ships no custom API EDMX yet")
    model = parse_edmx(custom.read_bytes())
    assert model.entity_sets
    for name in model.entity_sets:
        jsonschema.Draft202012Validator.check_schema(model.json_schema(name))
