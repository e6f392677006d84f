"""Paths and small helpers shared by the test modules (the fixtures live in conftest.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SHARED_BC_API = REPO.parent / "shared" / "bc-api"
SHARED_RESPONSES = SHARED_BC_API / "responses"

CONNECTION_SETTINGS = (
    "tenant_id",
    "environment_name",
    "client_id",
    "client_secret",
    "api_url",
    "authority_url",
    "ca_bundle",
)


def client_config(info: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    """Tap/target/client settings for an emulator's ready dict; an override of None drops a key."""
    config: dict[str, Any] = {name: info[name] for name in CONNECTION_SETTINGS}
    config.update(overrides)
    return {name: value for name, value in config.items() if value is not None}
