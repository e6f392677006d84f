"""Sign-in and connection failures (issue 13, findings 4 and 8): retried when transient, one
clear line naming the setting when not, never a traceback, never a secret.

Everything runs over loopback against the emulator: its sign-in service with injected 408, 429
and 503 answers, its API with injected 401s, and a closed loopback port for "unreachable". How
long a run took is not asserted; how many attempts it made is (the retry warnings and the
emulator's counters), which is what bounds the time.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests
from businesscentral_api.client import BusinessCentralClient
from businesscentral_api.connection import QUICK_ATTEMPTS
from businesscentral_api.errors import (
    AuthenticationError,
    ConfigurationError,
    ConnectionFailedError,
    RetriesExhaustedError,
)
from businesscentral_api.http import RetryPolicy
from businesscentral_api.redact import redact
from businesscentral_api.settings import validate_settings
from tests_support import client_config, self_signed_certificate

if TYPE_CHECKING:
    from conftest import RunningEmulator

BIN = Path(sys.executable).parent
TOKEN_PATH = "oauth2/v2.0/token"  # noqa: S105 - a path, not a secret
BC_API_PATH = "api/v2.0"  # BC's API routes only; the sign-in routes are /{tenant}/oauth2/...
URL_PASSWORD = "pw-in-url-7c1e"  # noqa: S105 - a made-up password that must never be printed
GATEWAY_PAGE = "<html><body><h1>429 Too Many Requests</h1></body></html>"
BC_429_BODY = json.dumps(
    {"error": {"code": "Application_TooManyRequests", "message": "Too many requests reached."}}
)
BC_401_BODY = json.dumps(
    {
        "error": {
            "code": "Authentication_InvalidCredentials",
            "message": "The server has rejected the client credentials.  "
            "CorrelationId:  0b7ad5c3-6e0f-4a43-9c4c-2f3f1c0e5a11.",
        }
    }
)


# -- helpers ------------------------------------------------------------------------------------
def fault(emulator: RunningEmulator, **rule: Any) -> None:
    emulator.hook("POST", "faults", {"faults": [rule]})


def token_answers(emulator: RunningEmulator) -> Counter[int]:
    """Token endpoint answers so far, by status."""
    return Counter(
        {
            r["status"]: r["count"]
            for r in emulator.counters()["requests"]
            if r["method"] == "POST" and r["kind"] == "auth"
        }
    )


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _env() -> dict[str, str]:
    return {
        k: v for k, v in os.environ.items() if k not in {"REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"}
    }


class CliRun:
    def __init__(self, done: subprocess.CompletedProcess[str]) -> None:
        self.returncode = done.returncode
        self.stdout = done.stdout
        self.stderr = done.stderr

    @property
    def errors(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.startswith("Error:")]

    @property
    def retries(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if "; retry " in line]

    def assert_one_clear_line(self, *says: str, secrets: tuple[str, ...] = ()) -> str:
        assert self.returncode == 1, self.stderr
        assert "Traceback" not in self.stderr, self.stderr
        assert "TypeError" not in self.stderr, self.stderr
        assert len(self.errors) == 1, self.stderr
        line = self.errors[0]
        for words in says:
            assert words in line, line
        for secret in secrets:
            assert secret not in self.stderr
            assert secret not in self.stdout
        return line


def run_tap(tmp: Path, config: dict[str, Any]) -> CliRun:
    """The tap's discovery: signs in, reads $metadata and companies."""
    path = tmp / "tap-config.json"
    path.write_text(json.dumps(config))
    done = subprocess.run(
        [str(BIN / "tap-businesscentral"), "--config", str(path), "--discover"],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        env=_env(),
    )
    return CliRun(done)


def run_target(tmp: Path, config: dict[str, Any]) -> CliRun:
    """The target in dry-run with one customer: signs in, reads $metadata, plans, writes nothing."""
    path = tmp / "target-config.json"
    path.write_text(
        json.dumps({**config, "dry_run": True, "rejected_records_path": str(tmp / "rej.jsonl")})
    )
    messages = [
        {
            "type": "SCHEMA",
            "stream": "customers",
            "schema": {"type": "object", "properties": {}},
            "key_properties": [],
        },
        {"type": "RECORD", "stream": "customers", "record": {"number": "REL-AUTH-1"}},
    ]
    done = subprocess.run(
        [str(BIN / "target-businesscentral"), "--config", str(path)],
        input="".join(json.dumps(m) + "\n" for m in messages),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        env=_env(),
    )
    return CliRun(done)


RUNNERS = {"tap": run_tap, "target": run_target}


def config_for(emulator: RunningEmulator, **overrides: Any) -> dict[str, Any]:
    return client_config(emulator.info, **overrides)


@pytest.fixture(autouse=True)
def _clean_faults(emulator: RunningEmulator):
    yield
    emulator.hook("DELETE", "faults")


def self_signed_ca(folder: Path) -> Path:
    """A CA of our own that signed nothing the emulator serves: the wrong ca_bundle."""
    _, cert_pem, _ = self_signed_certificate("Not the emulator's CA", ca=True)
    path = folder / "wrong-ca.pem"
    path.write_text(cert_pem)
    return path


# -- finding 4: 408 / 429 / 503 from the sign-in endpoint ---------------------------------------
@pytest.mark.parametrize("status", [408, 429, 503])
def test_a_transient_sign_in_failure_is_retried_then_the_run_succeeds(emulator, status):
    fault(emulator, kind="status", status=status, retry_after=1, count=2, path_contains=TOKEN_PATH)
    before = token_answers(emulator)
    with BusinessCentralClient(config_for(emulator)) as client:
        assert client.companies(probe=False)
    after = token_answers(emulator)
    assert after[status] - before[status] == 2
    assert after[200] - before[200] == 1


@pytest.mark.parametrize(("status", "body"), [(429, GATEWAY_PAGE), (503, None)])
def test_a_transient_failure_of_openid_discovery_is_retried(emulator, status, body):
    """msal reads the tenant's OpenID configuration first; a 4xx there is a bare ValueError."""
    rule: dict[str, Any] = {"kind": "status", "status": status, "retry_after": 1, "count": 1}
    if body is not None:
        rule["body"] = body
    fault(emulator, **rule, path_contains="openid-configuration")
    with BusinessCentralClient(config_for(emulator)) as client:
        assert client.companies(probe=False)
        assert client.credential.tokens_acquired == 1


@pytest.mark.parametrize("body", [GATEWAY_PAGE, BC_429_BODY, ""])
def test_an_answer_that_is_not_an_oauth_error_is_retried_like_any_429(emulator, body):
    """A non-JSON 429 made msal raise ValueError, a BC-shaped one a TypeError on the next try."""
    fault(
        emulator,
        kind="status",
        status=429,
        retry_after=1,
        count=2,
        body=body,
        path_contains=TOKEN_PATH,
    )
    with BusinessCentralClient(config_for(emulator)) as client:
        assert client.companies(probe=False)


@pytest.mark.parametrize(
    ("runner", "status", "body"),
    [
        ("tap", 429, None),
        ("tap", 503, GATEWAY_PAGE),
        ("target", 408, None),
        ("target", 429, GATEWAY_PAGE),
    ],
)
def test_a_persistent_sign_in_failure_ends_in_one_line_after_bounded_attempts(
    emulator, tmp_path, runner, status, body
):
    rule: dict[str, Any] = {"kind": "status", "status": status, "retry_after": 1, "count": 50}
    fault(emulator, **rule, path_contains=TOKEN_PATH, **({"body": body} if body else {}))
    before = token_answers(emulator)
    run = RUNNERS[runner](tmp_path, config_for(emulator))
    line = run.assert_one_clear_line(
        "sign-in failed 5 times",
        f"HTTP {status}",
        "try again later",
        secrets=(emulator.info["client_secret"],),
    )
    assert emulator.info["authority_url"] in line
    assert token_answers(emulator)[status] - before[status] == 5  # the bound: 5 attempts
    assert len(run.retries) == 4


def test_the_emulators_sign_in_faults_have_entras_error_shape(emulator):
    """Entra's token errors: error, error_description, error_codes, timestamp, trace_id, ..."""
    info = emulator.info
    token_url = f"{info['authority_url']}/{info['tenant_id']}/oauth2/v2.0/token"
    form = {
        "grant_type": "client_credentials",
        "client_id": info["client_id"],
        "client_secret": info["client_secret"],
        "scope": "https://api.businesscentral.dynamics.com/.default",
    }
    with requests.Session() as session:
        session.trust_env = False
        for status, code in ((429, 90024), (503, 90033), (408, 90024)):
            fault(emulator, kind="status", status=status, retry_after=7, path_contains=TOKEN_PATH)
            answer = session.post(token_url, data=form, verify=info["ca_bundle"], timeout=30)
            assert answer.status_code == status
            assert answer.headers["Retry-After"] == "7"
            body = answer.json()
            assert set(body) == {
                "error",
                "error_description",
                "error_codes",
                "timestamp",
                "trace_id",
                "correlation_id",
                "error_uri",
            }
            assert body["error"] == "temporarily_unavailable"
            assert body["error_codes"] == [code]
            assert body["error_description"].startswith(f"AADSTS{code}: ")
        wrong = session.post(
            token_url, data={**form, "client_secret": "nope"}, verify=info["ca_bundle"], timeout=30
        )
        assert wrong.status_code == 401
        assert wrong.json()["error"] == "invalid_client"
        assert wrong.json()["error_codes"] == [7000215]
        assert "error" not in json.dumps(wrong.json()["error_codes"])
    # A BC path keeps BC's error shape.
    fault(emulator, kind="status", status=429, path_contains=BC_API_PATH)
    bc = emulator.get(emulator.api_root() + "/companies")
    assert bc.status_code == 429
    assert set(bc.json()) == {"error"}
    assert bc.json()["error"]["code"] == "Application_TooManyRequests"


# -- finding 8: a second 401 on one request ------------------------------------------------------
def test_a_second_401_says_bc_refused_the_token_and_what_to_check(emulator):
    fault(emulator, kind="token_expired", count=2, path_contains=BC_API_PATH)
    with (
        BusinessCentralClient(config_for(emulator)) as client,
        pytest.raises(AuthenticationError) as caught,
    ):
        client.get_json(client.urls.companies_url())
    message = str(caught.value)
    assert "no error message in the response" not in message
    assert "Microsoft Entra ID issued a token but Business Central refused it" in message
    assert "WWW-Authenticate: Bearer authorization_uri=" in message
    assert "Microsoft Entra Applications page" in message
    assert "API.ReadWrite.All" in message
    assert emulator.info["client_id"] in message


def test_a_second_401_with_a_bc_error_body_names_bcs_code_and_message(emulator):
    fault(
        emulator,
        kind="status",
        status=401,
        count=2,
        body=BC_401_BODY,
        path_contains=BC_API_PATH,
    )
    with (
        BusinessCentralClient(config_for(emulator)) as client,
        pytest.raises(AuthenticationError) as caught,
    ):
        client.get_json(client.urls.companies_url())
    error = caught.value
    assert error.code == "Authentication_InvalidCredentials"
    assert error.correlation_id == "0b7ad5c3-6e0f-4a43-9c4c-2f3f1c0e5a11"
    assert "HTTP 401 Authentication_InvalidCredentials: " in str(error)
    assert "The server has rejected the client credentials." in str(error)
    assert "Microsoft Entra Applications page" in str(error)


def test_a_second_401_via_the_tap_cli_is_one_line(emulator, tmp_path):
    fault(emulator, kind="token_expired", count=2, path_contains=BC_API_PATH)
    run = run_tap(tmp_path, config_for(emulator))
    run.assert_one_clear_line(
        "HTTP 401",
        "Microsoft Entra Applications page",
        secrets=(emulator.info["client_secret"],),
    )


def test_basic_auth_refused_names_username_and_password(emulator):
    info = emulator.info
    config = {
        "auth_type": "basic",
        "base_url": info["onprem_base_url"],
        "username": info["onprem_username"],
        "password": "wrong-key-5f2a",
        "ca_bundle": info["ca_bundle"],
    }
    with BusinessCentralClient(config) as client, pytest.raises(AuthenticationError) as caught:
        client.get_json(client.urls.companies_url())
    message = str(caught.value)
    assert "Business Central refused the credentials (HTTP 401" in message
    assert "check username and password" in message
    assert "wrong-key-5f2a" not in message


# -- finding 8: credentials in URLs --------------------------------------------------------------
@pytest.mark.parametrize("setting", ["api_url", "authority_url", "base_url"])
def test_a_password_in_a_url_setting_is_refused_without_printing_it(emulator, setting):
    url = emulator.info["api_url"].replace("https://", f"https://bcuser:{URL_PASSWORD}@")
    config = config_for(emulator, **{setting: url})
    with pytest.raises(ConfigurationError) as caught:
        validate_settings(config)
    assert str(caught.value).startswith(f"Setting {setting} has a user name or password in it")
    assert URL_PASSWORD not in str(caught.value)
    assert "bcuser" not in str(caught.value)


@pytest.mark.parametrize("runner", ["tap", "target"])
def test_a_password_in_api_url_via_the_cli_is_one_line_without_it(emulator, tmp_path, runner):
    url = emulator.info["api_url"].replace("https://", f"https://bcuser:{URL_PASSWORD}@")
    run = RUNNERS[runner](tmp_path, config_for(emulator, api_url=url))
    run.assert_one_clear_line(
        "Setting api_url has a user name or password in it",
        secrets=(URL_PASSWORD, emulator.info["client_secret"]),
    )


def test_redact_hides_url_credentials():
    text = "GET https://bcuser:s3cret@bc.example.com:7048/BC/api/v2.0 failed; http://a@b/c"
    assert redact(text) == "GET https://***@bc.example.com:7048/BC/api/v2.0 failed; http://***@b/c"


# -- finding 8: non-transient connection failures -------------------------------------------------
def test_a_certificate_file_without_a_private_key_fails_before_any_request(emulator, tmp_path):
    cert_only = tmp_path / "cert-only.pem"
    cert_only.write_text(Path(emulator.info["ca_bundle"]).read_text())
    config = config_for(emulator, client_secret=None, client_certificate_path=str(cert_only))
    before = token_answers(emulator)
    with pytest.raises(ConfigurationError) as caught:
        BusinessCentralClient(config)
    assert "client_certificate_path" in str(caught.value)
    assert "without a private key" in str(caught.value)
    assert token_answers(emulator) == before


def test_a_damaged_private_key_fails_before_any_request(emulator, tmp_path):
    damaged = tmp_path / "damaged.pem"
    damaged.write_text("-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n")
    config = config_for(emulator, client_secret=None, client_certificate_path=str(damaged))
    with pytest.raises(ConfigurationError) as caught:
        BusinessCentralClient(config)
    assert "client_certificate_path" in str(caught.value)
    assert "cannot be read" in str(caught.value)


@pytest.mark.parametrize("runner", ["tap", "target"])
def test_a_certificate_without_a_key_via_the_cli_is_one_line(emulator, tmp_path, runner):
    cert_only = tmp_path / "cert-only.pem"
    cert_only.write_text(Path(emulator.info["ca_bundle"]).read_text())
    config = config_for(emulator, client_secret=None, client_certificate_path=str(cert_only))
    run = RUNNERS[runner](tmp_path, config)
    run.assert_one_clear_line("client_certificate_path", "without a private key")
    assert not run.retries


@pytest.mark.parametrize("runner", ["tap", "target"])
def test_a_wrong_ca_bundle_fails_at_once_naming_ca_bundle(emulator, tmp_path, runner):
    wrong = self_signed_ca(tmp_path)
    before = token_answers(emulator)
    run = RUNNERS[runner](tmp_path, config_for(emulator, ca_bundle=str(wrong)))
    run.assert_one_clear_line(
        "TLS verification of 127.0.0.1",
        "certificate verify failed",
        "check ca_bundle",
        secrets=(emulator.info["client_secret"],),
    )
    assert not run.retries
    assert token_answers(emulator) == before  # no handshake completed, nothing reached Entra


def test_a_ca_bundle_that_is_not_pem_is_a_setting_error(emulator, tmp_path):
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    with pytest.raises(ConfigurationError) as caught:
        validate_settings(config_for(emulator, ca_bundle=str(junk)))
    assert str(caught.value).startswith("Setting ca_bundle names")


def test_a_bc_host_that_refuses_fails_after_a_few_quick_attempts(emulator):
    config = config_for(emulator, api_url=f"https://127.0.0.1:{closed_port()}")
    slept: list[float] = []
    with (
        BusinessCentralClient(config, sleep=slept.append) as client,
        pytest.raises(ConnectionFailedError) as caught,
    ):
        client.get_json(client.urls.companies_url())
    message = str(caught.value)
    assert "connection refused" in message
    assert "check api_url" in message
    assert len(slept) == QUICK_ATTEMPTS - 1
    assert sum(slept) < 5  # the policy's backoff would have waited minutes


def test_a_bc_host_that_answered_before_keeps_the_full_retry_policy(start_emulator):
    """Refused mid-run (a node restarting) is retried as usual, not given up after 3 tries."""
    own = start_emulator(seed=1, scale=0.1)
    slept: list[float] = []
    policy = RetryPolicy(max_attempts=5)
    with BusinessCentralClient(
        client_config(own.info), retry_policy=policy, sleep=slept.append
    ) as client:
        client.get_json(client.urls.companies_url())
        own.emulator.stop()
        with pytest.raises(RetriesExhaustedError) as caught:
            client.get_json(client.urls.companies_url())
    assert "gave up after 5 attempts" in str(caught.value)
    assert "connection refused" in str(caught.value)
    assert len(slept) == 4
    assert not isinstance(caught.value, ConnectionFailedError)


@pytest.mark.parametrize(
    ("runner", "setting"),
    [("tap", "api_url"), ("target", "api_url"), ("tap", "authority_url")],
)
def test_a_closed_port_via_the_cli_is_one_line_naming_the_setting(
    emulator, tmp_path, runner, setting
):
    config = config_for(emulator, **{setting: f"https://127.0.0.1:{closed_port()}"})
    run = RUNNERS[runner](tmp_path, config)
    run.assert_one_clear_line(
        "connection refused", f"check {setting}", secrets=(emulator.info["client_secret"],)
    )
    assert len(run.retries) <= QUICK_ATTEMPTS - 1
