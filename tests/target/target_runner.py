"""Run target-businesscentral against an emulator: config, Singer input, the CLI, results."""

from __future__ import annotations

import decimal
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests_support import client_config

TARGET = [str(Path(sys.executable).parent / "target-businesscentral")]


def target_config(info: dict[str, Any], tmp: Path, **extra: Any) -> dict[str, Any]:
    """The target's config for an emulator's ready dict, writing rejects under ``tmp``."""
    config = client_config(info)
    config["custom_apis"] = list(info["custom_apis"])
    config["rejected_records_path"] = str(tmp / "rejected.jsonl")
    config.update(extra)
    return config


def schema_message(stream: str, properties: dict[str, Any] | None = None) -> dict[str, Any]:
    """A permissive SCHEMA message (the target checks records against $metadata itself)."""
    return {
        "type": "SCHEMA",
        "stream": stream,
        "schema": {"type": "object", "properties": properties or {}},
        "key_properties": [],
    }


def record_messages(stream: str, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"type": "RECORD", "stream": stream, "record": r} for r in records]


def messages_for(streams: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """SCHEMA then RECORDs for each stream, in the order given."""
    out: list[dict[str, Any]] = []
    for stream, records in streams.items():
        out.append(schema_message(stream))
        out.extend(record_messages(stream, records))
    return out


@dataclass
class TargetRun:
    """What one run of the target did."""

    returncode: int
    stdout: str
    stderr: str
    rejected: list[dict[str, Any]]

    @property
    def states(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]

    def summary(self, stream: str) -> dict[str, int]:
        """The summary counts the target logged for ``stream``."""
        for line in self.stderr.splitlines():
            marker = f"Summary {stream}: "
            if marker in line:
                text = line.split(marker, 1)[1]
                counts_text, requests_text = text.rsplit(";", 1)
                counts = {}
                for part in counts_text.split(", "):
                    name, number = part.removeprefix("would be ").rsplit(" ", 1)
                    counts[name] = int(number)
                counts["requests"] = int(requests_text.split()[0])
                return counts
        msg = f"no summary for {stream} in stderr:\n{self.stderr[-3000:]}"
        raise AssertionError(msg)


def encode(messages: list[dict[str, Any]]) -> str:
    """Singer lines; Decimal written as an exact JSON number."""
    lines = []
    for message in messages:
        text = json.dumps(message, default=_decimal_marker)
        lines.append(_unmark(text))
    return "\n".join(lines) + "\n"


_MARK = "__decimal__:"


def _decimal_marker(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return _MARK + str(value)
    raise TypeError(type(value))


def _unmark(text: str) -> str:
    out = []
    parts = text.split('"' + _MARK)
    out.append(parts[0])
    for part in parts[1:]:
        number, rest = part.split('"', 1)
        out.append(number + rest)
    return "".join(out)


def run_target(
    tmp: Path,
    config: dict[str, Any],
    messages: list[dict[str, Any]] | str,
    *,
    timeout: float = 180,
) -> TargetRun:
    """Run the real CLI as a subprocess with ``messages`` on stdin."""
    path = tmp / "target-config.json"
    path.write_text(json.dumps(config))
    rejected_path = Path(config.get("rejected_records_path", tmp / "rejected.jsonl"))
    rejected_path.unlink(missing_ok=True)
    text = messages if isinstance(messages, str) else encode(messages)
    done = subprocess.run(
        [*TARGET, "--config", str(path)],
        input=text,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=_env(),
    )
    rejected = []
    if rejected_path.exists():
        rejected = [
            json.loads(line, parse_float=decimal.Decimal)
            for line in rejected_path.read_text().splitlines()
            if line
        ]
    return TargetRun(done.returncode, done.stdout, done.stderr, rejected)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("REQUESTS_CA_BUNDLE", None)
    return env
