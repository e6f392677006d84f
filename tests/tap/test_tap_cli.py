"""The real CLI: company_ids by id and by name, and one clear line for what a user must fix."""

from __future__ import annotations

import pytest
from tap_runner import catalog_for, run_tap, tap_config


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("Error:")]


@pytest.mark.parametrize("by", ["id", "name"])
def test_company_ids_choose_companies(emulator, tmp_path, by):
    chosen = emulator.companies[1]
    config = tap_config(emulator.info, company_ids=[chosen[by]])
    run = run_tap(tmp_path, config, catalog=catalog_for(config, ["companies", "customers"]))
    assert run.returncode == 0, run.stderr
    assert [r["id"] for r in run.records("companies")] == [chosen["id"]]
    customers = run.records("customers")
    assert customers
    assert {r["companyId"] for r in customers} == {chosen["id"]}


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"client_secret": "wrong-secret"}, "AADSTS"),
        ({"company_ids": ["No Such Company"]}, "Setting company_ids has 'No Such Company'"),
        ({"max_concurrency": 0}, "Setting max_concurrency is 0"),
        ({"tenant_id": "not a tenant"}, "Setting tenant_id"),
        ({"page_size": 5}, "Setting page_size is 5"),
    ],
)
@pytest.mark.parametrize("mode", ["sync", "discover"])
def test_clear_error_line(emulator, tmp_path, change, says, mode):
    config = tap_config(emulator.info, **change)
    run = run_tap(tmp_path, config, args=["--discover"] if mode == "discover" else None)
    assert run.returncode != 0
    assert "Traceback" not in run.stderr
    errors = _error_lines(run.stderr)
    assert len(errors) == 1, run.stderr
    assert says in errors[0]
    assert "wrong-secret" not in run.stderr
    assert emulator.info["client_secret"] not in run.stderr
