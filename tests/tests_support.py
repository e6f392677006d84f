"""Paths and small helpers shared by the test modules (the fixtures live in conftest.py)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
# Real material from BC tenants (sources in tests/fixtures/bc-api/README.md), inside the repository.
BC_API_FIXTURES = REPO / "tests" / "fixtures" / "bc-api"
REAL_RESPONSES = BC_API_FIXTURES / "responses"

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


def meltano_project(folder: Path, plugins: tuple[str, ...]) -> Path:
    """The repo's meltano.yml in ``folder``, with ``plugins`` run from PATH (no pip_url)."""
    document = yaml.safe_load((REPO / "meltano.yml").read_text())
    for kind in ("extractors", "loaders"):
        for plugin in document["plugins"].get(kind, []):
            if plugin["name"] in plugins:
                plugin.pop("pip_url", None)
    (folder / "meltano.yml").write_text(yaml.safe_dump(document, sort_keys=False))
    return folder


def meltano_env(**settings: str) -> dict[str, str]:
    """A Meltano subprocess's environment: this venv's plugins first, no tracking, no CA."""
    env = {k: v for k, v in os.environ.items() if k not in {"REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"}}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.update(
        MELTANO_SEND_ANONYMOUS_USAGE_STATS="false",
        MELTANO_DISABLE_TRACKING="true",
        NO_COLOR="1",
        **settings,
    )
    return env
