"""What the contract tests read from the emulator's answers: BC's error triple, created rows, rows.

One copy for every contract module, so each asserts BC's status, code and message the same way.
"""

from __future__ import annotations

from typing import Any

DIALOG = "Application_DialogException"
_CORRELATION = "  CorrelationId:  "


def error_of(response) -> tuple[int, str, str]:
    """BC's status, error code and message, without the `CorrelationId` suffix BC appends."""
    body = response.json()
    assert "error" in body, (response.status_code, body)
    message = body["error"]["message"].split(_CORRELATION)[0]
    return response.status_code, body["error"]["code"], message


def created(response) -> dict[str, Any]:
    """The row a POST created (201)."""
    assert response.status_code == 201, response.text
    return response.json()


def rows(bc, entity_set: str, **params: str) -> list[dict[str, Any]]:
    """The rows of a company-level read, which must succeed."""
    response = bc.get(bc.company_url(entity_set), params=params)
    assert response.status_code == 200, response.text
    return response.json()["value"]


def first(bc, entity_set: str, **params: str) -> dict[str, Any]:
    """The first row a filtered read finds; there must be one."""
    found = rows(bc, entity_set, **{"$top": "1", **params})
    assert found, (entity_set, params)
    return found[0]
