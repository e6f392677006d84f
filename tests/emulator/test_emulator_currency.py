"""The emulator's own choice where BC's is unconfirmed: `$filter` on a translated `currencyCode`.

BC's `currencyCode` is a page variable (CurrencyCodeTxt) that shows a blank Currency Code as the
LCY code; no source found says how BC filters on it. The emulator filters on the value it serves,
so a filter agrees with the rows a client reads (see rules/currency.py and FIDELITY.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from conftest import RunningEmulator


def _rows(emulator: RunningEmulator, entity_set: str, **params: str) -> list[dict[str, Any]]:
    response = emulator.get(emulator.company_url(entity_set), params=params)
    assert response.status_code == 200, response.text
    return response.json()["value"]


def test_a_filter_on_currency_code_sees_the_code_served(emulator: RunningEmulator) -> None:
    lcy = _rows(emulator, "generalLedgerSetup")[0]["localCurrencyCode"]
    every = _rows(emulator, "customers", **{"$select": "id,currencyCode"})
    local = _rows(emulator, "customers", **{"$filter": f"currencyCode eq '{lcy}'"})
    assert local
    assert {r["id"] for r in local} == {r["id"] for r in every if r["currencyCode"] == lcy}
    assert _rows(emulator, "customers", **{"$filter": "currencyCode eq ''"}) == []
    other = _rows(emulator, "customers", **{"$filter": f"currencyCode ne '{lcy}'"})
    assert {r["id"] for r in other} == {r["id"] for r in every if r["currencyCode"] != lcy}
