"""Paths and small helpers shared by the test modules (the fixtures live in conftest.py)."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED_BC_API = REPO.parent / "shared" / "bc-api"
SHARED_RESPONSES = SHARED_BC_API / "responses"
