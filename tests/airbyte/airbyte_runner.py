"""Run source-businesscentral against an emulator and parse what it wrote."""

from __future__ import annotations

import decimal
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from airbyte_protocol.models import AirbyteMessage
from tests_support import client_config

SOURCE = str(Path(sys.executable).parent / "source-businesscentral")


def airbyte_config(info: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """The source's config for an emulator: Airbyte's shape, credentials in their form."""
    flat = client_config(info)
    credentials = {
        "auth_type": "client_credentials",
        **{k: flat.pop(k) for k in ("tenant_id", "client_id", "client_secret")},
    }
    return {"credentials": credentials, **flat, **extra}


def source_env() -> dict[str, str]:
    """This machine's CA variables would override the emulator's ca_bundle in requests."""
    return {
        k: v for k, v in os.environ.items() if k not in {"REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"}
    }


@dataclass
class SourceRun:
    """What one command printed: every stdout line parsed by the protocol's own model."""

    returncode: int
    stdout: str
    stderr: str
    messages: list[AirbyteMessage]
    raw: list[dict[str, Any]]

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.raw if m["type"] == kind]

    def records(self, stream: str) -> list[dict[str, Any]]:
        return [
            m["record"]["data"] for m in self.of_type("RECORD") if m["record"]["stream"] == stream
        ]

    def states(self) -> list[dict[str, Any]]:
        return [m["state"] for m in self.of_type("STATE")]


def run_source(tmp: Path, command: str, **documents: Any) -> SourceRun:
    """Run ``source-businesscentral <command>`` with each document written to a file."""
    args = [SOURCE, command]
    for option, document in documents.items():
        path = tmp / f"{option}.json"
        path.write_text(document if isinstance(document, str) else json.dumps(document))
        args += [f"--{option}", str(path)]
    done = subprocess.run(
        args, capture_output=True, text=True, timeout=240, check=False, env=source_env()
    )
    lines = [line for line in done.stdout.splitlines() if line]
    return SourceRun(
        returncode=done.returncode,
        stdout=done.stdout,
        stderr=done.stderr,
        messages=[AirbyteMessage.model_validate_json(line) for line in lines],
        raw=[json.loads(line, parse_float=decimal.Decimal) for line in lines],
    )


def configured_catalog(catalog: dict[str, Any], modes: dict[str, str]) -> dict[str, Any]:
    """Configure the discovered streams named in ``modes`` with those sync modes."""
    streams = [
        {
            "stream": stream,
            "sync_mode": modes[stream["name"]],
            "destination_sync_mode": "append",
            "cursor_field": stream.get("default_cursor_field") or [],
            "primary_key": stream.get("source_defined_primary_key"),
        }
        for stream in catalog["streams"]
        if stream["name"] in modes
    ]
    return {"streams": streams}


def state_input(states: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What a platform hands back to the next read: the last STATE of each stream."""
    last: dict[str, dict[str, Any]] = {}
    for state in states:
        last[state["stream"]["stream_descriptor"]["name"]] = state
    return list(last.values())
