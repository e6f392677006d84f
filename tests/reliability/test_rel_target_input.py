"""Bad input never aborts the target (issue 13, findings 5 and 7).

Each scenario sends a good customer before and after one bad thing and checks: both good ones are
in BC, the bad one is in the rejected-records file with its reason, there is no stack trace, and
the exit status follows ``max_rejections`` (0 by default, so one rejection exits 1 after writing
everything else). A blank line is the one bad thing that is skipped, not rejected.
"""

from __future__ import annotations

import decimal
import json
import subprocess
from typing import TYPE_CHECKING, Any

import pytest
from target.conftest import bc, rows_by, writable_emulator
from target.target_runner import TARGET, TargetRun, encode, schema_message, target_config

if TYPE_CHECKING:
    from pathlib import Path

    from conftest import RunningEmulator

__all__ = ["bc", "writable_emulator"]  # the target tests' emulator, shared rather than restarted

STATE_1 = {"type": "STATE", "value": {"bookmarks": {"customers": {"at": 1}}}}
STATE_2 = {"type": "STATE", "value": {"bookmarks": {"customers": {"at": 2}}}}


def _line(message: dict[str, Any]) -> bytes:
    return encode([message]).encode()


def _customer(bc: RunningEmulator, no: str, /, **fields: Any) -> dict[str, Any]:
    record = {
        "number": no,
        "displayName": f"Input {no}",
        "companyId": bc.companies[0]["id"],
    }
    return {"type": "RECORD", "stream": "customers", "record": {**record, **fields}}


def _around(
    bc: RunningEmulator, bad: bytes, *, first: bytes = b"", schema: dict[str, Any] | None = None
) -> bytes:
    """SCHEMA, a good record and STATE, then ``bad``, then a good record and STATE."""
    return b"".join(
        [
            first,
            _line(schema or schema_message("customers")),
            _line(_customer(bc, "IN-1")),
            _line(STATE_1),
            bad,
            _line(_customer(bc, "IN-2")),
            _line(STATE_2),
        ]
    )


def _run(bc: RunningEmulator, tmp_path: Path, data: bytes, **settings: Any) -> TargetRun:
    """The real CLI with raw bytes on stdin (the shared runner sends text only)."""
    config = target_config(bc.info, tmp_path, **settings)
    path = tmp_path / "target-config.json"
    path.write_text(json.dumps(config))
    done = subprocess.run(
        [*TARGET, "--config", str(path)], input=data, capture_output=True, timeout=180, check=False
    )
    rejected_file = tmp_path / "rejected.jsonl"
    rejected = []
    if rejected_file.exists():
        rejected = [
            json.loads(line, parse_float=decimal.Decimal)
            for line in rejected_file.read_text().splitlines()
        ]
    return TargetRun(
        done.returncode,
        done.stdout.decode(),
        done.stderr.decode("utf-8", "backslashreplace"),
        rejected,
    )


def _assert_rest_written(bc: RunningEmulator, run: TargetRun, *, status: int = 1) -> None:
    assert "Traceback" not in run.stderr, run.stderr[-3000:]
    assert run.returncode == status, run.stderr[-3000:]
    assert {"IN-1", "IN-2"} <= set(rows_by(bc, "customers", "number"))
    assert run.states == [STATE_2["value"]]  # the last STATE, after everything before it
    if status:
        assert f"{len(run.rejected)} records were rejected (max_rejections is 0)" in run.stderr


def _one_bad_line(run: TargetRun, number: int, reason: str) -> dict[str, Any]:
    [entry] = run.rejected
    assert entry["stream"] == "(input)"
    assert entry["record"]["line"] == number
    assert entry["operation"] == "read"
    assert entry["message"].startswith(f"input line {number} {reason}"), entry["message"]
    assert f"Input line {number} {reason}" in run.stderr
    assert run.summary("(input)")["rejected"] == 1
    return entry


def test_a_non_guid_id_rejects_that_record_only(bc: RunningEmulator, tmp_path: Path) -> None:
    run = _run(bc, tmp_path, _around(bc, _line(_customer(bc, "IN-X", id="not-a-guid"))))
    _assert_rest_written(bc, run)
    [entry] = run.rejected
    assert entry["stream"] == "customers"
    assert entry["record"]["number"] == "IN-X"
    assert entry["message"] == "field 'id' of customers is not a GUID (value 'not-a-guid')"
    assert "IN-X" not in rows_by(bc, "customers", "number")
    assert run.summary("customers")["created"] == 2


def test_a_line_that_is_not_json_is_rejected_as_text(bc: RunningEmulator, tmp_path: Path) -> None:
    run = _run(bc, tmp_path, _around(bc, b"INFO this tap logs to stdout\n"))
    _assert_rest_written(bc, run)
    entry = _one_bad_line(run, 4, "is not valid JSON (JSON is malformed")
    assert entry["record"]["text"] == "INFO this tap logs to stdout"


def test_a_blank_line_is_skipped(bc: RunningEmulator, tmp_path: Path) -> None:
    run = _run(bc, tmp_path, _around(bc, b"\n  \r\n", first=b"\n"))
    _assert_rest_written(bc, run, status=0)
    assert run.rejected == []
    assert "Skipped 3 blank input line(s)" in run.stderr


def test_non_utf8_bytes_reject_their_line_only(bc: RunningEmulator, tmp_path: Path) -> None:
    bad = _line(_customer(bc, "IN-X", displayName="cafe")).replace(b'"cafe"', b'"caf\xe9"')
    run = _run(bc, tmp_path, _around(bc, bad))
    _assert_rest_written(bc, run)
    entry = _one_bad_line(run, 4, "is not UTF-8 text (byte ")
    position = bad.index(b"\xe9") + 1
    assert entry["message"].endswith(f"(byte {position} is 0xe9)")
    assert '"caf\\xe9"' in entry["record"]["text"]


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_for_a_decimal_rejects_the_record_by_field(
    bc: RunningEmulator, tmp_path: Path, constant: str
) -> None:
    bad = _line(_customer(bc, "IN-X", creditLimit=1)).replace(
        b'"creditLimit": 1', b'"creditLimit": ' + constant.encode()
    )
    run = _run(bc, tmp_path, _around(bc, bad))
    _assert_rest_written(bc, run)
    [entry] = run.rejected
    assert entry["stream"] == "customers"
    assert entry["message"] == (
        f"field 'creditLimit' of customers is not a finite number (value {constant})"
    )
    assert entry["record"]["creditLimit"] == constant  # as text: the file stays JSON


def test_a_truncated_last_line_is_rejected_after_the_rest_is_written(
    bc: RunningEmulator, tmp_path: Path
) -> None:
    cut = _line(_customer(bc, "IN-X"))[:40]  # the tap died mid-line: no newline at the end
    run = _run(bc, tmp_path, _around(bc, b"") + cut)
    _assert_rest_written(bc, run)
    entry = _one_bad_line(run, 6, "is cut off: the input ends in the middle of it")
    assert entry["record"]["text"] == cut.decode()


def test_an_unknown_message_type_is_rejected(bc: RunningEmulator, tmp_path: Path) -> None:
    bad = _line({**_customer(bc, "IN-X"), "type": "RECROD"})
    run = _run(bc, tmp_path, _around(bc, bad))
    _assert_rest_written(bc, run)
    _one_bad_line(run, 4, "has unknown type 'RECROD'")


def test_malformed_messages_are_rejected_with_what_they_lack(
    bc: RunningEmulator, tmp_path: Path
) -> None:
    bad = [
        {"type": "RECORD", "stream": "customers"},
        {"type": "RECORD", "stream": "customers", "record": [1, 2]},
        {"type": "SCHEMA", "stream": "vendors", "schema": ["id"]},
        {"type": "STATE"},
        {"stream": "customers"},
        [1, 2, 3],
        {"type": "BATCH", "stream": "customers", "manifest": ["file:///nowhere.jsonl"]},
    ]
    run = _run(bc, tmp_path, _around(bc, b"".join(_line(m) for m in bad)), max_rejections=7)
    _assert_rest_written(bc, run, status=0)
    messages = [entry["message"] for entry in run.rejected]
    assert messages == [
        "input line 4 is a RECORD message without 'record'",
        "input line 5 is a RECORD of stream 'customers' whose record is not a JSON object",
        "input line 6 is a SCHEMA of stream 'vendors' whose schema is not a JSON object",
        "input line 7 is a STATE message without 'value'",
        "input line 8 has no message type",
        "input line 9 is not a JSON object",
        (
            "input line 10 is a BATCH message; this target reads RECORD messages"
            " (it has no batch capability)"
        ),
    ]


def test_a_schema_without_properties_is_taken(bc: RunningEmulator, tmp_path: Path) -> None:
    """Records are checked against $metadata, so ``{"type": "object"}`` is schema enough.

    The input also starts with a UTF-8 byte order mark, as some Windows tools write it.
    """
    schemaless = {"type": "SCHEMA", "stream": "customers", "schema": {"type": "object"}}
    run = _run(bc, tmp_path, b"\xef\xbb\xbf" + _around(bc, b"", schema=schemaless))
    _assert_rest_written(bc, run, status=0)
    assert run.rejected == []


def test_a_record_before_its_schema_is_rejected_whole(bc: RunningEmulator, tmp_path: Path) -> None:
    early = {"number": "IN-V", "displayName": "Too early", "companyId": bc.companies[0]["id"]}
    bad = _line({"type": "RECORD", "stream": "vendors", "record": early})
    run = _run(bc, tmp_path, _around(bc, bad + bad))
    _assert_rest_written(bc, run)
    assert [entry["stream"] for entry in run.rejected] == ["vendors", "vendors"]
    assert run.rejected[0]["record"] == early  # whole, so it can be replayed as it is
    assert [entry["message"] for entry in run.rejected] == [
        f"input line {n}: RECORD of stream 'vendors' came before any SCHEMA of it" for n in (4, 5)
    ]
    assert run.stderr.count("came before any SCHEMA") == 1  # logged once per stream
    assert "IN-V" not in rows_by(bc, "vendors", "number")


def test_bad_values_are_rejected_by_field_and_value(bc: RunningEmulator, tmp_path: Path) -> None:
    bad = [
        _customer(bc, "IN-A", taxLiable="yes"),
        _customer(bc, "IN-B", currencyId="EUR"),
        _customer(bc, "IN-C", displayName="x" * 101),
        _customer(bc, "IN-D", lastModifiedDateTime="yesterday"),
        _customer(bc, "IN-E", **{"@odata.etag": 7}),
        _customer(bc, "IN-F", number=["IN", "F"]),
    ]
    run = _run(bc, tmp_path, _around(bc, encode(bad).encode()), max_rejections=6)
    _assert_rest_written(bc, run, status=0)
    messages = [entry["message"] for entry in run.rejected]
    assert messages == [
        "field 'taxLiable' of customers is not true or false (value 'yes')",
        "field 'currencyId' of customers is not a GUID (value 'EUR')",
        (
            "field 'displayName' of customers is 101 characters long; BC allows at most 100"
            f" (value {'x' * 101!r:.57}...)"
        ),
        "field 'lastModifiedDateTime' of customers is not a date-time (value 'yesterday')",
        "field '@odata.etag' of customers is not a string",
        "field 'number' of customers is not a string (value ['IN', 'F'])",
    ]
    assert run.summary("customers")["created"] == 2


def test_state_with_decimal_numbers_passes_through_exactly(
    bc: RunningEmulator, tmp_path: Path
) -> None:
    exact = b"0.1000000000000000000001"
    state = b'{"type": "STATE", "value": {"bookmarks": {"customers": {"at": %s}}}}\n' % exact
    run = _run(bc, tmp_path, _around(bc, b"") + state)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.strip().encode().endswith(b'{"at":%s}}}' % exact)
