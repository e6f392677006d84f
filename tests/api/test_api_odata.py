"""OData literals, query encoding, URLs and BC error bodies."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import uuid
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from businesscentral_api.errors import BusinessCentralError, ConfigurationError
from businesscentral_api.odata import (
    ApiRoute,
    UrlBuilder,
    and_,
    decode_enum_name,
    encode_enum_name,
    encode_query,
    error_from_response,
    filter_expr,
    guid_literal,
    literal,
    split_correlation_id,
    string_literal,
    with_query,
)
from tests_support import BC_API_FIXTURES

GUID = "f2a5e4b1-0000-4c6d-8e7f-9a0b1c2d3e4f"


def _tokens(expression: str) -> list[str]:
    """Split a filter into tokens the way an OData lexer does: quoted strings are one token."""
    tokens, i = [], 0
    while i < len(expression):
        if expression[i] == " ":
            i += 1
        elif expression[i] == "'":
            j = i + 1
            while True:
                if expression[j] == "'" and expression[j + 1 : j + 2] == "'":
                    j += 2
                elif expression[j] == "'":
                    break
                else:
                    j += 1
            tokens.append(expression[i : j + 1])
            i = j + 1
        else:
            j = i
            while j < len(expression) and expression[j] not in " '":
                j += 1
            tokens.append(expression[i:j])
            i = j
    return tokens


@pytest.mark.parametrize("value", ["O'Brien", "x' or 1 eq 1", "'", "''", "a'') or (true", "ü ' €"])
def test_string_literal_cannot_change_a_filters_meaning(value):
    expression = filter_expr("displayName", "eq", value)
    # Exactly three tokens: field, operator, one string literal whose content is the value.
    field, operator, quoted = _tokens(expression)
    assert (field, operator) == ("displayName", "eq")
    assert quoted[1:-1].replace("''", "'") == value


def test_literals_by_type():
    assert string_literal("O'Brien") == "'O''Brien'"
    assert literal(uuid.UUID(GUID)) == GUID
    assert guid_literal(GUID.upper()) == GUID
    assert literal(dt.date(2019, 5, 1)) == "2019-05-01"
    assert literal(dt.datetime(2019, 8, 18, 20, 5, 51, 603000, tzinfo=dt.timezone.utc)) == (
        "2019-08-18T20:05:51.603Z"
    )
    plus_two = dt.timezone(dt.timedelta(hours=2))
    assert literal(dt.datetime(2020, 1, 1, 2, 0, tzinfo=plus_two)) == "2020-01-01T00:00:00Z"
    assert literal(decimal.Decimal("1E+2")) == "100"
    assert literal(decimal.Decimal("0.10")) == "0.10"
    assert literal(True) == "true"
    assert literal(None) == "null"
    assert literal(7) == "7"


def test_literals_refuse_what_bc_would_misread():
    with pytest.raises(ValueError, match="time zone"):
        literal(dt.datetime(2020, 1, 1))  # noqa: DTZ001
    with pytest.raises(ValueError, match=r"GUID|hexadecimal|badly formed"):
        guid_literal("x' or 1 eq 1")
    with pytest.raises(ValueError, match="not a property"):
        filter_expr("name eq 'a' or id", "eq", "x")
    with pytest.raises(ValueError, match="operator"):
        filter_expr("name", "eq 'a' or name eq", "x")
    with pytest.raises(TypeError):
        literal(object())


def test_enum_wire_names_round_trip():
    assert encode_enum_name("G/L Account") == "G_x002F_L_x0020_Account"
    assert decode_enum_name("In_x0020_Review") == "In Review"
    assert decode_enum_name(encode_enum_name(" ")) == " "


def test_query_encoding_keeps_dollar_and_uses_percent20():
    query = encode_query({"$filter": filter_expr("displayName", "eq", "x' or 1 eq 1"), "$top": 5})
    assert query.startswith("$filter=displayName%20eq%20'x''%20or%201%20eq%201'&$top=5")
    assert "+" not in query
    # A server that percent-decodes gets the filter back unchanged.
    assert unquote(query.split("&")[0].split("=", 1)[1]) == "displayName eq 'x'' or 1 eq 1'"
    tricky = encode_query({"$filter": filter_expr("name", "eq", "a&b=c#d+e%f")})
    assert parse_qs(tricky)["$filter"] == ["name eq 'a&b=c#d+e%f'"]


def test_and_parenthesises_each_condition():
    joined = and_(filter_expr("a", "eq", "x' or b eq 'y"), filter_expr("c", "gt", 1))
    assert joined == "(a eq 'x'' or b eq ''y') and (c gt 1)"


def test_with_query_appends_to_existing_query():
    assert with_query("https://h/x", None) == "https://h/x"
    assert with_query("https://h/x?a=1", {"$top": 1}) == "https://h/x?a=1&$top=1"


def test_online_urls():
    urls = UrlBuilder(api_url="https://api.businesscentral.dynamics.com/", tenant="contoso.com")
    root = "https://api.businesscentral.dynamics.com/v2.0/contoso.com/production/api/v2.0"
    assert urls.api_root() == root
    assert urls.metadata_url() == f"{root}/$metadata"
    assert urls.batch_url() == f"{root}/$batch"
    assert urls.companies_url() == f"{root}/companies"
    assert urls.entity_set_url("customers", GUID) == f"{root}/companies({GUID})/customers"
    assert urls.entity_url("customers", GUID.upper(), GUID) == (
        f"{root}/companies({GUID})/customers({GUID})"
    )
    assert urls.entity_url("subscriptions", "O'x y") == f"{root}/subscriptions('O''x%20y')"
    assert urls.action_url("salesInvoices", GUID, "post", GUID) == (
        f"{root}/companies({GUID})/salesInvoices({GUID})/Microsoft.NAV.post"
    )
    custom = ApiRoute.parse("contoso/sales/v1.0")
    assert urls.entity_set_url("customers", GUID, custom) == (
        "https://api.businesscentral.dynamics.com/v2.0/contoso.com/production"
        f"/api/contoso/sales/v1.0/companies({GUID})/customers"
    )
    assert urls.environments_url == "https://api.businesscentral.dynamics.com/environments/v1.1"
    assert (
        urls.with_tenant(GUID)
        .api_root()
        .startswith(f"https://api.businesscentral.dynamics.com/v2.0/{GUID}/")
    )


def test_on_premises_urls():
    urls = UrlBuilder(base_url="https://bc.local:7048/BC/api/v2.0/")
    assert urls.companies_url() == "https://bc.local:7048/BC/api/v2.0/companies"
    assert urls.api_root(ApiRoute.parse("contoso/sales/v1.0")) == (
        "https://bc.local:7048/BC/api/contoso/sales/v1.0"
    )
    with pytest.raises(ConfigurationError, match="base_url"):
        _ = UrlBuilder(base_url="https://bc.local:7048/BC").api_root(ApiRoute.parse("a/b/v1.0"))


def test_url_builder_refuses_injection_in_names():
    urls = UrlBuilder(tenant="t")
    with pytest.raises(ValueError, match="OData name"):
        urls.entity_set_url("customers?$filter=x")
    with pytest.raises(ValueError, match=r"GUID|hexadecimal|badly formed"):
        urls.company_url("x) or (1")
    with pytest.raises(ConfigurationError, match="custom_apis"):
        ApiRoute.parse("a/b")
    with pytest.raises(ConfigurationError, match="tenant_id"):
        UrlBuilder()


def test_correlation_id_is_split_from_the_message():
    message, correlation = split_correlation_id(
        "Another user has already changed the record.  CorrelationId:  "
        "2c074c12-1644-4f2c-befb-efd681f5a595."
    )
    assert message == "Another user has already changed the record."
    assert correlation == "2c074c12-1644-4f2c-befb-efd681f5a595"
    assert split_correlation_id("no id here") == ("no id here", None)


def test_every_real_error_body_becomes_a_complete_exception():
    errors = json.loads((BC_API_FIXTURES / "errors.json").read_text())
    seen = 0
    for name, case in errors.items():
        if not isinstance(case, dict) or "body" not in case or case["body"] is None:
            continue
        error = error_from_response(
            case["status"], json.dumps(case["body"]).encode(), method="GET", url="https://h/x"
        )
        assert isinstance(error, BusinessCentralError), name
        assert error.status == case["status"]
        assert error.code == case["body"]["error"]["code"]
        assert "CorrelationId" not in error.message
        assert error.code in str(error)
        if "CorrelationId:  " in case["body"]["error"]["message"]:
            assert error.correlation_id is not None
            assert error.correlation_id in str(error)
        seen += 1
    assert seen >= 5


def test_non_json_error_bodies_keep_a_readable_message():
    error = error_from_response(502, b"<html>Bad gateway</html>\n<p>", url="https://h")
    assert error.status == 502
    assert error.code is None
    assert error.message == "<html>Bad gateway</html>"
    assert error_from_response(503, b"").message
    assert urlsplit("https://h").hostname == "h"
