"""More than two companies: `EmulatorConfig(companies=N)` and `bc-emulator serve --companies N`."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
import requests
from businesscentral_emulator.seed.populate import company_names, default_companies

SETS = ("customers", "items", "generalLedgerEntries", "salesInvoices", "salesShipmentLines")


def test_company_names_extend_the_cronus_pair_deterministically() -> None:
    assert company_names(1) == ["CRONUS USA, Inc."]
    assert company_names(2) == ["CRONUS USA, Inc.", "CRONUS International Ltd."]
    assert company_names(4)[2:] == ["CRONUS Company 3", "CRONUS Company 4"]
    four = default_companies(1, 4)
    assert four == default_companies(1, 4)
    assert four[:2] == default_companies(1)  # the first two keep their ids
    assert len({c.id for c in four}) == len({c.name for c in four}) == 4
    with pytest.raises(ValueError, match="at least one company"):
        company_names(0)


def test_four_companies_each_with_its_own_data(start_emulator, emulator):
    four = start_emulator(seed=1, scale=0.1, companies=4)
    served = four.get_all(f"{four.api_root()}/companies")
    assert [c["id"] for c in served] == [c["id"] for c in four.companies]
    assert [c["name"] for c in served] == company_names(4)
    assert len({c["id"] for c in served}) == 4
    # Same seed: the first two companies are those of a two-company emulator.
    assert four.companies[:2] == emulator.companies
    assert four.get_all(f"{four.api_root('sandbox')}/companies") == served

    ids_per_company = []
    for index in range(4):
        ids: set[str] = set()
        for entity_set in SETS:
            rows = four.get_all(four.company_url(entity_set, company=index))
            assert rows, f"company {index + 1} has no {entity_set}"
            ids.update(row["id"] for row in rows)
        ids_per_company.append(ids)
    # Distinct companies, distinct records (the seed draws per company).
    for index in range(1, 4):
        assert ids_per_company[index].isdisjoint(ids_per_company[0])
    info = four.hook("GET", "info").json()
    assert info["companies"] == four.companies


@pytest.mark.slow
def test_cli_serve_companies_flag(tmp_path):
    ready = tmp_path / "ready.json"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "businesscentral_emulator.cli",
            "serve",
            "--port",
            "0",
            "--scale",
            "0.05",
            "--companies",
            "3",
            "--ready-file",
            str(ready),
            "--data-dir",
            str(tmp_path / "data"),
        ],
    )
    try:
        deadline = time.monotonic() + 120
        while not ready.exists():
            assert process.poll() is None, "the emulator exited"
            assert time.monotonic() < deadline, "no ready file"
            time.sleep(0.1)
        info = json.loads(ready.read_text())
        assert [c["name"] for c in info["companies"]] == company_names(3)
        with requests.Session() as session:
            session.trust_env = False
            session.verify = info["ca_bundle"]
            token = session.post(
                f"{info['authority_url']}/{info['tenant_id']}/oauth2/v2.0/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": info["client_id"],
                    "client_secret": info["client_secret"],
                    "scope": "https://api.businesscentral.dynamics.com/.default",
                },
                timeout=30,
            ).json()["access_token"]
            root = f"{info['api_url']}/v2.0/{info['tenant_id']}/production/api/v2.0"
            third = info["companies"][2]["id"]
            rows = session.get(
                f"{root}/companies({third})/generalLedgerEntries",
                headers={"Authorization": f"Bearer {token}"},
                timeout=30,
            ).json()["value"]
        assert rows
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_cli_refuses_zero_companies(capsys):
    from businesscentral_emulator.cli import main  # noqa: PLC0415

    with pytest.raises(SystemExit) as exit_info:
        main(["serve", "--companies", "0"])
    assert exit_info.value.code == 2
    assert "--companies: must be at least 1" in capsys.readouterr().err
