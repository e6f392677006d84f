"""Fixtures of the target tests: one emulator of their own, reseeded before each test."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from collections.abc import Callable

    from conftest import RunningEmulator

SEED = 7
SCALE = 0.2


@pytest.fixture(scope="session")
def writable_emulator(start_emulator: Callable[..., RunningEmulator]) -> RunningEmulator:
    """An emulator the target tests may write to (not the shared read-only one)."""
    return start_emulator(seed=SEED, scale=SCALE)


@pytest.fixture
def bc(writable_emulator: RunningEmulator) -> RunningEmulator:
    """The writable emulator, reseeded (rows, counters and faults) before the test."""
    writable_emulator.hook("POST", "reset", {"seed": SEED, "scale": SCALE})
    return writable_emulator


def rows_by(bc: RunningEmulator, entity_set: str, field: str, company: int = 0) -> dict[Any, Any]:
    """Every row of a set in a company, by one field."""
    return {row[field]: row for row in bc.get_all(bc.company_url(entity_set, company))}
