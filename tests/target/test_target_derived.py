"""Values BC derives over what was sent: the target writes them back in the same run, so a second
run of the same input writes nothing."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from target.target_runner import messages_for, run_target, target_config

if TYPE_CHECKING:
    from pathlib import Path

    from conftest import RunningEmulator


def test_a_purchase_line_cost_bc_replaces_is_set_back_and_a_rerun_writes_nothing(
    bc: RunningEmulator, tmp_path: Path
) -> None:
    """BC replaces the `unitCost` sent on a purchase Item line with the item's cost (recorded
    traffic, issue 10); the target PATCHes the record's own cost back in the same run."""
    vendor = bc.get_all(bc.company_url("vendors"))[0]
    item = next(i for i in bc.get_all(bc.company_url("items")) if Decimal(str(i["unitCost"])) > 0)
    invoice = bc.request(
        "POST", bc.company_url("purchaseInvoices"), json={"vendorNumber": vendor["number"]}
    ).json()
    cost = Decimal(str(item["unitCost"])) + Decimal("1.25")
    line = {
        "documentId": invoice["id"],
        "sequence": 10000,
        "lineType": "Item",
        "lineObjectNumber": item["number"],
        "quantity": 2,
        "unitCost": cost,
    }
    config = target_config(bc.info, tmp_path, default_company=bc.companies[0]["id"])
    messages = messages_for({"purchaseInvoiceLines": [line]})
    bc.hook("DELETE", "counters")
    run = run_target(tmp_path, config, messages)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.summary("purchaseInvoiceLines")["created"] == 1
    assert bc.counters()["writes"] == {"POST": 1, "PATCH": 1}
    url = bc.company_url(f"purchaseInvoices({invoice['id']})/purchaseInvoiceLines")
    (written,) = bc.get_all(url)
    assert Decimal(str(written["unitCost"])) == cost
    bc.hook("DELETE", "counters")
    again = run_target(tmp_path, config, messages)
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.summary("purchaseInvoiceLines")["unchanged"] == 1
    assert bc.counters()["writes"] == {}
