"""No duplicate writes: a write still running in BC is waited out, and a rerun finds every document.

BC has no idempotency key and keeps working on a request after the client gave up on it. These
tests make the emulator take longer over a write ``$batch`` than the target waits (the write still
commits afterwards) and check that BC ends with exactly one copy of each document; and they run the
same document input twice and check that the second run writes nothing (or refuses, clearly, what
it could not find again). Real target CLI, emulator over HTTPS.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from target.target_runner import messages_for, run_target, target_config

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from conftest import RunningEmulator

SEED = 13
SCALE = 0.1
# The target gives up on an answer after REQUEST_TIMEOUT; the emulator takes SLOW to run the write.
REQUEST_TIMEOUT = 2
SLOW = 3.0


@pytest.fixture(scope="module")
def writes_emulator(start_emulator: Callable[..., RunningEmulator]) -> RunningEmulator:
    return start_emulator(seed=SEED, scale=SCALE)


@pytest.fixture
def bc(writes_emulator: RunningEmulator) -> RunningEmulator:
    """The module's emulator, reseeded (rows, counters and faults) before each test."""
    writes_emulator.hook("POST", "reset", {"seed": SEED, "scale": SCALE})
    return writes_emulator


def _invoices(bc: RunningEmulator, refs: list[str | None]) -> list[dict[str, Any]]:
    """Draft sales invoices with two nested lines each; a None ref leaves out the reference."""
    customer = bc.get_all(bc.company_url("customers"))[0]
    items = bc.get_all(bc.company_url("items"))[:2]
    invoices = []
    for ref in refs:
        invoice: dict[str, Any] = {
            "customerNumber": customer["number"],
            "invoiceDate": "2026-11-20",
            "salesInvoiceLines": [
                {
                    "sequence": 10000 * (i + 1),
                    "lineType": "Item",
                    "lineObjectNumber": item["number"],
                    "quantity": i + 1,
                }
                for i, item in enumerate(items)
            ],
        }
        if ref is not None:
            invoice["externalDocumentNumber"] = ref
        invoices.append(invoice)
    return invoices


def _copies(bc: RunningEmulator, prefix: str) -> dict[str, int]:
    """How many invoices BC holds per external document number starting with ``prefix``."""
    counts: dict[str, int] = {}
    for row in bc.get_all(bc.company_url("salesInvoices")):
        ref = row["externalDocumentNumber"]
        if ref.startswith(prefix):
            counts[ref] = counts.get(ref, 0) + 1
    return counts


def _lines(bc: RunningEmulator, prefix: str) -> list[int]:
    """The number of lines of each invoice whose external document number has ``prefix``."""
    found = []
    for row in bc.get_all(bc.company_url("salesInvoices")):
        if row["externalDocumentNumber"].startswith(prefix):
            url = bc.company_url("salesInvoices") + f"({row['id']})/salesInvoiceLines"
            found.append(len(bc.get_all(url)))
    return found


def _slow_writes(bc: RunningEmulator, **rule: Any) -> None:
    """Write batches that BC runs for longer than the target waits; they still commit."""
    fault = {
        "kind": "slow",
        "seconds": SLOW,
        "method": "POST",
        "path_contains": "$batch",
        "writes_only": True,
        **rule,
    }
    bc.hook("POST", "faults", {"faults": [fault]})


def _config(bc: RunningEmulator, tmp_path: Path, **extra: Any) -> dict[str, Any]:
    return target_config(
        bc.info,
        tmp_path,
        default_company=bc.companies[0]["id"],
        request_timeout=REQUEST_TIMEOUT,
        **extra,
    )


def test_write_batch_slower_than_the_timeout_creates_each_invoice_once(
    bc: RunningEmulator, tmp_path: Path
) -> None:
    """The issue's case: BC commits the batch after the target timed out; nothing is resent."""
    refs = [f"SLOW-{i}" for i in range(5)]
    _slow_writes(bc, count=1)
    bc.hook("DELETE", "counters")
    config = _config(bc, tmp_path, write_settle_seconds=60)
    run = run_target(tmp_path, config, messages_for({"salesInvoices": _invoices(bc, refs)}))
    assert run.returncode == 0, run.stderr[-3000:]
    assert bc.counters()["faults"] == {"slow": 1}
    assert "may still be running" in run.stderr
    assert run.summary("salesInvoices")["created"] == 5
    assert run.rejected == []
    assert _copies(bc, "SLOW-") == dict.fromkeys(refs, 1)
    assert _lines(bc, "SLOW-") == [2] * 5
    assert bc.counters()["writes"] == {"POST": 5}  # the five deep inserts, none sent twice


def test_a_share_of_slow_write_batches_duplicates_nothing(
    bc: RunningEmulator, tmp_path: Path
) -> None:
    """Write batches outlast the timeout at odds of 1 in 2 (seeded); each invoice is in BC once."""
    refs = [f"SHARE-{i:02d}" for i in range(30)]
    _slow_writes(bc, rate=0.5)
    config = _config(bc, tmp_path, write_settle_seconds=60, batch_size_rows=10)
    run = run_target(tmp_path, config, messages_for({"salesInvoices": _invoices(bc, refs)}))
    assert run.returncode == 0, run.stderr[-3000:]
    slow = bc.counters()["faults"].get("slow", 0)
    assert 1 <= slow < 3  # some of the three write batches were slow, not all
    assert run.summary("salesInvoices")["created"] == 30
    assert _copies(bc, "SHARE-") == dict.fromkeys(refs, 1)
    assert bc.counters()["writes"] == {"POST": 30}


def test_write_that_never_ran_is_sent_again_once_it_cannot_be_running(
    bc: RunningEmulator, tmp_path: Path
) -> None:
    """The connection drops before BC got the batch: after write_settle_seconds it is resent."""
    refs = [f"LOST-{i}" for i in range(3)]
    fault = {
        "kind": "reset",
        "method": "POST",
        "path_contains": "$batch",
        "writes_only": True,
        "count": 1,
    }
    bc.hook("POST", "faults", {"faults": [fault]})
    config = _config(bc, tmp_path, write_settle_seconds=2)
    run = run_target(tmp_path, config, messages_for({"salesInvoices": _invoices(bc, refs)}))
    assert run.returncode == 0, run.stderr[-3000:]
    assert bc.counters()["faults"] == {"reset": 1}
    assert "sending it again" in run.stderr
    assert run.summary("salesInvoices")["created"] == 3
    assert _copies(bc, "LOST-") == dict.fromkeys(refs, 1)


def test_rerun_of_documents_writes_nothing_and_refuses_what_it_could_not_find(
    bc: RunningEmulator, tmp_path: Path
) -> None:
    """Headers with lines, twice: found again by externalDocumentNumber; one without it refused.

    The refusal fails the run (exit 1, max_rejections 0) after every other record was written.
    """
    refs: list[str | None] = [f"RERUN-{i}" for i in range(4)]
    invoices = _invoices(bc, [*refs, None])
    before = len(bc.get_all(bc.company_url("salesInvoices")))
    config = _config(bc, tmp_path)
    first = run_target(tmp_path, config, messages_for({"salesInvoices": invoices}))
    assert first.returncode == 1
    assert "1 records were rejected" in first.stderr
    summary = first.summary("salesInvoices")
    assert (summary["created"], summary["rejected"]) == (4, 1)
    (refused,) = first.rejected
    assert refused["stream"] == "salesInvoices"
    assert refused["operation"] == "create"
    assert "externalDocumentNumber" in refused["message"]
    assert "stream_settings.salesInvoices.natural_key" in refused["message"]
    assert "stream_settings.salesInvoices.action" in refused["message"]

    bc.hook("DELETE", "counters")
    second = run_target(tmp_path, config, messages_for({"salesInvoices": invoices}))
    assert second.returncode == 1
    summary = second.summary("salesInvoices")
    assert (summary["created"], summary["unchanged"], summary["rejected"]) == (0, 4, 1)
    assert bc.counters()["writes"] == {}
    assert _copies(bc, "RERUN-") == dict.fromkeys(refs, 1)
    assert _lines(bc, "RERUN-") == [2] * 4
    assert len(bc.get_all(bc.company_url("salesInvoices"))) == before + 4


def test_a_key_bc_assigns_cannot_make_a_create_safe(bc: RunningEmulator, tmp_path: Path) -> None:
    """natural_key number: BC numbers new invoices itself, so an unknown number is not created."""
    (invoice,) = _invoices(bc, ["NUMBERED"])
    invoice["number"] = "MY-OWN-1"
    config = _config(
        bc,
        tmp_path,
        max_rejections=1,
        stream_settings={"salesInvoices": {"natural_key": ["number"]}},
    )
    run = run_target(tmp_path, config, messages_for({"salesInvoices": [invoice]}))
    assert run.returncode == 0, run.stderr[-3000:]
    (refused,) = run.rejected
    assert "BC assigns number" in refused["message"]
    assert _copies(bc, "NUMBERED") == {}


def test_action_create_accepts_creates_that_a_rerun_repeats(
    bc: RunningEmulator, tmp_path: Path
) -> None:
    """The explicit opt-in: action create sends records with no key, on every run."""
    invoices = _invoices(bc, [None])
    before = len(bc.get_all(bc.company_url("salesInvoices")))
    config = _config(bc, tmp_path, stream_settings={"salesInvoices": {"action": "create"}})
    for _ in range(2):
        run = run_target(tmp_path, config, messages_for({"salesInvoices": invoices}))
        assert run.returncode == 0, run.stderr[-3000:]
        assert run.summary("salesInvoices")["created"] == 1
    assert len(bc.get_all(bc.company_url("salesInvoices"))) == before + 2


@pytest.mark.parametrize("action", ["update", "delete"])
def test_resent_update_or_delete_that_meets_its_own_lost_write_settles(
    bc: RunningEmulator, tmp_path: Path, action: str
) -> None:
    """The lost write commits between the look-up and the resend: a 409 or 404, not a rejection.

    Batch 1 runs 4 s (the target gives up after 3 s and looks the rows up before they change);
    the resent batch 2 is held 2 s before BC runs it, so batch 1 commits first and batch 2 meets
    its own change: a stale etag (update) or a row already gone (delete).
    """
    customers = bc.get_all(bc.company_url("customers"))[:3]
    records = [
        {"number": c["number"], "displayName": f"Settled {i}"} for i, c in enumerate(customers)
    ]
    if action == "delete":  # customers without entries or documents: BC deletes only those
        customers = [
            bc.request(
                "POST", bc.company_url("customers"), json={"displayName": f"Lost write {i}"}
            ).json()
            for i in range(3)
        ]
        records = [{"number": c["number"]} for c in customers]
    common = {"method": "POST", "path_contains": "$batch", "writes_only": True, "count": 1}
    faults = [{"kind": "slow", "seconds": 4, **common}, {"kind": "stall", "seconds": 2, **common}]
    bc.hook("POST", "faults", {"faults": faults})
    config = target_config(
        bc.info,
        tmp_path,
        default_company=bc.companies[0]["id"],
        request_timeout=3,
        stream_settings={"customers": {"action": action}},
    )
    run = run_target(tmp_path, config, messages_for({"customers": records}))
    assert run.returncode == 0, run.stderr[-3000:] + str(run.rejected)
    assert bc.counters()["faults"] == {"slow": 1, "stall": 1}
    assert run.summary("customers")[f"{action}d"] == 3
    rows = {row["number"]: row for row in bc.get_all(bc.company_url("customers"))}
    for record in records:
        if action == "delete":
            assert record["number"] not in rows
        else:
            assert rows[record["number"]]["displayName"] == record["displayName"]


def test_a_bad_write_settle_seconds_fails_with_one_clear_line(
    bc: RunningEmulator, tmp_path: Path
) -> None:
    config = _config(bc, tmp_path, write_settle_seconds=-1)
    run = run_target(tmp_path, config, messages_for({"salesInvoices": _invoices(bc, ["BAD"])}))
    assert run.returncode == 1
    assert "write_settle_seconds" in run.stderr
    assert "Traceback" not in run.stderr
