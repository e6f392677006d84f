"""Retry rules of the HTTP client, with a scripted session (no network): what is retried, when,
how long it waits, and when a write's outcome is unknown."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
import urllib3
from businesscentral_api.connection import CONNECT_TIMEOUT, QUICK_ATTEMPTS, QUICK_DELAY
from businesscentral_api.errors import (
    AuthenticationError,
    BusinessCentralError,
    ConnectionFailedError,
    OutcomeUnknownError,
    RetriesExhaustedError,
)
from businesscentral_api.http import HttpClient, RetryPolicy
from businesscentral_api.ratelimit import RateLimiter

URL = "https://bc.example.com/v2.0/t/production/api/v2.0/companies"
DEADLOCK = {
    "error": {
        "code": "Internal_ServerError",
        "message": "The activity was deadlocked with another user. Please retry the activity.",
    }
}


def reply(
    status: int, body: Any = None, headers: dict[str, str] | None = None
) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = json.dumps(body).encode() if body is not None else b""
    response.headers.update(headers or {})
    return response


class ScriptedSession:
    """Answers each request with the next scripted response or exception."""

    def __init__(self, *script: requests.Response | Exception) -> None:
        self.script = list(script)
        self.calls: list[dict[str, Any]] = []
        self.verify: Any = True

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        self.calls.append({"method": method, "url": url, **kwargs})
        item = self.script.pop(0)
        if isinstance(item, Exception):
            raise item
        return item


class FakeCredential:
    def __init__(self) -> None:
        self.generation = 0
        self.invalidated: list[str] = []

    def authorization(self) -> str:
        return f"Bearer token-{self.generation}"

    def invalidate(self, authorization: str) -> bool:
        self.invalidated.append(authorization)
        self.generation += 1
        return True


class FakeTime:
    """A clock that moves only when the client sleeps, so waits cost no wall time."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def make_client(session: ScriptedSession, **policy: Any) -> tuple[HttpClient, list[float]]:
    fake = FakeTime()
    client = HttpClient(
        session,  # type: ignore[arg-type]
        FakeCredential(),
        limiter=RateLimiter(1000, 60, 5, clock=fake.clock),
        policy=RetryPolicy(**policy),
        timeout=7,
        verify="/ca.pem",
        sleep=fake.sleep,
        clock=fake.clock,
        rng=lambda: 0.5,
    )
    return client, fake.slept


OK = {"value": [{"id": 1}]}


@pytest.mark.parametrize("status", [408, 429, 502, 503, 504])
def test_reads_retry_transient_statuses_and_honour_retry_after(status):
    session = ScriptedSession(reply(status, {}, {"Retry-After": "7"}), reply(200, OK))
    client, slept = make_client(session)
    assert client.get_json(URL) == OK
    assert slept == [7.0]
    assert len(session.calls) == 2


def test_reads_back_off_exponentially_with_jitter_without_retry_after():
    session = ScriptedSession(reply(503), reply(503), reply(503), reply(200, OK))
    client, slept = make_client(session, backoff_base=2)
    client.get_json(URL)
    # equal jitter with rng 0.5: 3/4 of 2, 4, 8
    assert slept == [1.5, 3.0, 6.0]


def test_deadlock_is_retried_for_reads_and_writes():
    session = ScriptedSession(
        reply(409, DEADLOCK), reply(200, OK), reply(409, DEADLOCK), reply(201, OK)
    )
    client, _ = make_client(session)
    client.get_json(URL)
    assert client.request("POST", URL, json_body={"a": 1}).status == 201
    assert len(session.calls) == 4


def test_stale_etag_conflict_is_not_retried():
    body = {
        "error": {
            "code": "Request_EntityChanged",
            "message": "Another user has already changed the record.  CorrelationId:  abc-1.",
        }
    }
    session = ScriptedSession(reply(409, body))
    client, _ = make_client(session)
    with pytest.raises(BusinessCentralError) as caught:
        client.request("PATCH", URL, json_body={}, headers={"If-Match": "*"})
    assert caught.value.code == "Request_EntityChanged"
    assert caught.value.correlation_id == "abc-1"
    assert len(session.calls) == 1


def test_connection_errors_and_truncated_bodies_are_retried_for_reads():
    session = ScriptedSession(
        requests.ConnectionError("reset by peer"),
        requests.exceptions.ChunkedEncodingError("IncompleteRead"),
        reply(200, None),
        reply(200, OK),
    )
    session.script[2]._content = b'{"value": [{"id"'  # complete framing, cut JSON
    client, _ = make_client(session)
    assert client.get_json(URL) == OK
    assert len(session.calls) == 4


@pytest.mark.parametrize(
    "failure",
    [
        reply(502),
        reply(503),
        reply(504),
        reply(408),
        requests.ConnectionError("Connection aborted."),
        requests.ReadTimeout("read timed out"),
    ],
)
def test_writes_are_not_blindly_retried_when_the_outcome_is_unknown(failure):
    session = ScriptedSession(failure, reply(201, OK))
    client, _ = make_client(session)
    with pytest.raises(OutcomeUnknownError, match="may or may not"):
        client.request("POST", URL, json_body={"displayName": "x"})
    assert len(session.calls) == 1


def test_writes_retry_when_bc_cannot_have_acted():
    never_connected = requests.ConnectionError(
        urllib3.exceptions.MaxRetryError(
            None,
            URL,
            urllib3.exceptions.NewConnectionError(None, "refused"),  # type: ignore[arg-type]
        )
    )
    session = ScriptedSession(
        reply(429, {}, {"Retry-After": "2"}),
        never_connected,
        requests.ConnectTimeout("connect timed out"),
        reply(201, OK),
    )
    client, slept = make_client(session)
    assert client.request("POST", URL, json_body={"a": 1}).status == 201
    assert slept[0] == 2.0
    assert len(session.calls) == 4


def test_idempotent_writes_may_be_retried_on_any_transient_failure():
    session = ScriptedSession(reply(504), reply(200, OK))
    client, _ = make_client(session)
    assert client.request("PATCH", URL, json_body={}, idempotent=True).status == 200


def test_attempts_and_total_time_are_bounded():
    session = ScriptedSession(*[reply(503) for _ in range(3)])
    client, _ = make_client(session, max_attempts=3)
    with pytest.raises(RetriesExhaustedError) as caught:
        client.get_json(URL)
    assert caught.value.status == 503
    assert len(session.calls) == 3

    session = ScriptedSession(reply(503, {}, {"Retry-After": "120"}))
    client, slept = make_client(session, max_total_seconds=60)
    with pytest.raises(RetriesExhaustedError):
        client.get_json(URL)
    assert slept == []


def test_a_401_renews_the_token_once_then_fails():
    session = ScriptedSession(reply(401), reply(200, OK))
    client, _ = make_client(session)
    client.get_json(URL)
    headers = [call["headers"]["Authorization"] for call in session.calls]
    assert headers == ["Bearer token-0", "Bearer token-1"]

    session = ScriptedSession(reply(401), reply(401), reply(200, OK))
    client, _ = make_client(session)
    with pytest.raises(AuthenticationError) as caught:
        client.get_json(URL)
    assert caught.value.status == 401
    assert len(session.calls) == 2


def test_every_request_has_timeout_and_explicit_verify_and_no_redirects():
    session = ScriptedSession(reply(200, OK))
    client, _ = make_client(session)
    client.get_json(URL)
    call = session.calls[0]
    assert call["timeout"] == (7, 7)  # (connect, read); connecting is bounded apart
    assert call["verify"] == "/ca.pem"
    assert call["allow_redirects"] is False
    assert session.verify == "/ca.pem"


def test_connecting_is_bounded_apart_from_a_long_read_timeout():
    """A host that drops SYNs must not cost request_timeout (600 s) per attempt."""
    session = ScriptedSession(reply(200, OK))
    client, _ = make_client(session)
    client.timeout = 600
    client.get_json(URL)
    assert session.calls[0]["timeout"] == (CONNECT_TIMEOUT, 600)


def test_tls_verification_cannot_be_disabled():
    with pytest.raises(ValueError, match="TLS"):
        HttpClient(ScriptedSession(), None, verify=False)  # type: ignore[arg-type]


def test_credentials_are_not_sent_over_plain_http():
    session = ScriptedSession(reply(200, OK))
    client, _ = make_client(session)
    with pytest.raises(Exception, match="https"):
        client.get_json("http://bc.example.com/api/v2.0/companies")
    assert session.calls == []


def test_a_host_that_never_accepts_a_connection_gets_only_quick_attempts():
    session = ScriptedSession(*[requests.ConnectTimeout("connect timed out") for _ in range(3)])
    client, slept = make_client(session)
    with pytest.raises(ConnectionFailedError) as caught:
        client.get_json(URL)
    assert "did not accept a connection" in str(caught.value)
    assert "check api_url / base_url" in str(caught.value)
    assert len(session.calls) == QUICK_ATTEMPTS
    assert slept == [QUICK_DELAY] * (QUICK_ATTEMPTS - 1)
