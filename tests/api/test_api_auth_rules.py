"""Sign-in rules with msal over a scripted transport (no network): transient token errors are
retried past msal's replay of cached failures, permanent ones are not, errors keep the AADSTS code
and never a secret, and a 401 drops the token from msal's cache too."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
import requests
from businesscentral_api.auth import EntraCredential, MsalTransport, tenant_from_token
from businesscentral_api.errors import AuthenticationError
from businesscentral_api.settings import Settings

AUTHORITY = "https://login.example.com"
TENANT = "contoso.onmicrosoft.com"
TID = "5b2f3e7c-9a41-4d6e-8c0b-1f2a3d4e5f60"
SECRET = "sEcReT~value-123"  # noqa: S105 - a test secret, searched for in messages


def jwt_like(tid: str, n: int) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    return f"{part({'alg': 'none'})}.{part({'tid': tid, 'n': n})}.sig"


def reply(status: int, body: Any, headers: dict[str, str] | None = None) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = json.dumps(body).encode()
    response.headers.update(headers or {})
    return response


def token_reply(n: int) -> requests.Response:
    return reply(
        200,
        {"access_token": jwt_like(TID, n), "token_type": "Bearer", "expires_in": 3599},
    )


class ScriptedTransport(MsalTransport):
    """Serves OpenID discovery and scripted token-endpoint answers."""

    def __init__(self, *token_replies: requests.Response) -> None:
        super().__init__(requests.Session(), verify="/ca.pem", timeout=5)
        self.token_replies = list(token_replies)
        self.posts = 0

    def _send(self, method: str, url: str, kwargs: dict[str, Any]) -> requests.Response:
        assert url.startswith(AUTHORITY)
        if method == "GET":
            response = reply(
                200,
                {
                    "token_endpoint": f"{AUTHORITY}/{TENANT}/oauth2/v2.0/token",
                    "authorization_endpoint": f"{AUTHORITY}/{TENANT}/oauth2/v2.0/authorize",
                    "device_authorization_endpoint": f"{AUTHORITY}/{TENANT}/oauth2/v2.0/devicecode",
                    "issuer": f"{AUTHORITY}/{TID}/v2.0",
                },
            )
        else:
            self.posts += 1
            assert kwargs["data"]["client_secret"] == SECRET or "Authorization" in kwargs["headers"]
            response = self.token_replies.pop(0)
        self._local.status = response.status_code
        retry_after = response.headers.get("Retry-After", "")
        self._local.retry_after = float(retry_after) if retry_after.isdigit() else None
        return response


def credential(transport: ScriptedTransport) -> tuple[EntraCredential, list[float]]:
    settings = Settings.from_config(
        {
            "tenant_id": TENANT,
            "client_id": "app-id",
            "client_secret": SECRET,
            "authority_url": AUTHORITY,
        }
    )
    slept: list[float] = []
    return EntraCredential(settings, transport, sleep=slept.append, rng=lambda: 0.5), slept


def test_a_transient_token_error_is_retried_not_replayed_from_msals_cache():
    transport = ScriptedTransport(reply(503, {"error": "temporarily_unavailable"}), token_reply(1))
    entra, slept = credential(transport)
    assert entra.authorization() == f"Bearer {jwt_like(TID, 1)}"
    # msal would replay the 503 for 5 s; we waited 0.75 s and the retry still reached the wire.
    assert transport.posts == 2
    assert slept == [0.75]


def test_throttled_sign_in_waits_for_retry_after():
    throttled = reply(429, {"error": "temporarily_unavailable"}, {"Retry-After": "3"})
    transport = ScriptedTransport(throttled, token_reply(1))
    entra, slept = credential(transport)
    entra.authorization()
    assert slept == [3.0]
    assert transport.posts == 2


def test_a_refused_secret_is_not_retried_and_the_message_names_the_aadsts_code():
    refused = reply(
        401,
        {
            "error": "invalid_client",
            "error_description": "AADSTS7000215: Invalid client secret provided. "
            f"Ensure the secret being sent is the one for {SECRET}.\r\nTrace ID: t",
            "error_codes": [7000215],
        },
    )
    transport = ScriptedTransport(refused)
    entra, slept = credential(transport)
    with pytest.raises(AuthenticationError) as caught:
        entra.authorization()
    message = str(caught.value)
    assert "invalid_client" in message
    assert "AADSTS7000215" in message
    assert "Invalid client secret provided" in message
    assert SECRET not in message
    assert SECRET not in repr(entra)
    assert transport.posts == 1
    assert slept == []


def test_retries_are_bounded():
    transport = ScriptedTransport(*[reply(503, {}) for _ in range(5)])
    entra, slept = credential(transport)
    with pytest.raises(AuthenticationError, match="sign-in failed"):
        entra.authorization()
    assert transport.posts == 5
    assert len(slept) == 4


def test_tokens_are_reused_and_a_401_drops_them_from_msals_cache():
    transport = ScriptedTransport(token_reply(1), token_reply(2))
    entra, _ = credential(transport)
    first = entra.authorization()
    assert entra.authorization() == first
    assert transport.posts == 1
    assert entra.invalidate(first) is True
    second = entra.authorization()
    assert second != first
    assert transport.posts == 2


def test_tenant_guid_comes_from_the_tokens_tid():
    transport = ScriptedTransport(token_reply(1))
    entra, _ = credential(transport)
    assert entra.tenant_guid == TID
    assert tenant_from_token("opaque") is None
    assert tenant_from_token("a.!!!.c") is None
