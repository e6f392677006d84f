"""The HTTP client and the facade against the emulator: injected faults, the rate limiter,
paging, metadata, company discovery and filter literals over real HTTPS."""

from __future__ import annotations

import decimal
import threading
import time
from collections import Counter
from typing import Any

import jsonschema
import pytest
from businesscentral_api.batch import BatchOperation, send_batch
from businesscentral_api.client import BusinessCentralClient
from businesscentral_api.companies import list_environments
from businesscentral_api.errors import (
    BusinessCentralError,
    ConfigurationError,
    OutcomeUnknownError,
    RetriesExhaustedError,
)
from businesscentral_api.http import RetryPolicy
from businesscentral_api.odata import filter_expr
from tests_support import client_config


def base_config(emulator, **overrides: Any) -> dict[str, Any]:
    return client_config(emulator.info, **overrides)


def counts(emulator) -> Counter[tuple[str, str, int]]:
    rows = emulator.counters()["requests"]
    return Counter({(r["method"], r["kind"], r["status"]): r["count"] for r in rows})


def api_calls(before: Counter, after: Counter, method: str, status: int | None = None) -> int:
    return sum(
        n - before[key]
        for key, n in after.items()
        if key[0] == method and key[1] == "api" and (status is None or key[2] == status)
    )


def fault(emulator, **rule: Any) -> None:
    emulator.hook("POST", "faults", {"faults": [rule]})


class Recorder:
    """Counts the client's waits without spending them (Retry-After is still honoured)."""

    def __init__(self) -> None:
        self.slept: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.slept.append(seconds)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def client(emulator, recorder):
    with BusinessCentralClient(
        base_config(emulator, request_timeout=2),
        retry_policy=RetryPolicy(max_attempts=4),
        sleep=recorder,
    ) as made:
        made.get_json(made.urls.companies_url())  # sign in before counting
        yield made
    emulator.hook("DELETE", "faults")


def customers_url(client, emulator) -> str:
    return client.urls.entity_set_url("customers", emulator.info["companies"][0]["id"])


@pytest.mark.parametrize(
    "rule",
    [
        {"kind": "status", "status": 429, "retry_after": 1},
        {"kind": "status", "status": 503, "retry_after": 1},
        {"kind": "status", "status": 502},
        {"kind": "status", "status": 504},
        {"kind": "status", "status": 408},
        {"kind": "deadlock"},
        {"kind": "reset"},
        {"kind": "truncate"},
    ],
    ids=lambda rule: f"{rule['kind']}-{rule.get('status', '')}",
)
def test_reads_survive_injected_faults(emulator, client, recorder, rule):
    url = customers_url(client, emulator)
    expected = client.get_json(url, {"$select": "id,displayName"})
    fault(emulator, count=2, method="GET", path_contains="customers", **rule)
    before = counts(emulator)
    assert client.get_json(url, {"$select": "id,displayName"}) == expected
    assert len(recorder.slept) == 2
    if "retry_after" in rule:
        assert all(delay >= rule["retry_after"] for delay in recorder.slept)
    assert emulator.counters()["faults"][rule["kind"]] >= 2
    if rule["kind"] == "status":
        assert api_calls(before, counts(emulator), "GET", rule["status"]) == 2


def test_a_stalled_response_times_out_and_is_retried(emulator, client, recorder):
    fault(emulator, kind="stall", seconds=4, count=1, method="GET", path_contains="customers")
    assert client.get_json(customers_url(client, emulator), {"$top": 1})["value"]
    assert len(recorder.slept) == 1


def test_retries_are_bounded_and_the_error_keeps_bcs_code(emulator, client, recorder):
    fault(emulator, kind="status", status=503, count=10, method="GET", path_contains="customers")
    before = counts(emulator)
    with pytest.raises(RetriesExhaustedError) as caught:
        client.get_json(customers_url(client, emulator))
    assert caught.value.status == 503
    assert caught.value.code == "Application_ServiceUnavailable"
    assert api_calls(before, counts(emulator), "GET") == 4
    assert len(recorder.slept) == 3


@pytest.mark.parametrize("kind", ["reset", "status"])
def test_writes_are_not_blindly_retried(emulator, client, kind):
    rule = {"kind": kind, "count": 1, "method": "POST", "path_contains": "customers"}
    if kind == "status":
        rule["status"] = 504
    fault(emulator, **rule)
    before = counts(emulator)
    with pytest.raises(OutcomeUnknownError, match="may or may not"):
        client.request("POST", customers_url(client, emulator), json_body={"displayName": "X"})
    assert api_calls(before, counts(emulator), "POST") == 1


def test_a_throttled_write_is_retried_after_retry_after(emulator, client, recorder):
    fault(emulator, kind="status", status=429, retry_after=1, count=1, method="POST")
    before = counts(emulator)
    outcome: BusinessCentralError | None = None
    try:
        client.request("POST", customers_url(client, emulator), json_body={"displayName": "Y"})
    except BusinessCentralError as exc:  # whatever the emulator answers the second time
        outcome = exc
    assert not isinstance(outcome, OutcomeUnknownError)
    assert api_calls(before, counts(emulator), "POST") == 2
    assert recorder.slept[0] >= 1
    emulator.hook("POST", "reset")


def test_rate_limiter_keeps_a_burst_under_the_window(emulator):
    window = 0.5
    config = base_config(emulator, requests_per_5_minutes=4, max_concurrency=2)
    with BusinessCentralClient(config, window_seconds=window) as client:
        url = client.urls.companies_url()
        client.get_json(url)
        starts: list[float] = []
        lock = threading.Lock()
        original = client.session.request

        def timed(*args: Any, **kwargs: Any) -> Any:
            with lock:
                starts.append(time.monotonic())
            return original(*args, **kwargs)

        client.session.request = timed  # type: ignore[method-assign]
        before = counts(emulator)
        threads = [
            threading.Thread(target=lambda: [client.get_json(url) for _ in range(3)])
            for _ in range(4)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        after = counts(emulator)
        assert api_calls(before, after, "GET", 200) == 12
        assert api_calls(before, after, "GET", 429) == 0
        starts.sort()
        for i, start in enumerate(starts):
            assert sum(1 for s in starts[i:] if s - start < window) <= 4
        assert client.limiter.peak_in_flight <= 2
        assert client.limiter.waits > 0


def test_pages_follow_next_link_without_resending_params(emulator, client):
    url = customers_url(client, emulator)
    params = {"$select": "id,displayName,balanceDue", "$orderby": "displayName"}
    everything = client.get_json(url, params)["value"]
    seen: list[str] = []
    original = client.session.request

    def recording(method: str, target: str, **kwargs: Any) -> Any:
        seen.append(target)
        return original(method, target, **kwargs)

    client.session.request = recording  # type: ignore[method-assign]
    pages = list(client.iter_pages(url, params, page_size=7))
    assert [r["id"] for page in pages for r in page] == [r["id"] for r in everything]
    assert len(pages) == len(seen) >= 2
    assert all(len(page) <= 7 for page in pages)
    for target in seen[1:]:
        assert target.count("$select") <= 1  # the opaque link, no params appended
    assert all(isinstance(r["balanceDue"], (int, decimal.Decimal)) for r in everything)


def test_metadata_standard_and_custom_is_fetched_once(emulator, client):
    before = counts(emulator)
    model = client.metadata()
    assert len(model.entity_sets) == 87
    assert client.metadata("v2.0") is model
    custom = client.metadata("contoso/sales/v1.0")
    assert "customers" in custom.entity_sets
    after = counts(emulator)
    assert sum(n - before[k] for k, n in after.items() if k[1] == "metadata") == 2
    record = client.get_json(customers_url(client, emulator), {"$top": 1})["value"][0]
    record.pop("@odata.etag", None)
    jsonschema.Draft202012Validator(
        model.json_schema("customers"),
        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
    ).validate(record)


def test_companies_by_id_and_by_name(emulator):
    first, second = emulator.info["companies"][:2]
    config = base_config(emulator, company_ids=[first["id"].upper(), second["name"]])
    with BusinessCentralClient(config) as client:
        chosen = client.companies()
        assert [c.id for c in chosen] == [first["id"], second["id"]]
    unknown = BusinessCentralClient(base_config(emulator, company_ids=["No Such Co"]))
    with unknown, pytest.raises(ConfigurationError, match=r"Setting company_ids has 'No Such Co'"):
        unknown.companies()


def test_a_company_the_principal_cannot_open_is_skipped_with_a_warning(emulator, caplog):
    first, second = emulator.info["companies"][:2]
    with BusinessCentralClient(base_config(emulator)) as client:
        fault(emulator, kind="status", status=404, count=1, path_contains=second["id"])
        with caplog.at_level("WARNING", logger="businesscentral_api.companies"):
            chosen = client.companies()
    emulator.hook("DELETE", "faults")
    ids = [c.id for c in chosen]
    assert first["id"] in ids
    assert second["id"] not in ids
    assert any(second["name"] in r.getMessage() for r in caplog.records)


def test_environments(emulator):
    with BusinessCentralClient(base_config(emulator)) as client:
        names = {e.name for e in list_environments(client)}
    assert {"production", "sandbox"} <= names


def test_filter_literals_cannot_change_meaning_over_http(emulator, client):
    company = emulator.info["companies"][0]["id"]
    emulator.hook(
        "POST",
        "insert",
        {"entity_set": "customers", "company": company, "rows": [{"displayName": "O'Brien"}]},
    )
    try:
        url = customers_url(client, emulator)
        found = client.get_json(url, {"$filter": filter_expr("displayName", "eq", "O'Brien")})
        assert [r["displayName"] for r in found["value"]] == ["O'Brien"]
        sneaky = filter_expr("displayName", "eq", "x' or 1 eq 1")
        assert client.get_json(url, {"$filter": sneaky})["value"] == []
        sneaky = filter_expr("displayName", "eq", "O'Brien' or displayName ne '")
        assert client.get_json(url, {"$filter": sneaky})["value"] == []
    finally:
        emulator.hook("POST", "reset")


@pytest.mark.parametrize("count_operations", [False, True])
def test_a_batch_of_reads_counts_once_or_per_operation(emulator, client, count_operations):
    company = emulator.companies[0]["id"]
    operations = [
        BatchOperation("GET", f"companies({company})/customers?$top=1"),
        BatchOperation("GET", f"companies({company})/items?$top=1"),
        BatchOperation("GET", f"companies({company})/vendors?$top=1"),
    ]
    before = client.limiter.starts_within_window()
    results = send_batch(client, operations, count_operations=count_operations)
    assert [r.status for r in results] == [200, 200, 200]
    assert all(len(r.body["value"]) == 1 for r in results)
    assert client.limiter.starts_within_window() - before == (3 if count_operations else 1)
