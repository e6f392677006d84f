"""No secret or token in logs, exception messages or reprs, whatever the flow or failure."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from businesscentral_api.client import BusinessCentralClient
from businesscentral_api.errors import BusinessCentralError
from businesscentral_api.http import RetryPolicy


def config(emulator, **overrides: Any) -> dict[str, Any]:
    info = emulator.info
    base = {
        "tenant_id": info["tenant_domain"],
        "client_id": info["client_id"],
        "client_secret": info["client_secret"],
        "api_url": info["api_url"],
        "authority_url": info["authority_url"],
        "ca_bundle": info["ca_bundle"],
    }
    return {**base, **overrides}


def test_secrets_and_tokens_never_reach_logs_errors_or_reprs(emulator, caplog):
    secret = emulator.info["client_secret"]
    texts: list[str] = []
    caplog.set_level(logging.DEBUG)  # every logger: ours, msal's, urllib3's
    try:
        with BusinessCentralClient(
            config(emulator), retry_policy=RetryPolicy(max_attempts=2), sleep=lambda _: None
        ) as client:
            client.get_json(client.urls.companies_url())
            token = client.credential.authorization().removeprefix("Bearer ")
            texts += [repr(client), repr(client.credential), repr(client.settings)]
            for rule in (
                {"kind": "status", "status": 401, "count": 2, "path_contains": "/companies"},
                {"kind": "status", "status": 503, "count": 5, "path_contains": "/companies"},
                {"kind": "reset", "count": 1, "method": "POST"},
            ):
                emulator.hook("POST", "faults", {"faults": [rule]})
                method = str(rule.get("method", "GET"))
                with pytest.raises(BusinessCentralError) as caught:
                    client.request(method, client.urls.companies_url(), json_body={})
                texts += [str(caught.value), repr(caught.value)]
                emulator.hook("DELETE", "faults")
        wrong = "Wr0ng~secret-value-987654"
        with BusinessCentralClient(config(emulator, client_secret=wrong)) as client:
            with pytest.raises(BusinessCentralError) as caught:
                client.get_json(client.urls.companies_url())
            texts += [str(caught.value), repr(caught.value)]
    finally:
        emulator.hook("DELETE", "faults")
    texts += [record.getMessage() for record in caplog.records]
    texts.append(caplog.text)
    assert len(texts) > 10
    for text in texts:
        assert secret not in text
        assert token not in text
        assert token[:40] not in text
        assert wrong not in text
