"""What the end-to-end loader tests share: Meltano runs, BC's truth, and the checks against it.

Every check compares a loaded table with the emulator's own rows, fetched over HTTP with numbers
parsed as `Decimal`: the same keys (so one lost or duplicated row fails), the same sums of money
to the cent, and after edits in BC a second run that changed exactly the edited rows.
"""

from __future__ import annotations

import decimal
import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests_support import CONNECTION_SETTINGS, meltano_env, meltano_project

if TYPE_CHECKING:
    from conftest import RunningEmulator

BIN = Path(sys.executable).parent
CENT = Decimal("0.01")
# The streams loaded and the money columns whose sums must match BC's to the cent.
AMOUNTS: dict[str, tuple[str, ...]] = {
    "customers": ("balanceDue",),
    "salesInvoices": ("totalAmountExcludingTax", "totalAmountIncludingTax"),
    "salesInvoiceLines": ("amountExcludingTax", "amountIncludingTax"),
    "generalLedgerEntries": ("debitAmount", "creditAmount"),
}
STREAMS = tuple(AMOUNTS)
# Lines real BC serves only through their document (`$expand` of the header collection).
THROUGH_HEADER = {"salesInvoiceLines": "salesInvoices"}
Key = tuple[str, str]


def project(folder: Path) -> Path:
    """The repo's meltano.yml in ``folder``; the tap and target of this repo run from PATH."""
    return meltano_project(folder, ("tap-businesscentral", "target-businesscentral"))


def env_for(info: dict[str, Any], **settings: str) -> dict[str, str]:
    """Meltano's environment: plugins installed with uv, the emulator for the tap and target."""
    env = meltano_env(
        MELTANO_VENV_BACKEND="uv",
        TAP_BUSINESSCENTRAL__SELECT=json.dumps([f"{stream}.*" for stream in STREAMS]),
        **settings,
    )
    for name in CONNECTION_SETTINGS:
        env[f"TAP_BUSINESSCENTRAL_{name.upper()}"] = str(info[name])
        env[f"TARGET_BUSINESSCENTRAL_{name.upper()}"] = str(info[name])
    return env


def meltano(
    folder: Path, env: dict[str, str], *args: str, must_pass: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run Meltano in the project; a failure shows the plugins' errors and the end of the log."""
    done = subprocess.run(
        [str(BIN / "meltano"), *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=290,
        check=False,
    )
    plugin_errors = [  # a plugin's error, as Meltano logs it, before Meltano's own traceback
        line for line in done.stderr.splitlines() if "Error" in line and line[:1].isdigit()
    ]
    assert done.returncode == 0 or not must_pass, (
        "\n".join(plugin_errors[:40]) + done.stderr[-3000:]
    )
    return done


def bc_rows(bc: RunningEmulator, stream: str) -> dict[Key, dict[str, Any]]:
    """Every row of a set in every company, by (companyId, id), numbers exact."""
    rows: dict[Key, dict[str, Any]] = {}
    header = THROUGH_HEADER.get(stream)
    for index, company in enumerate(bc.companies):
        url: str | None = bc.company_url(stream, index)
        if header is not None:  # BC refuses a company-level read of the lines
            url = bc.company_url(f"{header}?$select=id&$expand={stream}", index)
        while url:
            response = bc.get(url)
            response.raise_for_status()
            body = json.loads(response.text, parse_float=decimal.Decimal)
            for row in body["value"]:
                for line in row[stream] if header is not None else [row]:
                    rows[company["id"], line["id"]] = line
            url = body.get("@odata.nextLink")
    return rows


def sums(rows: dict[Key, dict[str, Any]], stream: str) -> dict[str, Decimal]:
    """Each money column's total, exact."""
    return {
        column: sum((Decimal(str(row[column] or 0)) for row in rows.values()), Decimal(0))
        for column in AMOUNTS[stream]
    }


def assert_same_rows_and_sums(
    loaded_keys: list[Key], loaded_sums: dict[str, Decimal], truth: dict[Key, Any], stream: str
) -> None:
    """Keys without loss or duplicates, and every money column's sum equal to the cent."""
    assert len(loaded_keys) == len(truth), f"{stream}: {len(loaded_keys)} rows, BC {len(truth)}"
    assert len(set(loaded_keys)) == len(loaded_keys), f"{stream}: duplicate keys"
    assert set(loaded_keys) == set(truth), f"{stream}: other keys than BC's"
    expected = sums(truth, stream)
    for column, total in loaded_sums.items():
        assert total.quantize(CENT) == expected[column].quantize(CENT), (stream, column)


def edit_in_bc(bc: RunningEmulator) -> dict[str, set[Key]]:
    """Change two customers and one ledger entry's amount as a BC user would; their keys."""
    company = bc.companies[0]["id"]
    customers = sorted(k for k in bc_rows(bc, "customers") if k[0] == company)[:2]
    entries = sorted(k for k in bc_rows(bc, "generalLedgerEntries") if k[0] == company)[:1]
    for number, (_, row_id) in enumerate(customers):
        bc.hook(
            "POST",
            "edit",
            {
                "entity_set": "customers",
                "ids": [row_id],
                "changes": {"phoneNumber": f"+1 {number}"},
            },
        )
    bc.hook(
        "POST",
        "edit",
        {
            "entity_set": "generalLedgerEntries",
            "ids": [entries[0][1]],
            "changes": {"description": "Edited in BC", "debitAmount": 1234.56},
        },
    )
    return {"customers": set(customers), "generalLedgerEntries": set(entries)}


def changed(before: dict[Key, Any], after: dict[Key, Any]) -> set[Key]:
    """Keys whose loaded row differs between two snapshots (or that came or went)."""
    return {key for key in before.keys() | after.keys() if before.get(key) != after.get(key)}
