"""Documents: a header with nested lines is one deep insert; lines streams find their document;
drafts are posted when asked; a second run of the same input writes nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from target.conftest import rows_by
from target.target_runner import messages_for, run_target, target_config

if TYPE_CHECKING:
    from pathlib import Path

    from conftest import RunningEmulator


def _customer_and_items(bc: RunningEmulator) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    customer = bc.get_all(bc.company_url("customers"))[0]
    items = bc.get_all(bc.company_url("items"))[:3]
    return customer, items


def _invoice(customer: dict[str, Any], items: list[dict[str, Any]], ref: str) -> dict[str, Any]:
    return {
        "externalDocumentNumber": ref,
        "customerNumber": customer["number"],
        "invoiceDate": "2026-11-02",
        "salesInvoiceLines": [
            {
                "sequence": 10000 * (i + 1),
                "lineType": "Item",
                "lineObjectNumber": item["number"],
                "quantity": i + 2,
            }
            for i, item in enumerate(items)
        ],
    }


def _lines_of(bc: RunningEmulator, document_id: str) -> list[dict[str, Any]]:
    url = bc.company_url("salesInvoices") + f"({document_id})/salesInvoiceLines"
    return sorted(bc.get_all(url), key=lambda line: line["sequence"])


def test_header_with_nested_lines_is_one_deep_insert(bc: RunningEmulator, tmp_path: Path) -> None:
    customer, items = _customer_and_items(bc)
    config = target_config(
        bc.info,
        tmp_path,
        default_company=bc.companies[0]["id"],
        stream_settings={"salesInvoices": {"natural_key": ["externalDocumentNumber"]}},
    )
    invoice = _invoice(customer, items, "DEEP-1")
    bc.hook("DELETE", "counters")
    run = run_target(tmp_path, config, messages_for({"salesInvoices": [invoice]}))
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.summary("salesInvoices")["created"] == 1
    assert bc.counters()["writes"] == {"POST": 1}  # header and lines in one request
    header = rows_by(bc, "salesInvoices", "externalDocumentNumber")["DEEP-1"]
    assert header["status"] == "Draft"
    assert header["customerNumber"] == customer["number"]
    lines = _lines_of(bc, header["id"])
    assert [(line["lineObjectNumber"], line["quantity"]) for line in lines] == [
        (item["number"], i + 2) for i, item in enumerate(items)
    ]
    again = run_target(tmp_path, config, messages_for({"salesInvoices": [invoice]}))
    assert again.summary("salesInvoices")["unchanged"] == 1

    # A changed line of an existing header is patched on its own (BC has no deep PATCH).
    invoice["salesInvoiceLines"][1]["quantity"] = 9
    bc.hook("DELETE", "counters")
    third = run_target(tmp_path, config, messages_for({"salesInvoices": [invoice]}))
    assert third.returncode == 0, third.stderr[-3000:]
    assert third.summary("salesInvoices")["unchanged"] == 1
    nested = third.summary("salesInvoices.salesInvoiceLines")
    assert (nested["updated"], nested["unchanged"]) == (1, 2)
    assert bc.counters()["writes"] == {"PATCH": 1}
    assert [line["quantity"] for line in _lines_of(bc, header["id"])] == [2, 9, 4]


def test_lines_stream_goes_to_its_document_by_id_or_number(
    bc: RunningEmulator, tmp_path: Path
) -> None:
    _, items = _customer_and_items(bc)
    drafts = [r for r in bc.get_all(bc.company_url("salesInvoices")) if r["status"] == "Draft"]
    by_id, by_number = drafts[0], drafts[1]
    company = bc.companies[0]["id"]
    lines = [
        {
            "documentId": by_id["id"],
            "sequence": 90000,
            "lineType": "Item",
            "lineObjectNumber": items[0]["number"],
            "quantity": 5,
            "companyId": company,
        },
        {
            "documentNumber": by_number["number"],
            "sequence": 90000,
            "lineType": "Item",
            "lineObjectNumber": items[1]["number"],
            "quantity": 7,
            "companyId": company,
        },
        {
            "documentNumber": "NO-SUCH-INVOICE",
            "sequence": 90000,
            "lineType": "Item",
            "lineObjectNumber": items[1]["number"],
            "quantity": 1,
            "companyId": company,
        },
    ]
    config = target_config(bc.info, tmp_path, max_rejections=1)
    run = run_target(tmp_path, config, messages_for({"salesInvoiceLines": lines}))
    assert run.returncode == 0, run.stderr[-3000:]
    summary = run.summary("salesInvoiceLines")
    assert (summary["created"], summary["rejected"]) == (2, 1)
    assert "NO-SUCH-INVOICE" in run.rejected[0]["message"]
    assert [ln["quantity"] for ln in _lines_of(bc, by_id["id"]) if ln["sequence"] == 90000] == [5]
    assert [ln["quantity"] for ln in _lines_of(bc, by_number["id"]) if ln["sequence"] == 90000] == [
        7
    ]
    again = run_target(tmp_path, config, messages_for({"salesInvoiceLines": lines[:2]}))
    assert again.summary("salesInvoiceLines")["unchanged"] == 2


def test_drafts_are_posted_when_asked(bc: RunningEmulator, tmp_path: Path) -> None:
    customer, items = _customer_and_items(bc)
    config = target_config(
        bc.info,
        tmp_path,
        default_company=bc.companies[0]["id"],
        stream_settings={
            "salesInvoices": {"natural_key": ["externalDocumentNumber"], "post": True}
        },
    )
    invoices = [_invoice(customer, items, "POST-1"), _invoice(customer, items[:1], "POST-2")]
    run = run_target(tmp_path, config, messages_for({"salesInvoices": invoices}))
    assert run.returncode == 0, run.stderr[-3000:]
    summary = run.summary("salesInvoices")
    assert (summary["created"], summary["posted"]) == (2, 2)
    headers = rows_by(bc, "salesInvoices", "externalDocumentNumber")
    assert headers["POST-1"]["status"] == "Open"
    assert headers["POST-2"]["status"] == "Open"
    bc.hook("DELETE", "counters")
    again = run_target(tmp_path, config, messages_for({"salesInvoices": invoices}))
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.summary("salesInvoices")["unchanged"] == 2
    assert again.summary("salesInvoices")["posted"] == 0
    assert bc.counters()["writes"] == {}
    assert bc.counters()["actions"] == 0


def test_posting_failure_is_rejected_with_bcs_reason(bc: RunningEmulator, tmp_path: Path) -> None:
    customer, _ = _customer_and_items(bc)
    config = target_config(
        bc.info,
        tmp_path,
        default_company=bc.companies[0]["id"],
        stream_settings={
            "salesInvoices": {"natural_key": ["externalDocumentNumber"], "post": True}
        },
    )
    empty = {"externalDocumentNumber": "EMPTY-1", "customerNumber": customer["number"]}
    run = run_target(tmp_path, config, messages_for({"salesInvoices": [empty]}))
    assert run.returncode == 1
    assert run.summary("salesInvoices")["created"] == 1
    (rejected,) = run.rejected
    assert rejected["operation"] == "post"
    assert rejected["status"] == 400
    assert rejected["message"]
