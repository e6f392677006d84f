"""The Airbyte layer's translations, without BC: spec, config, records, deletes, state."""

from __future__ import annotations

import decimal
import json
import subprocess
import sys

import jsonschema
import pytest
from airbyte_protocol.models import AirbyteMessage, AirbyteRecordMessage, Type
from businesscentral_api.errors import ConfigurationError
from singer_sdk.singerlib.encoding.simple import (
    ActivateVersionMessage,
    RecordMessage,
    SchemaMessage,
    StateMessage,
)
from tap_businesscentral.airbyte.catalog import airbyte_schema, parse_state
from tap_businesscentral.airbyte.cli import extra
from tap_businesscentral.airbyte.messages import AirbyteMessageWriter, encode, record_line
from tap_businesscentral.airbyte.spec import SINGER_ONLY, connection_specification, tap_config
from tap_businesscentral.tap import TapBusinessCentral

SECRETS = {"client_secret", "refresh_token", "password"}


def lines(captured: pytest.CaptureFixture[bytes]) -> list[dict]:
    return [json.loads(line) for line in captured.readouterr().out.splitlines()]


def test_spec_has_one_form_per_auth_type_and_marks_secrets():
    spec = connection_specification()
    jsonschema.Draft7Validator.check_schema(spec)
    variants = spec["properties"]["credentials"]["oneOf"]
    assert [v["properties"]["auth_type"]["const"] for v in variants] == [
        "client_credentials",
        "refresh_token",
        "basic",
    ]
    for variant in variants:
        assert variant["title"]
        for name, prop in variant["properties"].items():
            assert prop["title"]
            assert isinstance(prop["order"], int)
            assert prop.get("airbyte_secret", False) is (name in SECRETS)
    shown = set(spec["properties"])
    for variant in variants:
        shown |= set(variant["properties"])
    settings = set(TapBusinessCentral.config_jsonschema["properties"])
    assert settings - shown - SINGER_ONLY == {"emit_activate_version_messages"}
    orders = [p["order"] for p in spec["properties"].values()]
    assert orders == sorted(orders)
    assert len(set(orders)) == len(orders)
    assert all(p["description"] for p in spec["properties"].values())


def test_a_config_of_each_form_validates_and_flattens_to_the_tap_config():
    spec = connection_specification()
    config = {
        "credentials": {
            "auth_type": "client_credentials",
            "tenant_id": "contoso.onmicrosoft.com",
            "client_id": "app",
            "client_secret": "s3cret-value",
        },
        "company_ids": ["CRONUS USA, Inc."],
        "page_size": 1000,
    }
    jsonschema.validate(config, spec)
    assert tap_config(config) == {
        "auth_type": "client_credentials",
        "tenant_id": "contoso.onmicrosoft.com",
        "client_id": "app",
        "client_secret": "s3cret-value",
        "company_ids": ["CRONUS USA, Inc."],
        "page_size": 1000,
    }
    basic = {"credentials": {"auth_type": "basic", "base_url": "https://bc:7048/BC/api/v2.0"}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(basic, spec)  # username and password are required for basic
    flat = {"tenant_id": "t", "client_id": "c"}
    assert tap_config(flat) == flat  # a Singer config passes unchanged


def test_record_line_is_the_protocol_model_and_keeps_decimals_exact():
    record = {"id": "1", "number": 7, "blocked": False, "companyId": "c", "note": None}
    line = bytes(record_line("customers", dict(record), 1700000000123))
    model = AirbyteMessage(
        type=Type.RECORD,
        record=AirbyteRecordMessage(stream="customers", data=record, emitted_at=1700000000123),
    )
    assert json.loads(line) == json.loads(encode(model))
    # pydantic would write a Decimal as a string; the msgspec line keeps the JSON number exact.
    money = bytes(record_line("customers", {"amount": decimal.Decimal("1234567890.10")}, 1))
    assert b'"amount":1234567890.10' in money
    parsed = AirbyteMessage.model_validate_json(money)
    assert parsed.record is not None
    assert parsed.record.emitted_at == 1


def test_singer_deletes_become_airbyte_cdc_deletes():
    deleted = {"id": "1", "companyId": "c", "_sdc_deleted_at": "2026-01-02T03:04:05Z"}
    message = json.loads(record_line("customers", deleted, 1))
    assert message["record"]["data"] == {
        "id": "1",
        "companyId": "c",
        "_ab_cdc_deleted_at": "2026-01-02T03:04:05Z",
    }
    schema = {
        "type": "object",
        "properties": {"id": {"type": "string"}, "_sdc_deleted_at": {"type": ["string", "null"]}},
    }
    assert set(airbyte_schema(schema)["properties"]) == {"id", "_ab_cdc_deleted_at"}
    plain = {"type": "object", "properties": {"id": {"type": "string"}}}
    assert airbyte_schema(plain) is plain


def test_writer_translates_each_singer_message(capsysbinary):
    writer = AirbyteMessageWriter()
    writer.streams = frozenset({"customers"})
    bookmark = {"partitions": [{"context": {"companyId": "c1"}, "replication_key_value": "a"}]}
    other = {"partitions": [{"context": {"companyId": "c1"}, "replication_key_value": "x"}]}
    writer.remember_state({"bookmarks": {"customers": bookmark}})
    writer.write_message(SchemaMessage("customers", {"type": "object"}, ["id"]))
    writer.write_message(StateMessage({"bookmarks": {"customers": bookmark, "items": other}}))
    writer.write_message(RecordMessage("customers", {"id": "1"}, version=3))
    writer.write_message(ActivateVersionMessage("customers", 3))
    changed = {"partitions": [{"context": {"companyId": "c1"}, "replication_key_value": "b"}]}
    writer.write_message(StateMessage({"bookmarks": {"customers": changed, "items": other}}))
    writer.write_message(StateMessage({"bookmarks": {"customers": changed}}))
    writer.flush()
    messages = lines(capsysbinary)
    for message in messages:
        AirbyteMessage.model_validate(message)
    assert [m["type"] for m in messages] == ["TRACE", "RECORD", "STATE"]
    assert messages[0]["trace"]["stream_status"]["status"] == "STARTED"
    assert messages[1]["record"]["data"] == {"id": "1"}
    state = messages[2]["state"]
    assert state["type"] == "STREAM"
    assert state["stream"]["stream_descriptor"] == {"name": "customers"}
    assert state["stream"]["stream_state"] == changed


def test_state_input_forms():
    bookmark = {"partitions": [{"context": {"companyId": "c1"}, "replication_key_value": "a"}]}
    per_stream = [
        {
            "type": "STREAM",
            "stream": {"stream_descriptor": {"name": "customers"}, "stream_state": bookmark},
        }
    ]
    assert parse_state(json.dumps(per_stream)) == {"customers": bookmark}
    global_state = [
        {
            "type": "GLOBAL",
            "global": {
                "stream_states": [
                    {"stream_descriptor": {"name": "items"}, "stream_state": bookmark}
                ]
            },
        }
    ]
    assert parse_state(json.dumps(global_state)) == {"items": bookmark}
    assert parse_state(json.dumps({"bookmarks": {"customers": bookmark}})) == {
        "customers": bookmark
    }
    assert parse_state("") == {}
    assert parse_state("[]") == {}
    with pytest.raises(ConfigurationError, match=r"^--state is not valid: 0\.type"):
        parse_state('[{"type": "SOMETHING"}]')
    with pytest.raises(ConfigurationError, match=r"^--state is not JSON\.$"):
        parse_state("{")


def test_without_the_extra_the_command_says_what_to_install():
    script = (
        "import sys; sys.modules['airbyte_protocol'] = None; "
        "from tap_businesscentral.airbyte.cli import main; main(['spec'])"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.strip() == (
        f"source-businesscentral needs the protocol models: install {extra()}."
    )
    assert extra().endswith("businesscentral[airbyte]")
