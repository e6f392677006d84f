"""The singer-sdk standard target tests, against an emulator over HTTPS on loopback.

The SDK's test input names streams such as ``test_camelcase`` and ``example_stream``: no BC
entity set has those names, so the right outcome for each of their records is a rejection with
the reason, in the rejected-records file, while the run itself completes (signed in, ``$metadata``
read, every record accounted for). The runner's config therefore allows rejections
(``max_rejections``) and writes them to the test's own directory; after each test that runs to the
end, every RECORD of its input file must be in that file with the stream it came from and the
reason.

Run as in the SDK, in-process through ``TargetTestRunner``:
array_data, camelcase, camelcase_complex_schema, cli_prints, duplicate_records,
encoded_string_data, no_primary_keys, optional_attributes, pk_updates, record_missing_fields,
schema_no_properties, schema_updates, special_chars_in_attributes (the SDK's default target suite
minus the three below).

Excluded, and why:

- ``invalid_schema`` and ``record_before_schema`` expect the SDK to raise. Bad input never aborts
  this target (issue 13): a SCHEMA without ``properties`` is taken as one that declares none (the
  records are checked against ``$metadata``), and a RECORD before its SCHEMA is rejected with its
  line number while the run goes on. tests/reliability/test_rel_target_input.py checks both.
- ``record_missing_key_property`` expects ``MissingKeyPropertiesError``. This target looks a record
  without its key (``id``) up by its natural key instead (``number`` for customers), so a record
  without key properties is valid input by design; the test below
  (``test_record_missing_key_property_is_accounted_for``) runs the same input and checks that the
  record is handled (rejected for its stream, with the reason) instead of raising.
- ``multiple_state_messages`` (left out of the SDK's own default list too) cannot pass for any
  target in singer-sdk 0.54: it compares the runner's parsed STATE dicts with JSON strings, and
  it expects a STATE relayed after each input STATE, while the SDK relays STATE only when sinks
  drain. What matters here, that STATE passes only after the records before it are handled, is
  checked below on the same input (``test_state_passes_after_its_records``).

Beyond the SDK's checks, the standard encoded-strings input is mapped onto ``customers`` with
stream maps, so its strings really land in BC and are compared there, and its unmapped streams
end rejected; and the real CLI with the default ``max_rejections`` (0) exits 1 after writing every
rejection.
"""

from __future__ import annotations

import importlib.resources
import json
from typing import TYPE_CHECKING, Any

import pytest
from singer_sdk.testing import get_target_test_class
from singer_sdk.testing.runners import TargetTestRunner
from singer_sdk.testing.suites import SingerTestSuite
from singer_sdk.testing.target_tests import (
    TargetArrayData,
    TargetCamelcaseComplexSchema,
    TargetCamelcaseTest,
    TargetCliPrintsTest,
    TargetDuplicateRecords,
    TargetEncodedStringData,
    TargetNoPrimaryKeys,
    TargetOptionalAttributes,
    TargetPrimaryKeyUpdates,
    TargetRecordMissingOptionalFields,
    TargetSchemaNoProperties,
    TargetSchemaUpdates,
    TargetSpecialCharsInAttributes,
)
from target.target_runner import run_target, target_config
from target_businesscentral.target import TargetBusinessCentral

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from conftest import RunningEmulator

STREAMS = importlib.resources.files("singer_sdk.testing") / "target_test_streams"
NO_ENTITY_SET = "names no entity set"

SUITE = SingerTestSuite(
    kind="target",
    tests=[
        TargetArrayData,
        TargetCamelcaseComplexSchema,
        TargetCamelcaseTest,
        TargetCliPrintsTest,
        TargetDuplicateRecords,
        TargetEncodedStringData,
        TargetNoPrimaryKeys,
        TargetOptionalAttributes,
        TargetPrimaryKeyUpdates,
        TargetRecordMissingOptionalFields,
        TargetSchemaNoProperties,
        TargetSchemaUpdates,
        TargetSpecialCharsInAttributes,
    ],
)

_StandardTests = get_target_test_class(
    TargetBusinessCentral,
    config={},  # replaced per test by the runner fixture below (the emulator's settings)
    custom_suites=[SUITE],
    include_target_tests=False,
)


def input_records(name: str) -> list[dict[str, Any]]:
    """The RECORD messages of a standard input file."""
    lines = (STREAMS / f"{name}.singer").read_text(encoding="utf-8").splitlines()
    messages = [json.loads(line) for line in lines if line.strip()]
    return [m for m in messages if m["type"] == "RECORD"]


def rejected_lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def sorted_pairs(messages: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return sorted((m["stream"], json.dumps(m["record"], sort_keys=True)) for m in messages)


@pytest.fixture(scope="module")
def standard_emulator(start_emulator: Any) -> RunningEmulator:
    return start_emulator(seed=11, scale=0.05)


class TestTargetBusinessCentralStandard(_StandardTests):
    """The SDK's standard target tests, each with a fresh rejected-records file."""

    @pytest.fixture
    def runner(self, standard_emulator: RunningEmulator, tmp_path: Path) -> TargetTestRunner:
        config = target_config(standard_emulator.info, tmp_path, max_rejections=1000)
        return TargetTestRunner(target_class=TargetBusinessCentral, config=config)

    @pytest.fixture(autouse=True)
    def every_record_accounted_for(
        self, request: pytest.FixtureRequest, tmp_path: Path
    ) -> Iterator[None]:
        """After the test: each RECORD of its input is in the rejected file, with the reason."""
        yield
        name = request.node.name.removeprefix("test_target_")
        if name == "cli_prints":
            return
        rejected = rejected_lines(tmp_path / "rejected.jsonl")
        for line in rejected:
            assert NO_ENTITY_SET in line["message"], line
            assert line["operation"] == "validate", line
        # Streams drain one after another, so compare as sorted (stream, record) pairs.
        assert sorted_pairs(rejected) == sorted_pairs(input_records(name))


def test_record_missing_key_property_is_accounted_for(
    standard_emulator: RunningEmulator, tmp_path: Path
) -> None:
    """The SDK's record_missing_key_property input: no error, the record rejected for its stream."""
    config = target_config(standard_emulator.info, tmp_path, max_rejections=1)
    text = (STREAMS / "record_missing_key_property.singer").read_text(encoding="utf-8")
    run = run_target(tmp_path, config, text)
    assert run.returncode == 0, run.stderr[-3000:]
    assert [r["record"] for r in run.rejected] == [{"metric": 8214}]
    assert NO_ENTITY_SET in run.rejected[0]["message"]
    assert run.summary("test_record_missing_key_property")["rejected"] == 1


def test_state_passes_after_its_records(standard_emulator: RunningEmulator, tmp_path: Path) -> None:
    """The SDK's multiple_state_messages input through the CLI: STATE after every record."""
    config = target_config(standard_emulator.info, tmp_path, max_rejections=1000)
    text = (STREAMS / "multiple_state_messages.singer").read_text(encoding="utf-8")
    run = run_target(tmp_path, config, text)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.states, run.stderr[-3000:]
    assert run.states[-1] == {
        "test_multiple_state_messages_a": 5,
        "test_multiple_state_messages_b": 6,
    }
    assert sorted_pairs(run.rejected) == sorted_pairs(input_records("multiple_state_messages"))


def test_standard_input_exits_1_after_rejecting_every_record(
    standard_emulator: RunningEmulator, tmp_path: Path
) -> None:
    """With the default max_rejections (0) the CLI fails, but only after handling every record."""
    config = target_config(standard_emulator.info, tmp_path)
    text = (STREAMS / "duplicate_records.singer").read_text(encoding="utf-8")
    run = run_target(tmp_path, config, text)
    assert run.returncode == 1
    assert "5 records were rejected (max_rejections is 0)" in run.stderr
    assert [r["record"]["metric"] for r in run.rejected] == [1, 2, 10, 20, 100]
    assert run.summary("test_duplicate_records")["rejected"] == 5


def test_encoded_strings_land_in_customers_through_stream_maps(
    standard_emulator: RunningEmulator, tmp_path: Path
) -> None:
    """The SDK's encoded-strings input, mapped onto customers: the exact strings are in BC."""
    company = standard_emulator.companies[0]
    stream_maps = {
        "test_strings": {
            "__alias__": "customers",
            "__key_properties__": ["number"],
            "number": "'STD-' + str(id)",
            "displayName": "info",
            "id": "__NULL__",
            "info": "__NULL__",
        }
    }
    config = target_config(
        standard_emulator.info,
        tmp_path,
        default_company=company["name"],
        stream_maps=stream_maps,
        max_rejections=1000,
    )
    text = (STREAMS / "encoded_string_data.singer").read_text(encoding="utf-8")
    run = run_target(tmp_path, config, text)
    assert run.returncode == 0, run.stderr[-3000:]
    sent = {
        f"STD-{m['record']['id']}": m["record"]["info"]
        for m in input_records("encoded_string_data")
        if m["stream"] == "test_strings"
    }
    rows = {
        row["number"]: row["displayName"]
        for row in standard_emulator.get_all(standard_emulator.company_url("customers"))
        if row["number"].startswith("STD-")
    }
    rejected_here = {
        r["record"].get("number"): r for r in run.rejected if r["stream"] == "customers"
    }
    # Every mapped record either landed with exactly its string, or was rejected with BC's reason.
    assert set(rows) | set(rejected_here) == set(sent)
    for number, text_sent in sent.items():
        if number in rows:
            assert rows[number] == text_sent, number
        else:
            assert rejected_here[number]["message"], rejected_here[number]
    assert len(rows) >= 9, run.rejected  # all but the control characters at the very least
    others = [r for r in run.rejected if r["stream"] != "customers"]
    assert {r["stream"] for r in others} == {"test_strings_in_objects", "test_strings_in_arrays"}
    assert len(others) == 17
    summary = run.summary("customers")
    assert summary["created"] == len(rows)
