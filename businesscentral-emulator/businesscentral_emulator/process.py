"""Run `bc-emulator serve` as a separate process, and sign in to it: for benchmarks and tests.

A process of its own keeps the emulator's CPU and memory apart from the client being measured.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

    import requests

SCOPE = "https://api.businesscentral.dynamics.com/.default"
_READY_TIMEOUT = 300.0


def start_process(
    workdir: Path, *serve_args: str
) -> tuple[subprocess.Popen[bytes], dict[str, Any]]:
    """Start `bc-emulator serve` on a free port; return it with its ready-file settings."""
    ready = workdir / "ready.json"
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [
            sys.executable,
            "-m",
            "businesscentral_emulator.cli",
            "serve",
            "--port",
            "0",
            "--ready-file",
            str(ready),
            "--data-dir",
            str(workdir / "data"),
            *serve_args,
        ]
    )
    deadline = time.monotonic() + _READY_TIMEOUT
    while not ready.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            message = "the emulator exited or did not become ready"
            raise RuntimeError(message)
        time.sleep(0.05)
    return process, json.loads(ready.read_text())


def client_credentials_token(session: requests.Session, info: dict[str, Any]) -> str:
    """An access token for the emulator's confidential app (plain OAuth, no msal)."""
    response = session.post(
        f"{info['authority_url']}/{info['tenant_id']}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": info["client_id"],
            "client_secret": info["client_secret"],
            "scope": SCOPE,
        },
        timeout=30,
    )
    response.raise_for_status()
    token: str = response.json()["access_token"]
    return token
