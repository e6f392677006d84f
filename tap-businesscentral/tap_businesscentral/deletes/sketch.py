"""What a reconciliation remembers of a set of keys: the keys themselves, or a sketch of them.

BC's API v2.0 offers no delta links, so deletes are found by comparing the keys read now with
the keys read last time. The state must stay small for Meltano's state backends, so a large set
is remembered by an Invertible Bloom Lookup Table (Goodrich & Mitzenmacher 2011; Eppstein et al.,
"What's the Difference?", SIGCOMM 2011): cells of (count, key-xor, hash-xor) whose size follows
the differences expected between two reconciliations, not the number of keys. Subtracting the
sketch of this run's keys from last run's and peeling the pure cells gives both differences:
keys gone (deleted) and keys new (inserted). A set small enough is remembered by its keys, which
always decode.

Keys are BC's record ids, GUIDs (128-bit integers here). Sets whose key is not one GUID (a few
report sets) are always remembered by their keys, as JSON.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import uuid
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "CELL_BYTES",
    "DecodeResult",
    "Sketch",
    "cells_for",
    "guid_int",
    "int_guid",
]

_HASHES = 3  # cells per key, one in each third of the table: always three distinct cells
_KEY_BYTES = 16
_HASH_BYTES = 8
_COUNT_BYTES = 4
CELL_BYTES = _COUNT_BYTES + _KEY_BYTES + _HASH_BYTES
_KEY_MASK = (1 << 128) - 1
_HASH_MASK = (1 << 64) - 1


def guid_int(value: str) -> int | None:
    """A GUID as its 128-bit integer; None when ``value`` is not a GUID."""
    try:
        return uuid.UUID(value).int
    except (ValueError, AttributeError, TypeError):
        return None


def int_guid(value: int) -> str:
    """The GUID, lower case with hyphens (BC's spelling), of a 128-bit integer."""
    return str(uuid.UUID(int=value))


def _hashes(key: int) -> tuple[int, int, int, int]:
    """One BLAKE2b of the key: three 32-bit cell hashes and the 64-bit check hash."""
    digest = hashlib.blake2b(key.to_bytes(_KEY_BYTES, "big"), digest_size=20).digest()
    return (
        int.from_bytes(digest[0:4], "big"),
        int.from_bytes(digest[4:8], "big"),
        int.from_bytes(digest[8:12], "big"),
        int.from_bytes(digest[12:20], "big"),
    )


def cells_for(differences: int) -> int:
    """Cells that decode ``differences`` keys with high probability (a multiple of three).

    Three hashes peel when cells exceed about 1.23 times the differences; small tables need a
    margin more, hence 1.5 times plus 30.
    """
    wanted = math.ceil(1.5 * max(0, differences)) + 30
    return _HASHES * math.ceil(wanted / _HASHES)


@dataclass
class DecodeResult:
    """What peeling a difference sketch gave.

    Attributes:
        gone: Keys of the older set missing from the newer one (deleted).
        new: Keys of the newer set missing from the older one (inserted).
        complete: Whether every difference was found; False when there were more than the
            sketch can hold (``gone`` then holds only those found, each one certain).
    """

    gone: set[int] = field(default_factory=set)
    new: set[int] = field(default_factory=set)
    complete: bool = True
    left_cells: int = 0


class Sketch:
    """An Invertible Bloom Lookup Table of 128-bit keys."""

    def __init__(self, cells: int) -> None:
        """An empty table of ``cells`` cells (rounded up to a multiple of three)."""
        self.size = _HASHES * max(1, math.ceil(cells / _HASHES))
        self.count = [0] * self.size
        self.key_xor = [0] * self.size
        self.hash_xor = [0] * self.size

    def _cells(self, key: int) -> tuple[list[int], int]:
        """The key's three cells (one in each third of the table) and its check hash."""
        part = self.size // _HASHES
        first, second, third, check = _hashes(key)
        return [first % part, part + second % part, 2 * part + third % part], check

    def add(self, key: int, sign: int = 1) -> None:
        """Insert ``key`` (or, with ``sign=-1``, take it out)."""
        cells, check = self._cells(key)
        for cell in cells:
            self.count[cell] += sign
            self.key_xor[cell] ^= key
            self.hash_xor[cell] ^= check

    def update(self, keys: set[int]) -> Sketch:
        """Insert every key of a set; returns the sketch."""
        for key in keys:
            self.add(key)
        return self

    def minus(self, other: Sketch) -> Sketch:
        """The sketch of (this set) minus (the other set), cell by cell; same size required.

        Raises:
            ValueError: The sketches differ in size.
        """
        if other.size != self.size:
            msg = f"sketches of {self.size} and {other.size} cells cannot be compared"
            raise ValueError(msg)
        result = Sketch(self.size)
        for i in range(self.size):
            result.count[i] = self.count[i] - other.count[i]
            result.key_xor[i] = self.key_xor[i] ^ other.key_xor[i]
            result.hash_xor[i] = self.hash_xor[i] ^ other.hash_xor[i]
        return result

    def decode(self) -> DecodeResult:
        """Peel a difference sketch: pure cells give a key each, until none is left.

        A cell is pure when its count is 1 or -1 and its hash-xor is the key-xor's hash; a key
        so found is certain (a false pure cell has odds of 2^-64).
        """
        result = DecodeResult()
        pending = [i for i in range(self.size) if self._pure(i)]
        while pending:
            cell = pending.pop()
            if not self._pure(cell):
                continue
            key, sign = self.key_xor[cell], self.count[cell]
            (result.gone if sign > 0 else result.new).add(key)
            self.add(key, -sign)
            pending.extend(c for c in self._cells(key)[0] if self._pure(c))
        result.left_cells = sum(
            1 for i in range(self.size) if self.count[i] or self.key_xor[i] or self.hash_xor[i]
        )
        result.complete = result.left_cells == 0
        return result

    def _pure(self, cell: int) -> bool:
        return self.count[cell] in (1, -1) and self.hash_xor[cell] == _hashes(self.key_xor[cell])[3]

    # -- state ---------------------------------------------------------------------------
    def to_text(self) -> str:
        """The cells as base64 (count as signed 32 bits, key 128 bits, hash 64 bits)."""
        out = bytearray()
        for i in range(self.size):
            out += self.count[i].to_bytes(_COUNT_BYTES, "big", signed=True)
            out += (self.key_xor[i] & _KEY_MASK).to_bytes(_KEY_BYTES, "big")
            out += (self.hash_xor[i] & _HASH_MASK).to_bytes(_HASH_BYTES, "big")
        return base64.b64encode(bytes(out)).decode("ascii")

    @classmethod
    def from_text(cls, text: str) -> Sketch:
        """Read :meth:`to_text` back.

        Raises:
            ValueError: The text is not a whole number of cells of base64.
        """
        data = base64.b64decode(text.encode("ascii"), validate=True)
        if not data or len(data) % (CELL_BYTES * _HASHES):
            msg = "not a sketch"
            raise ValueError(msg)
        sketch = cls(len(data) // CELL_BYTES)
        for i in range(sketch.size):
            at = i * CELL_BYTES
            sketch.count[i] = int.from_bytes(data[at : at + _COUNT_BYTES], "big", signed=True)
            at += _COUNT_BYTES
            sketch.key_xor[i] = int.from_bytes(data[at : at + _KEY_BYTES], "big")
            at += _KEY_BYTES
            sketch.hash_xor[i] = int.from_bytes(data[at : at + _HASH_BYTES], "big")
        return sketch


def keys_to_text(keys: set[int]) -> str:
    """GUID keys as sorted 16-byte integers, base64: 21.4 bytes of state per key."""
    data = b"".join(key.to_bytes(_KEY_BYTES, "big") for key in sorted(keys))
    return base64.b64encode(data).decode("ascii")


def keys_from_text(text: str) -> set[int]:
    """Read :func:`keys_to_text` back.

    Raises:
        ValueError: The text is not base64 of whole keys.
    """
    data = base64.b64decode(text.encode("ascii"), validate=True)
    if len(data) % _KEY_BYTES:
        msg = "not a list of keys"
        raise ValueError(msg)
    return {
        int.from_bytes(data[i : i + _KEY_BYTES], "big") for i in range(0, len(data), _KEY_BYTES)
    }


def other_keys_to_text(keys: set[tuple[Any, ...]]) -> str:
    """Keys that are not one GUID, as sorted JSON."""
    return json.dumps(sorted([list(k) for k in keys], key=json.dumps), separators=(",", ":"))
