"""The connection specification, generated from the tap's settings, and the config it accepts.

Airbyte's UI renders a JSON Schema with ``title``, ``description``, ``order`` and
``airbyte_secret``, and shows one form per sign-in method when the settings of each method sit in
a ``oneOf`` object (Airbyte's "Connector Specification Reference": the object holding the
``oneOf`` and each option are ``type: object``, and every option has the same string property
with a ``const`` of its own). So the tap's flat ``auth_type`` and its per-method settings become a
``credentials`` object with one variant per auth type (``auth_type`` a constant in each); every
other setting stays at the top level. :func:`tap_config` flattens such a config back into the
tap's own, so the tap's validation (one plain line naming the setting) applies unchanged.
"""

from __future__ import annotations

import copy
from typing import Any

from businesscentral_api.settings import AUTH_TYPES
from singer_sdk.helpers.capabilities import BATCH_CONFIG, FLATTENING_CONFIG, STREAM_MAPS_CONFIG

from tap_businesscentral.tap import TapBusinessCentral

__all__ = ["CREDENTIALS", "connection_specification", "tap_config"]

CREDENTIALS = "credentials"
DOCUMENTATION_URL = (
    "https://learn.microsoft.com/en-us/dynamics365/business-central/dev-itpro/api-reference/v2.0/"
)

# Per sign-in method: its title, the settings of its form, and which of them it requires
# (the same rules as businesscentral_api.settings.validate_settings, so the UI asks for them).
_AUTH_FORMS: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "client_credentials": (
        "Client credentials (an app registration)",
        (
            "tenant_id",
            "client_id",
            "client_secret",
            "client_certificate_path",
            "client_certificate_thumbprint",
            "base_url",
        ),
        ("tenant_id", "client_id"),
    ),
    "refresh_token": (
        "Refresh token (a user, via bc-login)",
        ("tenant_id", "client_id", "refresh_token", "token_cache_path", "base_url"),
        ("tenant_id", "client_id"),
    ),
    "basic": (
        "Basic (on-premises web service access key)",
        ("base_url", "username", "password"),
        ("base_url", "username", "password"),
    ),
}
# Settings that mean nothing to an Airbyte source: Airbyte has no ACTIVATE_VERSION, and the
# platform's full-refresh sync mode is what drops deleted rows.
# The SDK adds its Singer-only settings (stream maps, flattening, BATCH) to the tap's class schema
# once a tap has been made in this process: leave them out, so the spec is the same either way.
SINGER_ONLY = frozenset(
    name
    for config in (STREAM_MAPS_CONFIG, FLATTENING_CONFIG, BATCH_CONFIG)
    for name in config["properties"]
)
_NOT_FOR_AIRBYTE = frozenset({"auth_type", "emit_activate_version_messages"}) | SINGER_ONLY
_TITLES = {
    "api_url": "API URL",
    "authority_url": "Authority URL",
    "base_url": "Base URL",
    "ca_bundle": "CA bundle",
    "client_id": "Client ID",
    "company_ids": "Companies",
    "custom_apis": "Custom APIs",
    "requests_per_5_minutes": "Requests per 5 minutes",
    "tenant_id": "Tenant ID",
}


def _title(name: str) -> str:
    return _TITLES.get(name) or name.replace("_", " ").capitalize()


def _airbyte_property(name: str, schema: dict[str, Any], order: int) -> dict[str, Any]:
    """One setting as Airbyte's UI wants it: title, order, ``airbyte_secret`` for secrets."""
    prop = copy.deepcopy(schema)
    secret = bool(prop.pop("secret", False))
    prop.pop("writeOnly", None)
    # The SDK declares optional settings nullable (["string", "null"]); Airbyte's form wants one
    # type and leaves an optional field out instead.
    types = prop.get("type")
    if isinstance(types, list):
        kinds = [t for t in types if t != "null"]
        prop["type"] = kinds[0] if len(kinds) == 1 else kinds
    prop["title"] = _title(name)
    prop["order"] = order
    if secret:
        prop["airbyte_secret"] = True
    return prop


def connection_specification() -> dict[str, Any]:
    """The ``connectionSpecification`` of ``spec``, from the tap's ``config_jsonschema``."""
    settings: dict[str, Any] = TapBusinessCentral.config_jsonschema["properties"]
    in_forms = {name for _, names, _ in _AUTH_FORMS.values() for name in names}
    variants = []
    for auth_type in AUTH_TYPES:
        title, names, required = _AUTH_FORMS[auth_type]
        properties: dict[str, Any] = {
            "auth_type": {"type": "string", "const": auth_type, "title": "Auth type", "order": 0},
        }
        for order, name in enumerate(names, start=1):
            properties[name] = _airbyte_property(name, settings[name], order)
        variants.append(
            {
                "title": title,
                "type": "object",
                "required": ["auth_type", *required],
                "properties": properties,
            }
        )
    properties = {
        CREDENTIALS: {
            "title": "Authentication",
            "description": settings["auth_type"]["description"],
            "type": "object",
            "order": 0,
            "oneOf": variants,
        },
    }
    order = 1
    for name, schema in settings.items():
        if name in in_forms or name in _NOT_FOR_AIRBYTE:
            continue
        properties[name] = _airbyte_property(name, schema, order)
        order += 1
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "Business Central Source Spec",
        "type": "object",
        "required": [CREDENTIALS],
        "additionalProperties": True,
        "properties": properties,
    }


def tap_config(config: dict[str, Any]) -> dict[str, Any]:
    """The tap's flat config for an Airbyte config: ``credentials`` spread to the top level.

    A config without ``credentials`` (already flat, as the tap takes it) passes unchanged, so a
    Singer config works here too.
    """
    flat = {k: v for k, v in config.items() if k != CREDENTIALS}
    credentials = config.get(CREDENTIALS)
    if isinstance(credentials, dict):
        flat.update(credentials)
    return flat
