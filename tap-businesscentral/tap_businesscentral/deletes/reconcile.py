"""Comparing the keys read now with those remembered from the last reconciliation.

A snapshot (in the partition's state, under ``deletes``) remembers one (stream, company)'s keys:

- ``{"keys": <base64 of 16-byte GUIDs>}`` while the keys take no more room than the sketch;
- ``{"sketch": <base64 cells>}`` (see :mod:`tap_businesscentral.deletes.sketch`) beyond that;
- ``{"json": [[...], ...]}`` for sets whose key is not one GUID (a few report sets).

with ``count`` (keys remembered) and ``at`` (when they were read). Keys written between two
reconciliations (runs that skip it, see ``detect_deletes_every_hours``) wait in ``since``, so a
row created and deleted between two reconciliations but written in between is deleted too.

A sketch that cannot be decoded (more differences than its cells) gives the deletes it could
peel, all certain, and says how many it missed; the next snapshot is four times larger.
"""

from __future__ import annotations

import binascii
import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from tap_businesscentral.deletes.sketch import (
    CELL_BYTES,
    Sketch,
    cells_for,
    guid_int,
    int_guid,
    keys_from_text,
    keys_to_text,
    other_keys_to_text,
)

__all__ = ["DELETED_AT", "STATE_KEY", "Comparison", "KeySet", "compare", "snapshot"]

DELETED_AT = "_sdc_deleted_at"
STATE_KEY = "deletes"
_GUID_BYTES = 16

Key = tuple[Any, ...]


class KeySet:
    """The keys (without ``companyId``) of one company's rows, as read."""

    def __init__(self) -> None:
        """Empty; GUID keys are held as integers until one that is not a GUID arrives."""
        self.guids: set[int] = set()
        self.others: set[Key] = set()

    def add(self, key: Key) -> None:
        """Add one row's key."""
        if len(key) == 1 and isinstance(key[0], str):
            value = guid_int(key[0])
            if value is not None:
                self.guids.add(value)
                return
        self.others.add(tuple(key))

    def __len__(self) -> int:
        """Keys held."""
        return len(self.guids) + len(self.others)

    def all_keys(self) -> set[Key]:
        """Every key as a tuple, GUIDs spelt as BC spells them."""
        return {(int_guid(g),) for g in self.guids} | self.others


@dataclass
class Comparison:
    """What a reconciliation found.

    Attributes:
        gone: Keys remembered and no longer read: deleted in BC.
        missed: Differences the sketch held but could not give (0 when complete).
        differences: Differences found (deleted and inserted), to size the next sketch.
    """

    gone: list[Key]
    missed: int = 0
    differences: int = 0


class SnapshotError(ValueError):
    """The state's snapshot cannot be read."""


def compare(old: dict[str, Any] | None, keys: KeySet) -> Comparison:
    """Keys of ``old`` (a snapshot, or None on a first reconciliation) missing from ``keys``.

    Raises:
        SnapshotError: The snapshot is not one this module wrote.
    """
    if not old:
        return Comparison([])
    gone: set[Key] = set()
    since = _read_since(old)
    gone |= {k for k in since if k not in keys.others and _guid_of(k) not in keys.guids}
    try:
        if "keys" in old:
            before = keys_from_text(str(old["keys"]))
            lost = before - keys.guids
            gone |= {(int_guid(g),) for g in lost}
            return Comparison(sorted(gone), differences=len(lost) + len(keys.guids - before))
        if "json" in old:
            others = {tuple(k) for k in json.loads(str(old["json"]))}
            lost_others = others - keys.all_keys()
            gone |= lost_others
            return Comparison(sorted(gone, key=json.dumps), differences=len(lost_others))
        if "sketch" in old:
            before_sketch = Sketch.from_text(str(old["sketch"]))
            result = before_sketch.minus(Sketch(before_sketch.size).update(keys.guids)).decode()
            gone |= {(int_guid(g),) for g in result.gone}
            found = len(result.gone) + len(result.new)
            # Each key left fills three cells at most: a lower bound of the differences missed.
            missed = 0 if result.complete else max(1, -(-result.left_cells // 3))
            return Comparison(sorted(gone), missed=missed, differences=found + missed)
    except (ValueError, TypeError, binascii.Error) as exc:
        msg = f"the snapshot of keys is not readable ({exc})"
        raise SnapshotError(msg) from None
    msg = "the snapshot of keys has no keys, json or sketch"
    raise SnapshotError(msg)


def _guid_of(key: Key) -> int | None:
    return guid_int(key[0]) if len(key) == 1 and isinstance(key[0], str) else None


def _read_since(old: dict[str, Any]) -> set[Key]:
    try:
        return {tuple(k) for k in old.get("since") or ()}
    except TypeError:
        msg = "the snapshot's keys written since are not a list of keys"
        raise SnapshotError(msg) from None


def snapshot(
    keys: KeySet, capacity: int, previous: dict[str, Any] | None, comparison: Comparison
) -> dict[str, Any]:
    """The snapshot to remember: keys while smaller than the sketch, else a sketch.

    The sketch is sized for ``capacity`` differences, or twice the differences just seen, or
    (after a decode that missed some) four times the previous sketch: the next one decodes.
    """
    wanted = max(capacity, 2 * comparison.differences)
    cells = cells_for(wanted)
    if comparison.missed and previous and "sketch" in previous:
        cells = max(cells, 4 * len(str(previous["sketch"])) * 3 // 4 // CELL_BYTES)
    at = dt.datetime.now(dt.timezone.utc).isoformat()
    count = len(keys)
    if keys.others:
        return {"json": other_keys_to_text(keys.all_keys()), "count": count, "at": at}
    if count * _GUID_BYTES <= cells * CELL_BYTES:
        return {"keys": keys_to_text(keys.guids), "count": count, "at": at}
    sketch = Sketch(cells).update(keys.guids)
    return {"sketch": sketch.to_text(), "count": count, "at": at}


def add_since(old: dict[str, Any], written: set[Key]) -> dict[str, Any]:
    """The snapshot with keys written in a run that skipped the reconciliation."""
    since = _read_since(old) | written
    return {**old, "since": sorted([list(k) for k in since], key=json.dumps)}


def due(old: dict[str, Any] | None, every_hours: float, now: dt.datetime) -> bool:
    """Whether a reconciliation is due: none yet, or the last one ``every_hours`` ago."""
    if not old or every_hours <= 0:
        return True
    try:
        at = dt.datetime.fromisoformat(str(old.get("at")))
    except ValueError:
        return True
    return now - at >= dt.timedelta(hours=every_hours)
