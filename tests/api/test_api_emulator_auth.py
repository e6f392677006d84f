"""Sign-in against the emulator's Entra ID over HTTPS: every flow and renewal rule of the issue."""

from __future__ import annotations

import html
import json
import re
import stat
import threading
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

import pytest
import requests
from businesscentral_api.client import BusinessCentralClient
from businesscentral_api.errors import AuthenticationError, ConfigurationError
from businesscentral_api.login import login, main, parse_options
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from tests_support import client_config, self_signed_certificate

if TYPE_CHECKING:
    from pathlib import Path


def base_config(emulator, **overrides: Any) -> dict[str, Any]:
    return client_config(emulator.info, **overrides)


def counts(emulator) -> Counter[tuple[str, str, int]]:
    snapshot = emulator.counters()
    return Counter(
        {(r["method"], r["kind"], r["status"]): r["count"] for r in snapshot["requests"]}
    )


def fault(emulator, **rule: Any) -> None:
    emulator.hook("POST", "faults", {"faults": [rule]})


def token_posts(before: Counter, after: Counter, status: int | None = None) -> int:
    return sum(
        n - before[key]
        for key, n in after.items()
        if key[0] == "POST" and key[1] == "auth" and (status is None or key[2] == status)
    )


@pytest.fixture(autouse=True)
def _clean_faults(emulator):
    yield
    emulator.hook("DELETE", "faults")
    emulator.hook("POST", "config", {"token_lifetime": 3599})


def browser(ca_bundle: str):
    """A stand-in for the user's browser: follows the authorize redirect to the loopback URI."""
    done = threading.Event()

    def open_uri(uri: str) -> None:
        def run() -> None:
            with requests.Session() as session:
                page = session.get(uri, allow_redirects=False, verify=ca_bundle, timeout=30)
                assert page.status_code == 200, page.text
                # The auto-submitting form of response_mode=form_post, submitted by hand.
                action = html.unescape(re.search(r'action="([^"]+)"', page.text).group(1))
                fields = {
                    html.unescape(name): html.unescape(value)
                    for name, value in re.findall(r'name="([^"]+)" value="([^"]*)"', page.text)
                }
                session.post(action, data=fields, timeout=30)
            done.set()

        threading.Thread(target=run, daemon=True).start()

    return open_uri, done


def sign_in_user(emulator, cache_path: Path) -> None:
    info = emulator.info
    options = parse_options(
        [
            "--tenant-id", info["tenant_domain"],
            "--client-id", info["public_client_id"],
            "--authority-url", info["authority_url"],
            "--ca-bundle", info["ca_bundle"],
            "--token-cache-path", str(cache_path),
            "--no-browser", "--timeout", "30",
        ]
    )  # fmt: skip
    open_uri, done = browser(info["ca_bundle"])
    said: list[str] = []
    assert login(options, on_auth_uri=open_uri, say=said.append) == 0, said
    assert done.wait(10)


def refresh_tokens_in(cache_path: Path) -> list[str]:
    cache = json.loads(cache_path.read_text())
    return [entry["secret"] for entry in cache.get("RefreshToken", {}).values()]


def test_client_credentials_with_a_secret(emulator):
    before = counts(emulator)
    with BusinessCentralClient(base_config(emulator)) as client:
        companies = client.companies(probe=False)
        assert {c.id for c in companies} == {c["id"] for c in emulator.info["companies"]}
        client.get_json(client.urls.companies_url())
    after = counts(emulator)
    assert token_posts(before, after, 200) == 1  # one token, reused


def test_client_credentials_with_a_certificate(emulator, tmp_path):
    key_pem, cert_pem, _ = self_signed_certificate("tap-businesscentral")
    thumbprint = emulator.emulator.entra.register_certificate(cert_pem)
    with_cert = tmp_path / "app.pem"
    with_cert.write_text(key_pem + cert_pem)
    key_only = tmp_path / "key.pem"
    key_only.write_text(key_pem)
    for path, extra in ((with_cert, {}), (key_only, {"client_certificate_thumbprint": thumbprint})):
        config = base_config(
            emulator, client_secret=None, client_certificate_path=str(path), **extra
        )
        with BusinessCentralClient(config) as client:
            assert client.companies(probe=False)
    unknown = tmp_path / "other.pem"
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    unknown.write_text(
        other.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
    )
    config = base_config(
        emulator,
        client_secret=None,
        client_certificate_path=str(unknown),
        client_certificate_thumbprint=thumbprint,
    )
    with (
        BusinessCentralClient(config) as client,
        pytest.raises(AuthenticationError, match="AADSTS"),
    ):
        client.companies(probe=False)


def test_domain_tenant_resolves_to_the_guid_from_tid(emulator):
    config = base_config(emulator, tenant_id=emulator.info["tenant_domain"])
    with BusinessCentralClient(config) as client:
        assert client.tenant_guid == emulator.info["tenant_id"]
        assert client.companies(probe=False)


def test_wrong_secret_fails_with_the_aadsts_code_and_no_secret(emulator):
    wrong = "Wr0ng~secret-value-123456"
    before = counts(emulator)
    client = BusinessCentralClient(base_config(emulator, client_secret=wrong))
    with client, pytest.raises(AuthenticationError) as caught:
        client.companies(probe=False)
    message = str(caught.value)
    assert "AADSTS7000215" in message
    assert wrong not in message
    assert emulator.info["client_secret"] not in message
    assert token_posts(before, counts(emulator)) == 1  # a refusal is not retried


def test_token_is_renewed_before_it_expires(emulator):
    emulator.hook("POST", "config", {"token_lifetime": 2})
    before = counts(emulator)
    with BusinessCentralClient(base_config(emulator)) as client:
        client.get_json(client.urls.companies_url())
        first = client.credential.authorization()
        time.sleep(1.2)  # past half the 2 s lifetime: renewal is due, the token still valid
        client.get_json(client.urls.companies_url())
        assert client.credential.authorization() != first
    after = counts(emulator)
    assert token_posts(before, after, 200) >= 2
    assert sum(n - before[k] for k, n in after.items() if k[1] == "api" and k[2] == 401) == 0


def test_token_is_renewed_once_after_a_401(emulator):
    with BusinessCentralClient(base_config(emulator)) as client:
        client.get_json(client.urls.companies_url())
        before = counts(emulator)
        fault(emulator, kind="status", status=401, count=1, path_contains="companies")
        client.get_json(client.urls.companies_url())
        after = counts(emulator)
        assert token_posts(before, after, 200) == 1  # a new token after the 401
        fault(emulator, kind="status", status=401, count=2, path_contains="companies")
        with pytest.raises(AuthenticationError) as caught:
            client.get_json(client.urls.companies_url())
        assert caught.value.status == 401


def test_a_transient_token_endpoint_failure_is_retried(emulator):
    fault(emulator, kind="status", status=503, count=1, path_contains="oauth2/v2.0/token")
    before = counts(emulator)
    with BusinessCentralClient(base_config(emulator)) as client:
        assert client.companies(probe=False)
    after = counts(emulator)
    assert token_posts(before, after, 503) == 1
    assert token_posts(before, after, 200) == 1


def test_refresh_token_rotation_is_persisted_across_client_instances(emulator, tmp_path):
    cache_path = tmp_path / "bc-token-cache.json"
    emulator.hook("POST", "config", {"token_lifetime": 1})  # msal must use the refresh token
    sign_in_user(emulator, cache_path)
    assert stat.S_IMODE(cache_path.stat().st_mode) == 0o600
    initial = refresh_tokens_in(cache_path)
    assert len(initial) == 1
    config = base_config(
        emulator,
        auth_type="refresh_token",
        client_id=emulator.info["public_client_id"],
        client_secret=None,
        token_cache_path=str(cache_path),
    )
    with BusinessCentralClient(config) as first:
        assert first.companies(probe=False)
    rotated = refresh_tokens_in(cache_path)
    assert rotated != initial
    assert stat.S_IMODE(cache_path.stat().st_mode) == 0o600
    with BusinessCentralClient(config) as second:
        assert second.companies(probe=False)
        assert second.tenant_guid == emulator.info["tenant_id"]
    assert refresh_tokens_in(cache_path) not in (initial, rotated)


def test_a_refresh_token_from_config_seeds_the_cache(emulator, tmp_path):
    seeded = tmp_path / "seed-cache.json"
    sign_in_user(emulator, seeded)
    (refresh_token,) = refresh_tokens_in(seeded)
    cache_path = tmp_path / "fresh" / "cache.json"
    config = base_config(
        emulator,
        auth_type="refresh_token",
        client_id=emulator.info["public_client_id"],
        client_secret=None,
        refresh_token=refresh_token,
        token_cache_path=str(cache_path),
    )
    with BusinessCentralClient(config) as client:
        assert client.companies(probe=False)
    assert cache_path.is_file()
    assert refresh_token not in refresh_tokens_in(cache_path)


def test_refresh_token_flow_needs_a_cache_or_token(emulator, tmp_path):
    config = base_config(
        emulator,
        auth_type="refresh_token",
        client_secret=None,
        token_cache_path=str(tmp_path / "missing.json"),
    )
    with pytest.raises(ConfigurationError, match=r"Setting token_cache_path .* bc-login"):
        BusinessCentralClient(config)


def test_basic_auth_on_premises(emulator):
    info = emulator.info
    config = {
        "auth_type": "basic",
        "base_url": info["onprem_base_url"],
        "username": info["onprem_username"],
        "password": info["onprem_password"],
        "ca_bundle": info["ca_bundle"],
    }
    with BusinessCentralClient(config) as client:
        assert client.companies(probe=False)
        assert client.tenant_guid is None
    wrong = {**config, "password": "not-the-key-0000"}
    before = counts(emulator)
    with BusinessCentralClient(wrong) as client, pytest.raises(AuthenticationError) as caught:
        client.companies(probe=False)
    assert "not-the-key-0000" not in str(caught.value)
    after = counts(emulator)
    assert sum(n - before[k] for k, n in after.items() if k[2] == 401) == 1  # no renewal loop


def test_credentials_are_refused_over_plain_http_to_other_hosts(emulator):
    with pytest.raises(ConfigurationError, match=r"Setting api_url .*https"):
        BusinessCentralClient(base_config(emulator, api_url="http://bc.example.com"))
    with pytest.raises(ConfigurationError, match="Setting authority_url"):
        BusinessCentralClient(base_config(emulator, authority_url="http://127.0.0.1:1"))


@pytest.mark.slow  # the device flow polls every 5 s, as Entra advertises
def test_device_code_login_writes_the_cache_and_prints_no_token(emulator, tmp_path):
    info = emulator.info
    cache_path = tmp_path / "device-cache.json"
    options = parse_options(
        [
            "--tenant-id", info["tenant_id"],
            "--client-id", info["public_client_id"],
            "--authority-url", info["authority_url"],
            "--ca-bundle", info["ca_bundle"],
            "--token-cache-path", str(cache_path),
            "--device-code",
        ]
    )  # fmt: skip
    said: list[str] = []
    assert login(options, say=said.append) == 0, said
    assert any("code" in line.lower() for line in said)  # the user code to type in
    assert stat.S_IMODE(cache_path.stat().st_mode) == 0o600
    (refresh_token,) = refresh_tokens_in(cache_path)
    assert all(refresh_token not in line for line in said)
    assert all("eyJ" not in line for line in said)


def test_bc_login_reports_missing_settings(capsys, tmp_path):
    assert main(["--client-id", "x", "--token-cache-path", str(tmp_path / "c.json")]) == 2
    assert "Setting tenant_id is required" in capsys.readouterr().err
