"""The delete-detection sketch and snapshots: exact differences, small state, honest failure."""

from __future__ import annotations

import random
import uuid

import pytest
from tap_businesscentral.deletes.reconcile import (
    KeySet,
    SnapshotError,
    add_since,
    compare,
    snapshot,
)
from tap_businesscentral.deletes.sketch import CELL_BYTES, Sketch, cells_for, int_guid


def _keys(count: int, seed: int) -> set[int]:
    rng = random.Random(seed)  # noqa: S311 - test data
    return {rng.getrandbits(128) for _ in range(count)}


def _keyset(keys: set[int]) -> KeySet:
    found = KeySet()
    for key in keys:
        found.add((int_guid(key),))
    return found


@pytest.mark.parametrize("differences", [0, 1, 10, 200, 1000])
def test_sketch_decodes_both_differences_exactly(differences: int) -> None:
    common = _keys(20000, 1)
    gone = _keys(differences // 2, 2)
    new = _keys(differences - differences // 2, 3)
    cells = cells_for(differences)
    before = Sketch(cells).update(common | gone)
    after = Sketch(cells).update(common | new)
    result = before.minus(after).decode()
    assert result.complete
    assert result.gone == gone
    assert result.new == new


def test_sketch_too_small_says_so_and_gives_only_certain_keys() -> None:
    common = _keys(5000, 4)
    gone = _keys(400, 5)
    before = Sketch(cells_for(20)).update(common | gone)
    after = Sketch(cells_for(20)).update(common)
    result = before.minus(after).decode()
    assert not result.complete
    assert result.left_cells > 0
    assert result.gone <= gone  # whatever it found is right
    assert not result.new


def test_sketch_round_trips_through_text() -> None:
    sketch = Sketch(cells_for(50)).update(_keys(300, 6))
    text = sketch.to_text()
    again = Sketch.from_text(text)
    assert again.to_text() == text
    assert len(text) == 4 * ((sketch.size * CELL_BYTES + 2) // 3)


def test_small_sets_are_remembered_by_their_keys_large_ones_by_a_fixed_size_sketch() -> None:
    small = _keyset(_keys(100, 7))
    first = compare(None, small)
    assert first.gone == []
    assert "keys" in snapshot(small, 1000, None, first)
    large = _keyset(_keys(100_000, 8))
    remembered = snapshot(large, 1000, None, compare(None, large))
    assert "sketch" in remembered
    # The state does not grow with the set: about 42 bytes a difference it is sized for.
    assert len(remembered["sketch"]) == 4 * ((cells_for(1000) * CELL_BYTES + 2) // 3) < 60_000


def test_compare_finds_deletes_from_keys_and_from_a_sketch() -> None:
    keys = _keys(50_000, 9)
    gone = set(random.Random(10).sample(sorted(keys), 25))  # noqa: S311 - test data
    inserted = _keys(30, 11)
    old = snapshot(_keyset(keys), 100, None, compare(None, _keyset(keys)))
    assert "sketch" in old
    found = compare(old, _keyset((keys - gone) | inserted))
    assert found.missed == 0
    assert set(found.gone) == {(int_guid(k),) for k in gone}
    assert found.differences == len(gone) + len(inserted)


def test_a_failed_decode_is_counted_and_the_next_sketch_is_larger() -> None:
    keys = _keys(20_000, 12)
    gone = set(random.Random(13).sample(sorted(keys), 2000))  # noqa: S311 - test data
    old = snapshot(_keyset(keys), 50, None, compare(None, _keyset(keys)))
    found = compare(old, _keyset(keys - gone))
    assert found.missed > 0
    assert {k[0] for k in found.gone} <= {int_guid(k) for k in gone}
    bigger = snapshot(_keyset(keys - gone), 50, old, found)
    assert len(bigger["sketch"]) >= 4 * len(old["sketch"]) - 8


def test_keys_written_between_reconciliations_are_deleted_when_gone() -> None:
    keys = _keys(10, 14)
    old = snapshot(_keyset(keys), 100, None, compare(None, _keyset(keys)))
    written_between = (str(uuid.UUID(int=12345)),)
    old = add_since(old, {written_between})
    found = compare(old, _keyset(keys))
    assert found.gone == [written_between]


def test_keys_that_are_not_one_guid_are_remembered_as_json() -> None:
    keys = KeySet()
    keys.add(("C0001",))
    keys.add(("C0002",))
    old = snapshot(keys, 100, None, compare(None, keys))
    assert "json" in old
    now = KeySet()
    now.add(("C0002",))
    assert compare(old, now).gone == [("C0001",)]


def test_an_unreadable_snapshot_is_an_error_the_stream_can_name() -> None:
    with pytest.raises(SnapshotError):
        compare({"sketch": "not base64!"}, KeySet())
    with pytest.raises(SnapshotError):
        compare({"count": 3}, KeySet())
