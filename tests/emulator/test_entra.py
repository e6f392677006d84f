"""The emulated Entra ID: the model's rules directly, then the real msal over real HTTPS."""

# Token and secret literals are the subject here; SHA-1 is what certificate thumbprints are.
# ruff: noqa: S105, S106

from __future__ import annotations

import base64
import hashlib
import json
import ssl
import threading
import time
import urllib.request
from contextlib import contextmanager
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import jwt
import msal
import pytest
import requests
import uvicorn
from businesscentral_emulator.entra.http import entra_routes
from businesscentral_emulator.entra.service import (
    BC_RESOURCE,
    AccessTokenError,
    EntraConfig,
    EntraError,
    EntraService,
)
from businesscentral_emulator.tls import generate_tls_files
from starlette.applications import Starlette
from tests_support import self_signed_certificate

if TYPE_CHECKING:
    from collections.abc import Iterator

    from businesscentral_emulator.tls import TlsFiles

SCOPE = f"{BC_RESOURCE}/.default"
BASE = "https://login.example"
REDIRECT = "http://localhost:8400/callback"


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


class FormReader(HTMLParser):
    """The action and hidden fields of a form_post page, as a browser would submit them."""

    def __init__(self) -> None:
        super().__init__()
        self.action = ""
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "form":
            self.action = values.get("action") or ""
        elif tag == "input" and values.get("name"):
            self.fields[values["name"] or ""] = values.get("value") or ""


def pkce_pair(verifier: str = "v" * 43) -> tuple[str, str]:
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def service(clock: FakeClock) -> EntraService:
    return EntraService(EntraConfig(access_token_lifetime=600), clock=clock)


def client_credentials(service: EntraService, **overrides: str) -> dict[str, Any]:
    form = {
        "grant_type": "client_credentials",
        "client_id": service.config.client_id,
        "client_secret": service.config.client_secret,
        "scope": SCOPE,
        **overrides,
    }
    return service.token(service.config.tenant_id, form, base_url=BASE)


def sign_in(
    service: EntraService, scope: str = f"{SCOPE} openid profile offline_access", **extra: str
) -> dict[str, Any]:
    """Authorization code + PKCE for the public client, redeemed at once."""
    verifier, challenge = pkce_pair()
    redirect = service.authorize(
        service.config.tenant_id,
        {
            "client_id": service.config.public_client_id,
            "response_type": "code",
            "redirect_uri": REDIRECT,
            "scope": scope,
            "state": "s1",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            **extra,
        },
    )
    form = {
        "grant_type": "authorization_code",
        "client_id": service.config.public_client_id,
        "code": redirect.params["code"],
        "redirect_uri": REDIRECT,
        "code_verifier": verifier,
    }
    return service.token(service.config.tenant_id, form, base_url=BASE)


# --- the model ------------------------------------------------------------------------------


def test_client_credentials_token_has_the_claims_business_central_checks(service):
    body = client_credentials(service)
    assert set(body) == {"token_type", "expires_in", "ext_expires_in", "access_token"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 600
    header = jwt.get_unverified_header(body["access_token"])
    assert header["alg"] == "RS256"
    assert header["kid"] == service.key_id
    claims = service.validate_access_token(body["access_token"], service.config.tenant_id)
    assert claims["aud"] == BC_RESOURCE
    assert claims["iss"] == f"https://sts.windows.net/{service.config.tenant_id}/"
    assert claims["tid"] == service.config.tenant_id
    assert claims["appid"] == service.config.client_id
    assert claims["oid"] == service.config.service_principal_oid
    assert claims["roles"] == ["API.ReadWrite.All"]
    assert claims["ver"] == "1.0"
    assert claims["exp"] - claims["iat"] == 600
    assert "scp" not in claims
    assert service.tokens_issued == {"client_credentials": 1}


def test_tenant_may_be_named_by_domain_in_url_and_api_path(service):
    form = {
        "grant_type": "client_credentials",
        "client_id": service.config.client_id,
        "client_secret": service.config.client_secret,
        "scope": SCOPE,
    }
    body = service.token("CRONUS.onmicrosoft.com", form, base_url=BASE)
    claims = service.validate_access_token(body["access_token"], "cronus.onmicrosoft.com")
    assert claims["tid"] == service.config.tenant_id
    assert service.validate_access_token(body["access_token"], None)["tid"] == claims["tid"]


def test_wrong_secret_is_refused_like_entra_without_echoing_it(service):
    with pytest.raises(EntraError) as caught:
        client_credentials(service, client_secret="not-the-secret")
    error = caught.value
    assert (error.status, error.error, error.code) == (401, "invalid_client", 7000215)
    body = error.body(correlation_id="c0ffee00-0000-0000-0000-000000000000")
    assert body["error"] == "invalid_client"
    assert body["error_codes"] == [7000215]
    assert body["error_description"].startswith("AADSTS7000215: Invalid client secret provided.")
    assert body["correlation_id"] == "c0ffee00-0000-0000-0000-000000000000"
    assert {"timestamp", "trace_id"} <= set(body)
    assert "not-the-secret" not in json.dumps(body)
    assert service.config.client_secret not in json.dumps(body)
    assert service.config.client_secret not in repr(service.config)
    assert service.errors == {"invalid_client": 1}


@pytest.mark.parametrize(
    ("tenant", "form", "expected"),
    [
        ("nowhere.onmicrosoft.com", {}, (400, "invalid_request", 90002)),
        ("organizations", {}, (400, "invalid_request", 50059)),
        (
            None,
            {"client_id": "11111111-2222-3333-4444-555555555555"},
            (401, "unauthorized_client", 700016),
        ),
        (None, {"client_secret": ""}, (401, "invalid_client", 7000218)),
        (None, {"grant_type": "password"}, (400, "unsupported_grant_type", 70003)),
        (None, {"grant_type": ""}, (400, "invalid_request", 900144)),
        (
            None,
            {"scope": f"{BC_RESOURCE}/Financials.ReadWrite.All"},
            (400, "invalid_scope", 1002012),
        ),
        (
            None,
            {"scope": "https://graph.microsoft.com/.default"},
            (400, "invalid_resource", 500011),
        ),
    ],
)
def test_client_credentials_refusals(service, tenant, form, expected):
    full = {
        "grant_type": "client_credentials",
        "client_id": service.config.client_id,
        "client_secret": service.config.client_secret,
        "scope": SCOPE,
        **form,
    }
    with pytest.raises(EntraError) as caught:
        service.token(tenant or service.config.tenant_id, full, base_url=BASE)
    assert (caught.value.status, caught.value.error, caught.value.code) == expected


def test_public_client_cannot_use_client_credentials(service):
    form = {"grant_type": "client_credentials", "client_id": service.config.public_client_id}
    with pytest.raises(EntraError) as caught:
        service.token(service.config.tenant_id, {**form, "scope": SCOPE}, base_url=BASE)
    assert caught.value.code == 7000216


def test_access_token_validation_reasons(service, clock):
    token = client_credentials(service)["access_token"]
    with pytest.raises(AccessTokenError) as caught:
        service.validate_access_token(token, "11111111-2222-3333-4444-555555555555")
    assert caught.value.reason == "wrong_tenant"

    other = EntraService(service.config, clock=clock)  # same tenant, another signing key
    forged = client_credentials(other)["access_token"]
    with pytest.raises(AccessTokenError) as caught:
        service.validate_access_token(forged, None)
    assert caught.value.reason == "bad_signature"

    head, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["roles"] = ["Superuser"]
    tampered_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=")
    with pytest.raises(AccessTokenError) as caught:
        service.validate_access_token(f"{head}.{tampered_payload.decode()}.{signature}", None)
    assert caught.value.reason == "bad_signature"

    graph = service._sign({**claims, "aud": "https://graph.microsoft.com"})
    with pytest.raises(AccessTokenError) as caught:
        service.validate_access_token(graph, None)
    assert caught.value.reason == "wrong_audience"

    with pytest.raises(AccessTokenError) as caught:
        service.validate_access_token("not a jwt", None)
    assert caught.value.reason == "malformed"

    clock.now += 600
    with pytest.raises(AccessTokenError) as caught:
        service.validate_access_token(token, None)
    assert caught.value.reason == "expired"


def test_authorization_code_with_pkce_gives_delegated_tokens(service):
    body = sign_in(service, nonce="n-123")
    assert body["refresh_token"]
    assert body["scope"].split() == [
        f"{BC_RESOURCE}/Financials.ReadWrite.All",
        f"{BC_RESOURCE}/user_impersonation",
        f"{BC_RESOURCE}/.default",
    ]
    claims = service.validate_access_token(body["access_token"], None)
    assert claims["scp"] == "Financials.ReadWrite.All user_impersonation"
    assert claims["appid"] == service.config.public_client_id
    assert claims["oid"] == service.config.user_oid
    assert claims["upn"] == service.config.user_principal_name
    assert "roles" not in claims
    id_claims = jwt.decode(body["id_token"], options={"verify_signature": False})
    assert id_claims["aud"] == service.config.public_client_id
    assert id_claims["iss"] == f"https://login.microsoftonline.com/{service.config.tenant_id}/v2.0"
    assert id_claims["nonce"] == "n-123"
    assert id_claims["preferred_username"] == service.config.user_principal_name
    client_info = json.loads(base64.urlsafe_b64decode(body["client_info"] + "=="))
    assert client_info == {"uid": service.config.user_oid, "utid": service.config.tenant_id}
    assert service.tokens_issued == {"authorization_code": 1}


def test_no_refresh_token_without_offline_access(service):
    body = sign_in(service, scope=f"{BC_RESOURCE}/Financials.ReadWrite.All openid")
    assert "refresh_token" not in body
    assert "id_token" in body


def test_authorize_redirect_carries_code_and_state(service):
    redirect = service.authorize(
        "organizations",
        {
            "client_id": service.config.public_client_id,
            "response_type": "code",
            "redirect_uri": "http://127.0.0.1:5000/cb?x=1",
            "scope": SCOPE,
            "state": "xyz",
        },
    )
    query = parse_qs(urlsplit(redirect.location).query)
    assert query["state"] == ["xyz"]
    assert query["x"] == ["1"]
    assert query["code"][0].startswith("1.A")


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"redirect_uri": "https://evil.example/cb"}, 50011),
        ({"redirect_uri": "ftp://localhost/cb"}, 50011),
        ({"client_id": "11111111-2222-3333-4444-555555555555"}, 700016),
    ],
)
def test_authorize_refuses_untrusted_redirects_outright(service, params, code):
    full = {
        "client_id": service.config.public_client_id,
        "response_type": "code",
        "redirect_uri": REDIRECT,
        "scope": SCOPE,
        **params,
    }
    with pytest.raises(EntraError) as caught:
        service.authorize(service.config.tenant_id, full)
    assert caught.value.code == code


def test_authorize_reports_bad_scope_through_the_redirect(service):
    redirect = service.authorize(
        service.config.tenant_id,
        {
            "client_id": service.config.public_client_id,
            "response_type": "code",
            "redirect_uri": REDIRECT,
            "scope": "openid profile",
            "state": "s",
        },
    )
    assert redirect.params["error"] == "invalid_scope"
    assert redirect.params["state"] == "s"
    assert "code" not in redirect.params


def test_code_is_single_use_bound_and_short_lived(service, clock):
    verifier, challenge = pkce_pair()
    tenant = service.config.tenant_id

    def new_code(method: str = "S256", value: str = challenge) -> str:
        return service.authorize(
            tenant,
            {
                "client_id": service.config.public_client_id,
                "response_type": "code",
                "redirect_uri": REDIRECT,
                "scope": f"{SCOPE} offline_access",
                "code_challenge": value,
                "code_challenge_method": method,
            },
        ).params["code"]

    def redeem(code: str, **overrides: str) -> dict[str, Any]:
        form = {
            "grant_type": "authorization_code",
            "client_id": service.config.public_client_id,
            "code": code,
            "redirect_uri": REDIRECT,
            "code_verifier": verifier,
            **overrides,
        }
        return service.token(tenant, form, base_url=BASE)

    def refused(code: str, **overrides: str) -> int:
        with pytest.raises(EntraError) as caught:
            redeem(code, **overrides)
        assert caught.value.status == 400
        return caught.value.code

    code = new_code()
    assert refused(code, code_verifier="w" * 43) == 501481
    assert refused(code, code_verifier="") == 50148
    assert refused(code, redirect_uri="http://localhost:9999/other") == 500112
    assert refused("1.Anonsense") == 70000
    redeem(code)
    assert refused(code) == 54005
    assert refused(new_code("plain", verifier), code_verifier="x" * 43) == 501481
    assert redeem(new_code("plain", verifier))["refresh_token"]
    stale = new_code()
    clock.now += service.config.authorization_code_lifetime
    assert refused(stale) == 70008
    code_for_public_client = new_code()
    with pytest.raises(EntraError) as caught:
        redeem(code_for_public_client, client_id=service.config.client_id)
    assert caught.value.code == 7000218  # the confidential client must authenticate


def test_refresh_token_rotates_and_expires(service, clock):
    first = sign_in(service)
    tenant = service.config.tenant_id
    form = {
        "grant_type": "refresh_token",
        "client_id": service.config.public_client_id,
        "scope": f"{SCOPE} openid offline_access",
    }
    second = service.token(tenant, {**form, "refresh_token": first["refresh_token"]}, base_url=BASE)
    assert second["refresh_token"] != first["refresh_token"]
    assert "id_token" in second
    with pytest.raises(EntraError) as caught:
        service.token(tenant, {**form, "refresh_token": first["refresh_token"]}, base_url=BASE)
    assert (caught.value.error, caught.value.code) == ("invalid_grant", 70000)
    clock.now += service.config.refresh_token_lifetime
    with pytest.raises(EntraError) as caught:
        service.token(tenant, {**form, "refresh_token": second["refresh_token"]}, base_url=BASE)
    assert (caught.value.error, caught.value.code) == ("invalid_grant", 700082)
    assert service.tokens_issued == {"authorization_code": 1, "refresh_token": 1}


def test_device_code_is_approved_after_the_first_poll(service):
    flow = service.start_device_flow(
        "common", {"client_id": service.config.public_client_id, "scope": f"{SCOPE} offline_access"}
    )
    assert flow["interval"] == 5
    assert flow["user_code"] in flow["message"]
    form = {
        "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
        "client_id": service.config.public_client_id,
        "device_code": flow["device_code"],
    }
    with pytest.raises(EntraError) as caught:
        service.token("common", form, base_url=BASE)
    assert (caught.value.error, caught.value.code) == ("authorization_pending", 70016)
    body = service.token("common", form, base_url=BASE)
    assert body["refresh_token"]
    with pytest.raises(EntraError) as caught:
        service.token("common", form, base_url=BASE)
    assert caught.value.error == "bad_verification_code"
    assert service.tokens_issued == {"device_code": 1}


def test_certificate_assertion_is_verified(service, clock):
    key_pem, cert_pem, thumbprint = self_signed_certificate()
    assert service.register_certificate(cert_pem, thumbprint) == thumbprint
    with pytest.raises(ValueError, match="thumbprint"):
        service.register_certificate(cert_pem, "00" * 20)
    tenant = service.config.tenant_id
    x5t = base64.urlsafe_b64encode(bytes.fromhex(thumbprint)).rstrip(b"=").decode()

    def assertion(**claims: Any) -> str:
        payload = {
            "aud": f"{BASE}/{tenant}/oauth2/v2.0/token",
            "iss": service.config.client_id,
            "sub": service.config.client_id,
            "exp": int(clock.now) + 600,
            "jti": "j1",
            **claims,
        }
        return jwt.encode(payload, key_pem, algorithm="RS256", headers={"x5t": x5t})

    def attempt(token: str) -> dict[str, Any]:
        form = {
            "grant_type": "client_credentials",
            "client_id": service.config.client_id,
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": token,
            "scope": SCOPE,
        }
        return service.token(tenant, form, base_url=BASE)

    claims = service.validate_access_token(attempt(assertion())["access_token"], None)
    assert claims["appidacr"] == "2"
    for bad, code in [
        (assertion(aud="https://elsewhere.example/token"), 700027),
        (assertion(iss="someone-else"), 700021),
        (assertion(exp=int(clock.now) - 1), 700024),
        (assertion()[:-4] + "AAAA", 700027),
    ]:
        with pytest.raises(EntraError) as caught:
            attempt(bad)
        assert (caught.value.status, caught.value.code) == (401, code)
    stranger_key, _, _ = self_signed_certificate()
    unknown = jwt.encode(
        {"aud": f"{BASE}/{tenant}/oauth2/v2.0/token", "iss": "x", "sub": "x", "exp": 2**31},
        stranger_key,
        algorithm="RS256",
        headers={"x5t": base64.urlsafe_b64encode(b"\x01" * 20).decode()},
    )
    with pytest.raises(EntraError) as caught:
        attempt(unknown)
    assert caught.value.code == 700027


def test_jwks_verifies_issued_tokens():
    service = EntraService()  # the real clock: PyJWT checks `exp` against it
    token = client_credentials(service)["access_token"]
    (key,) = service.jwks()["keys"]
    public_key = jwt.PyJWK(key).key
    claims = jwt.decode(token, public_key, algorithms=["RS256"], audience=BC_RESOURCE)
    assert claims["tid"] == service.config.tenant_id


# --- over HTTPS, with the real msal ---------------------------------------------------------


@contextmanager
def serve_https(app: Starlette, tls: TlsFiles) -> Iterator[str]:
    """Serve an app with uvicorn on 127.0.0.1 on a free port over TLS; yield its base URL."""
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        ssl_certfile=str(tls.cert),
        ssl_keyfile=str(tls.key),
        log_level="warning",
        lifespan="off",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            msg = "the test server did not start"
            raise RuntimeError(msg)
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"https://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(autouse=True)
def no_ca_bundle_override(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let `verify=` count: requests prefers these variables over `Session.verify`."""
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)


def trusting_session(tls: TlsFiles) -> requests.Session:
    session = requests.Session()
    session.verify = str(tls.ca_bundle)
    return session


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return generate_tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def https_service() -> EntraService:
    return EntraService(EntraConfig(device_code_interval=1))


@pytest.fixture
def base_url(https_service: EntraService, tls_files: TlsFiles) -> Iterator[str]:
    with serve_https(Starlette(routes=entra_routes(https_service)), tls_files) as url:
        yield url


@contextmanager
def closing_app(app: msal.ClientApplication) -> Iterator[msal.ClientApplication]:
    """Close msal's HTTP session so no socket outlives the test."""
    try:
        yield app
    finally:
        app.http_client.close()


def confidential(
    service: EntraService, base_url: str, tls_files: TlsFiles, credential: Any
) -> msal.ConfidentialClientApplication:
    return msal.ConfidentialClientApplication(
        service.config.client_id,
        client_credential=credential,
        authority=f"{base_url}/{service.config.tenant_id}",
        instance_discovery=False,
        verify=str(tls_files.ca_bundle),
    )


def public(
    service: EntraService, base_url: str, tls_files: TlsFiles, tenant: str | None = None
) -> msal.PublicClientApplication:
    return msal.PublicClientApplication(
        service.config.public_client_id,
        authority=f"{base_url}/{tenant or service.config.tenant_id}",
        instance_discovery=False,
        verify=str(tls_files.ca_bundle),
    )


def test_tls_certificate_is_trusted_through_the_ca_bundle_only(base_url, tls_files):
    url = f"{base_url}/organizations/v2.0/.well-known/openid-configuration"
    context = ssl.create_default_context(cafile=str(tls_files.ca_bundle))
    with urllib.request.urlopen(url, context=context) as response:  # noqa: S310
        document = json.load(response)
    assert document["token_endpoint"] == f"{base_url}/organizations/oauth2/v2.0/token"
    assert document["issuer"] == "https://login.microsoftonline.com/{tenantid}/v2.0"
    with pytest.raises(requests.exceptions.SSLError), requests.Session() as untrusting:
        untrusting.get(url)  # the system trust store does not know the throwaway CA


def test_discovery_documents_and_keys(base_url, tls_files, https_service):
    tenant = https_service.config.tenant_id
    with trusting_session(tls_files) as session:
        by_domain = session.get(
            f"{base_url}/cronus.onmicrosoft.com/v2.0/.well-known/openid-configuration"
        ).json()
        assert by_domain["token_endpoint"] == f"{base_url}/{tenant}/oauth2/v2.0/token"
        assert by_domain["authorization_endpoint"] == f"{base_url}/{tenant}/oauth2/v2.0/authorize"
        assert by_domain["device_authorization_endpoint"].endswith("/oauth2/v2.0/devicecode")
        assert by_domain["issuer"] == f"https://login.microsoftonline.com/{tenant}/v2.0"
        v1 = session.get(f"{base_url}/{tenant}/.well-known/openid-configuration").json()
        assert v1["issuer"] == f"https://sts.windows.net/{tenant}/"
        keys = session.get(by_domain["jwks_uri"]).json()
        assert keys["keys"][0]["kid"] == https_service.key_id
        unknown = session.get(f"{base_url}/nowhere.example/v2.0/.well-known/openid-configuration")
        assert unknown.status_code == 400
        assert unknown.json()["error"] == "invalid_tenant"
        assert unknown.json()["error_codes"] == [90002]


def test_msal_client_credentials_with_secret(base_url, tls_files, https_service):
    secret = https_service.config.client_secret
    with closing_app(confidential(https_service, base_url, tls_files, secret)) as app:
        result = app.acquire_token_for_client(scopes=[SCOPE])
        assert "access_token" in result, result
        claims = https_service.validate_access_token(
            result["access_token"], https_service.config.tenant_id
        )
        assert claims["roles"] == ["API.ReadWrite.All"]
        assert result["token_source"] == "identity_provider"
        assert app.acquire_token_for_client(scopes=[SCOPE])["token_source"] == "cache"
    assert https_service.tokens_issued == {"client_credentials": 1}


def test_msal_wrong_secret_gets_invalid_client(base_url, tls_files, https_service):
    with closing_app(confidential(https_service, base_url, tls_files, "wrong")) as app:
        result = app.acquire_token_for_client(scopes=[SCOPE])
    assert result["error"] == "invalid_client"
    assert result["error_codes"] == [7000215]
    assert "AADSTS7000215" in result["error_description"]
    assert "access_token" not in result


def test_token_endpoint_answers_wrong_secret_with_401_and_correlation(base_url, tls_files):
    with trusting_session(tls_files) as session:
        response = session.post(
            f"{base_url}/cronus.onmicrosoft.com/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": EntraConfig().client_id,
                "client_secret": "nope-secret",
                "scope": SCOPE,
            },
            headers={"client-request-id": "12345678-aaaa-bbbb-cccc-1234567890ab"},
        )
    assert response.status_code == 401
    body = response.json()
    assert body["error"] == "invalid_client"
    assert body["correlation_id"] == "12345678-aaaa-bbbb-cccc-1234567890ab"
    assert response.headers["client-request-id"] == body["correlation_id"]
    assert "nope-secret" not in response.text
    assert response.headers["cache-control"].startswith("no-store")


def test_msal_client_credentials_with_certificate(base_url, tls_files, https_service):
    key_pem, cert_pem, thumbprint = self_signed_certificate()
    https_service.register_certificate(cert_pem)
    sha1_credential = {"private_key": key_pem, "thumbprint": thumbprint}
    with closing_app(confidential(https_service, base_url, tls_files, sha1_credential)) as app:
        result = app.acquire_token_for_client(scopes=[SCOPE])
    assert "access_token" in result, result
    assert https_service.validate_access_token(result["access_token"], None)["appidacr"] == "2"
    sha256_credential = {"private_key": key_pem, "public_certificate": cert_pem}  # PS256
    with closing_app(confidential(https_service, base_url, tls_files, sha256_credential)) as app:
        result = app.acquire_token_for_client(scopes=[SCOPE])
    assert "access_token" in result, result


def test_msal_auth_code_flow_with_pkce_then_rotating_refresh(base_url, tls_files, https_service):
    with (
        closing_app(public(https_service, base_url, tls_files, "organizations")) as app,
        trusting_session(tls_files) as browser,
    ):
        flow = app.initiate_auth_code_flow(  # form_post: msal warns on the others
            scopes=[SCOPE],
            redirect_uri="http://localhost:53100/callback",
            response_mode="form_post",
        )
        assert flow["code_verifier"]
        landing = browser.get(flow["auth_uri"], allow_redirects=False)
        assert landing.status_code == 200
        form = FormReader()
        form.feed(landing.text)
        assert form.action == "http://localhost:53100/callback"
        auth_response = form.fields
        result = app.acquire_token_by_auth_code_flow(flow, auth_response)
        assert "access_token" in result, result
        assert result["refresh_token"]
        assert result["id_token_claims"]["preferred_username"] == "admin@cronus.onmicrosoft.com"
        (account,) = app.get_accounts()
        assert account["username"] == "admin@cronus.onmicrosoft.com"
        silent = app.acquire_token_silent([SCOPE], account=account)
        assert silent is not None
        assert silent["token_source"] == "cache"
        claims = https_service.validate_access_token(result["access_token"], None)
        assert claims["scp"] == "Financials.ReadWrite.All user_impersonation"

        old = result["refresh_token"]
        rotated = app.acquire_token_by_refresh_token(old, scopes=[SCOPE])
        assert "access_token" in rotated, rotated
        assert rotated["refresh_token"] != old
        replay = app.acquire_token_by_refresh_token(old, scopes=[SCOPE])
        assert replay["error"] == "invalid_grant"
        assert replay["error_codes"] == [70000]
        again = app.acquire_token_by_refresh_token(rotated["refresh_token"], scopes=[SCOPE])
        assert "access_token" in again, again
    assert https_service.tokens_issued == {"authorization_code": 1, "refresh_token": 2}


def test_msal_device_code_flow(base_url, tls_files, https_service):
    with closing_app(public(https_service, base_url, tls_files)) as app:
        flow = app.initiate_device_flow(scopes=[SCOPE])
        assert "user_code" in flow, flow
        assert flow["interval"] == 1
        result = app.acquire_token_by_device_flow(flow)
        assert "access_token" in result, result
        assert result["refresh_token"]
        assert app.get_accounts()[0]["username"] == "admin@cronus.onmicrosoft.com"
    assert https_service.tokens_issued == {"device_code": 1}
    assert https_service.errors == {"authorization_pending": 1}


def test_token_lifetime_is_configurable_so_expiry_can_be_tested(tls_files: TlsFiles):
    # Long enough that a loaded machine still validates the token before it expires.
    service = EntraService(EntraConfig(access_token_lifetime=3))
    with (
        serve_https(Starlette(routes=entra_routes(service)), tls_files) as url,
        closing_app(confidential(service, url, tls_files, service.config.client_secret)) as app,
    ):
        result = app.acquire_token_for_client(scopes=[SCOPE])
        assert result["expires_in"] == 3
        token = result["access_token"]
        assert service.validate_access_token(token, None)["tid"] == service.config.tenant_id
        time.sleep(3.1)
        with pytest.raises(AccessTokenError) as caught:
            service.validate_access_token(token, None)
        assert caught.value.reason == "expired"
        # msal treats a token this short-lived as stale and fetches a fresh one.
        fresh = app.acquire_token_for_client(scopes=[SCOPE])
        assert fresh["token_source"] == "identity_provider"


def test_requests_ca_bundle_variable_overrides_msal_verify(
    base_url, tls_files, https_service, monkeypatch
):
    """A pitfall for clients: msal sets `Session.verify`, which `REQUESTS_CA_BUNDLE` overrides.

    A session that ignores the environment (or a bundle holding the emulator's CA in that
    variable) keeps verification on and working.
    """
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", ssl.get_default_verify_paths().openssl_cafile)
    with pytest.raises(requests.exceptions.SSLError):
        confidential(https_service, base_url, tls_files, https_service.config.client_secret)
    session = trusting_session(tls_files)
    session.trust_env = False
    with session:
        app = msal.ConfidentialClientApplication(
            https_service.config.client_id,
            client_credential=https_service.config.client_secret,
            authority=f"{base_url}/{https_service.config.tenant_id}",
            instance_discovery=False,
            http_client=session,
        )
        assert "access_token" in app.acquire_token_for_client(scopes=[SCOPE])


def test_authorize_endpoint_redirects_to_loopback_only(base_url, tls_files, https_service):
    authorize = f"{base_url}/common/oauth2/v2.0/authorize"
    params = {
        "client_id": https_service.config.public_client_id,
        "response_type": "code",
        "redirect_uri": "http://127.0.0.1:8765/",
        "scope": f"{SCOPE} openid",
        "state": "abc",
    }
    with trusting_session(tls_files) as browser:
        landing = browser.get(authorize, params=params, allow_redirects=False)
        assert landing.status_code == 302
        query = parse_qs(urlsplit(landing.headers["location"]).query)
        assert query["state"] == ["abc"]
        assert query["code"]
        evil = browser.get(
            authorize,
            params={**params, "redirect_uri": "https://attacker.example/"},
            allow_redirects=False,
        )
    assert evil.status_code == 400
    assert evil.json()["error_codes"] == [50011]
    assert "location" not in evil.headers
