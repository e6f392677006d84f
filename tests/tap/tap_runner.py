"""Run tap-businesscentral against an emulator: configs, catalogs, subprocess runs, parsing."""

from __future__ import annotations

import decimal
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tap_businesscentral.tap import TapBusinessCentral
from tests_support import client_config

TAP = [str(Path(sys.executable).parent / "tap-businesscentral")]


def tap_config(info: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """The tap's config for an emulator's ready dict."""
    config = client_config(info)
    config["custom_apis"] = list(info["custom_apis"])
    config.update(extra)
    return config


def catalog_for(config: dict[str, Any], streams: list[str]) -> dict[str, Any]:
    """Discover in-process and select only ``streams`` (every property of each)."""
    catalog = TapBusinessCentral(config=config, validate_config=True).catalog_dict
    for entry in catalog["streams"]:
        chosen = entry["tap_stream_id"] in streams
        for item in entry["metadata"]:
            item["metadata"]["selected"] = chosen
    return catalog


@dataclass
class TapRun:
    """What one run printed."""

    returncode: int
    stdout: str
    stderr: str
    messages: list[dict[str, Any]] = field(default_factory=list)

    def records(self, stream: str) -> list[dict[str, Any]]:
        return [
            m["record"] for m in self.messages if m["type"] == "RECORD" and m["stream"] == stream
        ]

    def types(self, stream: str) -> list[str]:
        return [m["type"] for m in self.messages if m.get("stream") == stream]

    @property
    def states(self) -> list[dict[str, Any]]:
        return [m["value"] for m in self.messages if m["type"] == "STATE"]


def parse_messages(text: str) -> list[dict[str, Any]]:
    """Singer lines, numbers with a fraction as ``Decimal`` (exact, as written)."""
    return [json.loads(line, parse_float=decimal.Decimal) for line in text.splitlines() if line]


def write_json(tmp: Path, name: str, document: Any) -> Path:
    path = tmp / name
    path.write_text(json.dumps(document))
    return path


def run_tap(
    tmp: Path,
    config: dict[str, Any],
    *,
    catalog: dict[str, Any] | None = None,
    state: dict[str, Any] | None = None,
    args: list[str] | None = None,
) -> TapRun:
    """Run the real CLI as a subprocess and parse what it wrote."""
    command = [*TAP, "--config", str(write_json(tmp, "config.json", config))]
    if catalog is not None:
        command += ["--catalog", str(write_json(tmp, "catalog.json", catalog))]
    if state is not None:
        command += ["--state", str(write_json(tmp, "state.json", state))]
    command += args or []
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=120, check=False, env=_env()
    )
    run = TapRun(done.returncode, done.stdout, done.stderr)
    if done.returncode == 0 and not (args and "--discover" in args):
        run.messages = parse_messages(done.stdout)
    return run


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("REQUESTS_CA_BUNDLE", None)
    return env


def start_tap(tmp: Path, config: dict[str, Any], catalog: dict[str, Any]) -> subprocess.Popen[str]:
    """Start the tap and let the test read its output as it comes (to interrupt it)."""
    command = [
        *TAP,
        "--config",
        str(write_json(tmp, "config.json", config)),
        "--catalog",
        str(write_json(tmp, "catalog.json", catalog)),
    ]
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=_env()
    )


# Sets real BC refuses at company level, and the parent collections (with the navigation and the
# child's parent field) it serves them through. Written out here, not taken from the tap, so a
# test compares the tap's reads with an independent list.
PARENTS: dict[str, tuple[tuple[str, str], ...]] = {
    "salesInvoiceLines": (("salesInvoices", "documentId"),),
    "salesOrderLines": (("salesOrders", "documentId"),),
    "salesQuoteLines": (("salesQuotes", "documentId"),),
    "salesCreditMemoLines": (("salesCreditMemos", "documentId"),),
    "purchaseInvoiceLines": (("purchaseInvoices", "documentId"),),
    "purchaseOrderLines": (("purchaseOrders", "documentId"),),
    "purchaseCreditMemoLines": (("purchaseCreditMemos", "documentId"),),
    "customerPayments": (("customerPaymentJournals", "journalId"),),
    "vendorPayments": (("vendorPaymentJournals", "journalId"),),
    "journalLines": (("journals", "journalId"),),
    "timeRegistrationEntries": (("employees", "employeeId"),),
    "contactsInformation": (("customers", "relatedId"), ("vendors", "relatedId")),
}


def _pages(emulator: Any, url: str, params: dict[str, str] | None = None) -> list[dict]:
    rows: list[dict[str, Any]] = []
    next_url: str | None = url
    while next_url:
        response = emulator.get(next_url, params=params)
        params = None
        response.raise_for_status()
        body = json.loads(response.text, parse_float=decimal.Decimal)
        rows.extend(body["value"])
        next_url = body.get("@odata.nextLink")
    return rows


def direct_rows(emulator: Any, entity_set: str, company: int, api: str = "v2.0") -> list[dict]:
    """Every row of a set straight from the emulator, numbers exact, etags dropped.

    A set BC refuses at company level is read through its parents' ``$expand``.
    """
    rows: list[dict[str, Any]] = []
    parents = PARENTS.get(entity_set, ()) if api == "v2.0" else ()
    for parent, field_name in parents:
        url = emulator.company_url(parent, company, api=api)
        for row in _pages(emulator, url, {"$select": "id", "$expand": entity_set}):
            for child in row[entity_set]:
                child.setdefault(field_name, row["id"])
                rows.append(child)
    if not parents:
        rows = _pages(emulator, emulator.company_url(entity_set, company, api=api))
    for row in rows:
        row.pop("@odata.etag", None)
    return rows
