"""BC's limits, injected faults and latency, and a bounded soak with two concurrent clients."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from businesscentral_emulator.chaos.limits import LimitSettings

OPEN = {
    "requests_per_window": 6000,
    "window_seconds": 300,
    "concurrent": 5,
    "queue": 95,
    "retry_after": True,
    "max_body_bytes": 350 * 1024 * 1024,
    "operation_timeout": 480,
}


@pytest.fixture(scope="module")
def bc(start_emulator):
    """An emulator of its own with BC's limits on."""
    return start_emulator(seed=3, scale=0.1, limits=LimitSettings(enabled=True))


@pytest.fixture(autouse=True)
def _restore(bc):
    yield
    bc.hook("POST", "config", {"limits": OPEN, "latency_ms": 0, "latency_per_kb_ms": 0})
    bc.hook("DELETE", "faults")


def configure(bc, **limits: Any) -> None:
    bc.hook("POST", "config", {"limits": {**OPEN, **limits}})


def test_sliding_window_answers_429_with_retry_after(bc):
    bc.token()
    configure(bc, requests_per_window=3, window_seconds=60)
    before = bc.counters()["throttled"]
    statuses = [bc.get(f"{bc.api_root()}/companies").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    refused = bc.get(f"{bc.api_root()}/companies")
    assert refused.json()["error"]["code"] == "Application_TooManyRequests"
    assert int(refused.headers["Retry-After"]) > 0
    configure(bc, requests_per_window=3, window_seconds=60, retry_after=False)
    assert "Retry-After" not in bc.get(f"{bc.api_root()}/companies").headers
    assert bc.counters()["throttled"] == before + 3


def test_each_batch_operation_counts_against_the_window(bc):
    configure(bc, requests_per_window=5, window_seconds=0.5)
    time.sleep(0.6)
    ops = [{"id": str(i), "method": "GET", "url": "companies"} for i in range(7)]
    body = bc.request(
        "POST",
        f"{bc.api_root()}/$batch",
        json={"requests": ops},
        headers={"Prefer": "odata.continue-on-error"},
    ).json()
    assert [r["status"] for r in body["responses"]] == [200] * 5 + [429] * 2


def test_concurrency_beyond_slots_and_queue_is_429(bc):
    bc.token()
    configure(bc, concurrent=1, queue=1)
    bc.hook(
        "POST",
        "faults",
        {"faults": [{"kind": "slow", "seconds": 1.0, "count": 2, "path_contains": "/companies"}]},
    )
    url = f"{bc.api_root()}/companies"
    with ThreadPoolExecutor(3) as pool:
        futures = [pool.submit(bc.get, url)]
        time.sleep(0.2)
        futures.append(pool.submit(bc.get, url))
        time.sleep(0.2)
        futures.append(pool.submit(bc.get, url))
        statuses = [f.result().status_code for f in futures]
    assert statuses == [200, 200, 429]


def test_body_size_limit(bc):
    configure(bc, max_body_bytes=200)
    response = bc.request("POST", bc.company_url("customers"), json={"displayName": "x" * 300})
    assert response.status_code == 413


def test_slow_operation_times_out_with_408(bc):
    configure(bc, operation_timeout=0.2)
    bc.hook("POST", "faults", {"faults": [{"kind": "slow", "seconds": 1.0, "count": 1}]})
    response = bc.get(f"{bc.api_root()}/companies")
    assert response.status_code == 408
    assert response.json()["error"]["code"] == "Request_Timeout"


def fault_pattern(bc, seed: int) -> list[int]:
    bc.hook("DELETE", "faults")
    bc.hook("POST", "config", {"fault_seed": seed})
    rule = {
        "kind": "status",
        "status": 503,
        "rate": 0.3,
        "retry_after": 2,
        "path_contains": "/companies",
    }
    bc.hook("POST", "faults", {"faults": [rule]})
    return [bc.get(f"{bc.api_root()}/companies").status_code for _ in range(30)]


def test_rate_faults_are_deterministic_for_a_seed(bc):
    bc.token()
    bc.hook("DELETE", "counters")
    runs = [fault_pattern(bc, 42), fault_pattern(bc, 42), fault_pattern(bc, 43)]
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]
    assert set(runs[0]) == {200, 503}
    assert bc.counters()["faults"]["status"] == sum(run.count(503) for run in runs)


def test_token_expiry_fault_answers_401(bc):
    bc.hook("POST", "faults", {"faults": [{"kind": "token_expired", "count": 1}]})
    response = bc.get(f"{bc.api_root()}/companies")
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    assert bc.get(f"{bc.api_root()}/companies").status_code == 200


def test_latency_per_request_and_per_kb(bc):
    bc.token()
    url = f"{bc.api_root()}/companies"
    bc.hook("POST", "config", {"latency_ms": 150})
    started = time.perf_counter()
    bc.get(url)
    assert time.perf_counter() - started >= 0.15
    bc.hook("POST", "config", {"latency_ms": 0, "latency_per_kb_ms": 100})
    started = time.perf_counter()
    body = bc.get(bc.company_url("customers"), headers={"Accept-Encoding": "identity"}).content
    assert time.perf_counter() - started >= len(body) / 1024 * 0.1 * 0.9


# -- soak --------------------------------------------------------------------------------------


def test_two_clients_with_faults_on_keep_the_emulator_up_and_counted(start_emulator):
    bc = start_emulator(seed=5, scale=0.1, fault_seed=9)
    bc.token()
    bc.hook(
        "POST",
        "faults",
        {
            "faults": [
                {"kind": "status", "status": 503, "rate": 0.05, "path_contains": "/api/"},
                {"kind": "deadlock", "rate": 0.03, "method": "PATCH"},
                {"kind": "reset", "rate": 0.02, "method": "GET", "path_contains": "/customers("},
            ]
        },
    )
    bc.hook("DELETE", "counters")
    # The issue asks for a minute of two clients with faults on: bounded by time and by count.
    deadline = time.monotonic() + 60
    sent = [0, 0]
    created: list[list[str]] = [[], []]
    lock = threading.Lock()

    def client(index: int) -> None:
        session = requests.Session()
        session.trust_env = False  # REQUESTS_CA_BUNDLE would override `verify`
        session.verify = bc.info["ca_bundle"]
        session.headers["Authorization"] = f"Bearer {bc.token()}"
        url = bc.company_url("customers")
        for step in range(5000):
            if time.monotonic() > deadline:
                break
            try:
                sent[index] += 1
                response = session.post(
                    url, json={"displayName": f"soak {index}-{step}"}, timeout=30
                )
                if response.status_code != 201:
                    continue
                row = response.json()
                with lock:
                    created[index].append(row["id"])
                sent[index] += 1
                one = session.get(f"{url}({row['id']})", timeout=30)
                etag = one.json()["@odata.etag"] if one.ok else row["@odata.etag"]
                sent[index] += 1
                session.patch(
                    f"{url}({row['id']})",
                    json={"city": "Soak"},
                    headers={"If-Match": etag},
                    timeout=30,
                )
                sent[index] += 1
                session.get(url, params={"$top": 5}, timeout=30)
            except requests.ConnectionError:
                continue
        session.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    bc.hook("DELETE", "faults")
    counters = bc.counters()
    api_requests = counters["by_kind"].get("api", 0)
    assert api_requests == sum(sent)
    assert sum(counters["faults"].values()) > 0
    assert counters["writes"]["POST"] == len(created[0]) + len(created[1])
    ids = {row["id"] for row in bc.get_all(bc.company_url("customers"))}
    assert set(created[0]) | set(created[1]) <= ids
    assert bc.get(f"{bc.api_root()}/companies").status_code == 200
