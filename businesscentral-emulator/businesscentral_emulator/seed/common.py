"""Building blocks of the seed: deterministic randomness, ids, money text, change clocks, context.

Everything here is tuned for volume: a million GL entries go through `new_guid`, `cents_text` and
`Clock`, so they avoid `uuid.UUID`, `decimal.Decimal` and `datetime.strftime` per row.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from businesscentral_emulator.odata.values import EMPTY_DATETIME

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from businesscentral_emulator.odata.edmx import ApiModel, EntitySet
    from businesscentral_emulator.store.sqlite import Store

Row = dict[str, Any]

SPAN_MS = 730 * 86_400_000  # change times spread over the two years before `now`
DAY_MS = 86_400_000
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_EPOCH_DATE = dt.date(1970, 1, 1)
_MASK_128 = (1 << 128) - 1
_VERSION_CLEAR = _MASK_128 & ~((0xF000 << 64) | (0xC000 << 48))
_VERSION_SET = (0x4000 << 64) | (0x8000 << 48)


def derive_rng(seed: int, *parts: str) -> random.Random:
    """A generator of its own for one (seed, company, set): adding a set never shifts another."""
    digest = hashlib.blake2b("|".join((str(seed), *parts)).encode(), digest_size=16).digest()
    return random.Random(int.from_bytes(digest, "big"))  # noqa: S311 - seed data, not secrets


def chance(rng: random.Random, probability: float) -> bool:
    """True with the given probability (one draw)."""
    return rng.random() < probability


def new_guid(rng: random.Random) -> str:
    """A version-4 GUID in lower-case text; equal to `str(uuid.UUID(int=bits, version=4))`."""
    text = f"{(rng.getrandbits(128) & _VERSION_CLEAR) | _VERSION_SET:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def cents_text(cents: int) -> str:
    """Stored decimal text of an amount in cents, as `format_decimal` writes it, without Decimal."""
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(cents), 100)
    if frac == 0:
        return f"{sign}{whole}"
    if frac % 10 == 0:
        return f"{sign}{whole}.{frac // 10}"
    return f"{sign}{whole}.{frac:02d}"


def text_cents(text: str) -> int:
    """Cents of a stored 2-place decimal text (the inverse of `cents_text`)."""
    whole, _, frac = text.partition(".")
    sign = -1 if whole.startswith("-") else 1
    return sign * (abs(int(whole)) * 100 + int((frac + "00")[:2]))


def format_ms(ms: int) -> str:
    """Stored datetime text of epoch milliseconds (UTC, fixed-width milliseconds)."""
    moment = _EPOCH + dt.timedelta(milliseconds=ms)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{ms % 1000:03d}Z"


def date_of_ms(ms: int) -> str:
    """Stored date text of the UTC day holding epoch milliseconds `ms`."""
    return (_EPOCH_DATE + dt.timedelta(days=ms // DAY_MS)).isoformat()


def epoch_ms(moment: dt.datetime) -> int:
    """Epoch milliseconds of a moment; a naive moment is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return (moment - _EPOCH) // dt.timedelta(milliseconds=1)


def fit(text: str, max_length: int | None) -> str:
    """Cut text to a property's MaxLength, as BC would refuse anything longer."""
    return text if max_length is None or len(text) <= max_length else text[:max_length].rstrip()


class Clock:
    """Change times: random over two years, in bursts sharing one millisecond, some empty.

    Batch jobs in BC stamp several rows in the same millisecond, and rows migrated from older
    versions carry the empty datetime; incremental clients must cope with both.
    """

    def __init__(
        self,
        rng: random.Random,
        now_ms: int,
        *,
        empty_rate: float = 0.0,
        burst_rate: float = 0.04,
    ) -> None:
        """Draw from `rng`; `now_ms` anchors the window but never changes the draw sequence."""
        self._rng = rng
        self._now_ms = now_ms
        self._burst_rate = burst_rate
        self._left = 0
        self._last = now_ms
        # Empty rows come one per period (not by chance), so even a small set has its share.
        self._empty_every = round(1 / empty_rate) if empty_rate > 0 else 0
        self._empty_at = rng.randrange(self._empty_every) if self._empty_every else -1
        self._rows = 0

    def next_ms(self) -> int | None:
        """Milliseconds of the next change time, or None for an empty (migrated) row."""
        rng = self._rng
        self._rows += 1
        if self._left > 0:
            self._left -= 1
            return self._last
        if self._empty_every and self._rows % self._empty_every == self._empty_at:
            return None
        self._last = self._now_ms - rng.randrange(1, SPAN_MS)
        if chance(rng, self._burst_rate):
            self._left = rng.randint(1, 4)
        return self._last

    def next(self) -> str:
        """Stored text of the next change time."""
        ms = self.next_ms()
        return EMPTY_DATETIME if ms is None else format_ms(ms)


@dataclass(frozen=True)
class Locale:
    """Where a company does business: its country, currency, tax style and places."""

    country: str
    currency: str
    phone_prefix: str
    domain: str
    cities: tuple[tuple[str, str, str], ...]
    sales_tax: bool


@dataclass
class CompanyContext:
    """What the generators of one company share: the model, the store and the rows made so far."""

    api: ApiModel
    store: Store
    company_id: str
    company_name: str
    seed: int
    scale: float
    now_ms: int
    locale: Locale
    counts: dict[str, int]
    refs: dict[str, list[Row]] = field(default_factory=dict)
    done: set[str] = field(default_factory=set)

    def rng(self, *parts: str) -> random.Random:
        """The generator for one purpose of this company."""
        return derive_rng(self.seed, self.company_id, *parts)

    def clock(self, set_name: str, *, empty_rate: float = 0.0) -> Clock:
        """A change clock of its own for one set."""
        return Clock(self.rng(set_name, "clock"), self.now_ms, empty_rate=empty_rate)

    def count(self, base: float) -> int:
        """How many rows a volume set gets: `base` at scale 1, at least one."""
        return max(1, round(base * self.scale))

    def has(self, set_name: str, *props: str) -> bool:
        """Whether the model has this set with these properties."""
        entity_set = self.api.entity_sets.get(set_name)
        return entity_set is not None and all(p in entity_set.entity_type.properties for p in props)

    def props(self, set_name: str) -> Mapping[str, Any]:
        """Properties of a set (empty when the model lacks it)."""
        entity_set = self.api.entity_sets.get(set_name)
        return entity_set.entity_type.properties if entity_set else {}

    def insert(self, set_name: str, rows: Iterable[Row], *, remember: bool = False) -> None:
        """Store rows of one set (skipped when the model lacks it); optionally keep them as refs."""
        entity_set: EntitySet | None = self.api.entity_sets.get(set_name)
        if entity_set is None:
            return
        if remember:
            kept = self.refs.setdefault(set_name, [])
            rows = _keeping(rows, kept)
        inserted = self.store.insert_many(self.api, entity_set, self.company_id, rows)
        self.counts[set_name] = self.counts.get(set_name, 0) + inserted
        self.done.add(set_name)

    def ref(self, set_name: str) -> list[Row]:
        """Rows kept of a set (empty when none)."""
        return self.refs.get(set_name, [])


def _keeping(rows: Iterable[Row], kept: list[Row]) -> Iterable[Row]:
    for row in rows:
        kept.append(row)
        yield row
