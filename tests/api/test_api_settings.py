"""Shared settings: declared once, validated into one plain sentence naming the setting."""

from __future__ import annotations

import pytest
from businesscentral_api.errors import ConfigurationError, InsecureTransportError
from businesscentral_api.settings import (
    SETTINGS,
    Settings,
    is_loopback,
    require_safe_transport,
    validate_settings,
)

GUID = "5b2f3e7c-9a41-4d6e-8c0b-1f2a3d4e5f60"
BASE = {"tenant_id": GUID, "client_id": "app", "client_secret": "s3cr3t-value"}

ISSUE_SETTINGS = {
    "tenant_id", "environment_name", "auth_type", "client_id", "client_secret",
    "client_certificate_path", "client_certificate_thumbprint", "refresh_token",
    "token_cache_path", "username", "password", "api_url", "authority_url", "base_url",
    "company_ids", "custom_apis", "max_concurrency", "requests_per_5_minutes", "request_timeout",
}  # fmt: skip


def test_every_setting_of_the_issue_is_declared_with_a_description():
    properties = SETTINGS.to_dict()["properties"]
    assert set(properties) >= ISSUE_SETTINGS
    assert "ca_bundle" in properties
    for name, schema in properties.items():
        assert schema.get("description"), name
    secrets = {name for name, schema in properties.items() if schema.get("secret")}
    assert secrets == {"client_secret", "refresh_token", "password"}
    assert properties["environment_name"]["default"] == "production"
    assert properties["auth_type"]["default"] == "client_credentials"
    assert properties["max_concurrency"]["default"] == 5
    assert properties["requests_per_5_minutes"]["default"] == 6000
    assert properties["api_url"]["default"] == "https://api.businesscentral.dynamics.com"
    assert properties["authority_url"]["default"] == "https://login.microsoftonline.com"


def test_defaults_and_typed_view():
    settings = Settings.from_config({**BASE, "custom_apis": ["contoso/sales/v1.0"]})
    assert settings.environment_name == "production"
    assert settings.max_concurrency == 5
    assert str(settings.custom_apis[0]) == "contoso/sales/v1.0"
    assert "s3cr3t-value" not in repr(settings)
    assert settings.secrets == ("s3cr3t-value",)


@pytest.mark.parametrize(
    ("config", "setting"),
    [
        ({"client_id": "a", "client_secret": "s"}, "tenant_id"),
        ({**BASE, "tenant_id": "not a tenant"}, "tenant_id"),
        ({**BASE, "client_id": None}, "client_id"),
        ({**BASE, "client_secret": None}, "client_secret or client_certificate_path"),
        ({**BASE, "client_certificate_path": "/x.pem"}, "client_secret or client_certificate_path"),
        ({**BASE, "auth_type": "magic"}, "auth_type"),
        ({**BASE, "auth_type": "refresh_token"}, "refresh_token or token_cache_path"),
        (
            {**BASE, "auth_type": "refresh_token", "token_cache_path": "/nope/c.json"},
            "token_cache_path",
        ),
        ({"auth_type": "basic", "username": "u", "password": "p"}, "base_url"),
        ({"auth_type": "basic", "base_url": "https://bc/BC/api/v2.0", "password": "p"}, "username"),
        ({**BASE, "authority_url": "http://login.example.com"}, "authority_url"),
        ({**BASE, "api_url": "http://bc.example.com"}, "api_url"),
        ({**BASE, "api_url": "ftp://bc"}, "api_url"),
        ({**BASE, "max_concurrency": 0}, "max_concurrency"),
        ({**BASE, "max_concurrency": "5"}, "max_concurrency"),
        ({**BASE, "requests_per_5_minutes": 0}, "requests_per_5_minutes"),
        ({**BASE, "request_timeout": 0}, "request_timeout"),
        ({**BASE, "company_ids": "CRONUS"}, "company_ids"),
        ({**BASE, "custom_apis": ["contoso/sales"]}, "custom_apis"),
        ({**BASE, "ca_bundle": "/nope/ca.pem"}, "ca_bundle"),
    ],
)
def test_bad_config_is_one_sentence_naming_the_setting(config, setting):
    with pytest.raises(ConfigurationError) as caught:
        validate_settings(config)
    message = str(caught.value)
    assert message.startswith(f"Setting {setting} ")
    assert message.endswith(".")
    assert message.count(". ") == 0  # one sentence
    assert "s3cr3t-value" not in message


def test_good_configs_pass(tmp_path):
    cache = tmp_path / "cache.json"
    cache.write_text("{}")
    validate_settings(BASE)
    validate_settings({**BASE, "tenant_id": "contoso.onmicrosoft.com"})
    validate_settings({**BASE, "api_url": "http://127.0.0.1:8080", "base_url": None})
    validate_settings({**BASE, "auth_type": "refresh_token", "token_cache_path": str(cache)})
    validate_settings(
        {
            "auth_type": "basic",
            "base_url": "https://bc/BC/api/v2.0",
            "username": "u",
            "password": "p",
        }
    )


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", True), ("127.9.9.9", True), ("::1", True), ("[::1]", True),
        ("localhost", True), ("LOCALHOST", True), ("10.0.0.1", False), ("example.com", False),
        ("localhost.example.com", False), (None, False),
    ],
)  # fmt: skip
def test_loopback_hosts(host, expected):
    assert is_loopback(host) is expected


def test_credentials_never_go_over_plain_http_except_loopback():
    require_safe_transport("https://bc.example.com/x", "api_url")
    require_safe_transport("http://127.0.0.1:8080/x", "api_url")
    require_safe_transport("http://[::1]:8080/x", "api_url")
    with pytest.raises(InsecureTransportError, match="Setting base_url "):
        require_safe_transport("http://bc.example.com/x", "base_url")
