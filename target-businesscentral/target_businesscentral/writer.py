"""The write engine: look up, plan and send a drain's records in rounds of ``$batch`` requests.

A round takes at most one record per BC row (later records of the same key wait for the next
round, so their order holds), looks them all up in batched GETs, plans each, and sends the writes
100 to a ``$batch``, several batches in flight within ``max_concurrency``. Conflicts are rejected
with BC's current etag, or re-read and applied when asked.

A write whose answer was lost is never resent blindly, because BC may still be running it (BC has
no idempotency key; it keeps working on a request after the client gave up). The record is looked
up and planned again from what BC holds: an update or delete that committed is then unchanged or
gone (and a resent PATCH carries BC's current etag, so it cannot apply twice). A create is looked
up until it is found (created, not resent) or until ``write_settle_seconds`` after the loss, when
BC has certainly finished or cancelled it; only then is it sent again. A create that could not be
found again by what it carries is rejected instead of resent.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from businesscentral_api.batch import MAX_BATCH_OPERATIONS, BatchOperation, BatchResult, send_batch
from businesscentral_api.errors import (
    AuthenticationError,
    BusinessCentralError,
    OutcomeUnknownError,
)
from businesscentral_api.http import is_deadlock

from target_businesscentral.ledger import Rejection
from target_businesscentral.lookup import Lookup, assign_found, lookup_operations, rows_of
from target_businesscentral.plan import ETAG, Done, Item, Write, findable, plan

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from concurrent.futures import Executor

    from businesscentral_api.client import BusinessCentralClient
    from businesscentral_api.odata import ApiRoute

    from target_businesscentral.ledger import Ledger

__all__ = ["WriteEngine"]

LOGGER = logging.getLogger("target_businesscentral")
Group = tuple[Any, ...]
MAX_ROUNDS_PER_RECORD = 4
MAX_WAITS_PER_RECORD = 8
MAX_LOOKUP_ATTEMPTS = 5
MAX_RETRY_AFTER = 300.0
MAX_LOOK_INTERVAL = 30.0  # the longest pause between look-ups of a write that may be in flight
DEFAULT_SETTLE_SECONDS = 1080.0
_CONFLICT_STATUSES = frozenset({409, 412})
_NOT_RUN_STATUSES = frozenset({429})
_UNKNOWN_STATUSES = frozenset({0, 408, 500, 502, 503, 504})


@dataclass(frozen=True)
class _Sent:
    item: Item
    write: Write


class WriteEngine:
    """Writes items to BC and accounts for each in the ledger."""

    def __init__(  # noqa: PLR0913 - the run's shared parts and its write settings
        self,
        client: BusinessCentralClient,
        ledger: Ledger,
        pool: Executor,
        *,
        dry_run: bool = False,
        count_batch_operations: bool = False,
        settle_seconds: float = DEFAULT_SETTLE_SECONDS,
    ) -> None:
        """Share the client (limits, sign-in), the ledger and the worker pool of the run.

        ``settle_seconds``: how long after its answer was lost a create may still commit in BC.
        """
        self.client = client
        self.ledger = ledger
        self.pool = pool
        self.dry_run = dry_run
        self.count_batch_operations = count_batch_operations
        self.settle_seconds = settle_seconds
        self._sleep = time.sleep
        self._clock = time.monotonic
        self._pause = 0.0  # the longest Retry-After of the last round's throttled writes

    def run(self, items: list[Item]) -> list[Item]:
        """Write every item (or reject it); the items that ended in BC, with ``found`` set."""
        settled: list[Item] = []
        waiting = list(items)
        while waiting:
            if self._pause:
                LOGGER.warning("BC throttled writes; waiting %.1fs as it asked", self._pause)
                self._sleep(self._pause)
                self._pause = 0.0
            this_round, waiting = _one_per_row(waiting)
            now = self._clock()
            due = [item for item in this_round if item.look_again_at <= now]
            later = [item for item in this_round if item.look_again_at > now]
            if not due:  # only writes that may be in flight: wait for the first look-up due
                self._sleep(min(item.look_again_at for item in later) - now)
                waiting = later + waiting
                continue
            again = self._round(due, settled)
            waiting = again + later + waiting
        return settled

    # -- one round ---------------------------------------------------------------------------
    def _round(self, items: list[Item], settled: list[Item]) -> list[Item]:
        for item in items:
            item.attempts += 1
        items = self.look_up(items)
        writes: list[_Sent] = []
        in_flight: list[Item] = []
        for item in items:
            if item.found is None and self._may_be_in_flight(item):
                in_flight.append(item)
                continue
            item.in_flight_until = None
            decision = plan(item)
            if isinstance(decision, Done):
                self._settle(item, decision, settled)
            elif self.dry_run:
                outcome = {"create": "created", "update": "updated", "delete": "deleted"}
                self._settle(item, Done(outcome[decision.operation]), settled)
            else:
                writes.append(_Sent(item, decision))
        if in_flight:
            LOGGER.warning(
                "%s: %d creates whose answer was lost are not in BC yet and may still be running;"
                " looking them up again, not resending them",
                in_flight[0].stream,
                len(in_flight),
            )
        return in_flight + self._send(writes, settled)

    def _may_be_in_flight(self, item: Item) -> bool:
        """Whether a create BC has not shown yet may still commit (then look again later)."""
        if item.in_flight_until is None:
            return False
        now = self._clock()
        if now >= item.in_flight_until:
            LOGGER.warning(
                "%s: a create whose answer was lost is still not in BC %.0fs later"
                " (write_settle_seconds); sending it again",
                item.stream,
                self.settle_seconds,
            )
            item.in_flight_until = None
            return False
        item.attempts -= 1  # a look, not another attempt at the write
        item.looks += 1
        pause = min(2.0 ** (item.looks - 1), MAX_LOOK_INTERVAL, item.in_flight_until - now)
        item.look_again_at = now + pause
        return True

    def _settle(self, item: Item, done: Done, settled: list[Item]) -> None:
        if done.rejection is not None:
            self.reject(item, done.rejection)
            return
        self.ledger.count(item.stream, done.outcome)
        item.outcome = done.outcome
        if done.outcome != "deleted":
            settled.append(item)

    def reject(self, item: Item, rejection: Rejection) -> None:
        """Account for a record that could not be written."""
        item.outcome = "rejected"
        self.ledger.reject(item.stream, item.record, rejection)

    # -- look-ups ----------------------------------------------------------------------------
    def look_up(self, items: list[Item]) -> list[Item]:
        """Set ``found`` on every item; the items still to plan (ambiguous keys are rejected)."""
        lookups, groups = lookup_operations(items)
        stream = items[0].stream if items else ""
        rows, failed = self._fetch(lookups, groups, stream)
        remaining: list[Item] = []
        for group, members in groups.items():
            if group in failed:
                for item in members:
                    self.reject(item, Rejection.from_error("lookup", failed[group]))
                continue
            ambiguous = assign_found(members, rows[group])
            for item, rejection in ambiguous:
                self.reject(item, rejection)
            rejected = {id(item) for item, _ in ambiguous}
            remaining.extend(item for item in members if id(item) not in rejected)
        return remaining

    def _fetch(
        self, lookups: list[Lookup], groups: dict[Group, list[Item]], stream: str
    ) -> tuple[dict[Group, list[dict[str, Any]]], dict[Group, BusinessCentralError]]:
        """Run the look-ups; those BC refuses for now (throttled, busy) are asked again."""
        rows: dict[Group, list[dict[str, Any]]] = {group: [] for group in groups}
        failed: dict[Group, BusinessCentralError] = {}
        pending = list(lookups)
        for attempt in range(1, MAX_LOOKUP_ATTEMPTS + 1):
            operations = [lookup.operation for lookup in pending]
            apis = [groups[lookup.group][0].api for lookup in pending]
            transient: list[Lookup] = []
            pause = 0.0
            for index, outcome in self.in_batches(operations, apis, stream):
                lookup = pending[index]
                if isinstance(outcome, BusinessCentralError):
                    failed[lookup.group] = outcome
                elif outcome.ok:
                    rows[lookup.group].extend(self._all_rows(outcome.body, stream))
                elif _transient(outcome, lookup) and attempt < MAX_LOOKUP_ATTEMPTS:
                    transient.append(lookup)  # a read: safe to ask again
                    pause = max(pause, _retry_after(outcome) or 2.0 ** (attempt - 1))
                else:
                    failed[lookup.group] = outcome.error(lookup.operation)
            if not transient:
                break
            LOGGER.warning("%d look-ups refused for now; again in %.1fs", len(transient), pause)
            self._sleep(pause)
            pending = transient
        return rows, failed

    def _all_rows(self, body: Any, stream: str) -> list[dict[str, Any]]:  # noqa: ANN401
        rows = rows_of(body)
        next_link = (body or {}).get("@odata.nextLink")
        while next_link:
            self.ledger.count_requests(stream)
            page = self.client.get_json(next_link)
            rows.extend(rows_of(page))
            next_link = page.get("@odata.nextLink")
        return rows

    # -- writes ------------------------------------------------------------------------------
    def _send(self, writes: list[_Sent], settled: list[Item]) -> list[Item]:
        """Send the writes; the items that need another round."""
        if not writes:
            return []
        operations = [
            BatchOperation(sent.write.method, sent.write.path, sent.write.body, sent.write.headers)
            for sent in writes
        ]
        apis = [sent.item.api for sent in writes]
        again: list[Item] = []
        for index, outcome in self.in_batches(operations, apis, writes[0].item.stream):
            sent = writes[index]
            if isinstance(outcome, BatchResult):
                retry = self._answered(sent, operations[index], outcome, settled)
            else:
                retry = self._unanswered(sent, outcome)
            if retry:
                again.append(sent.item)
        if again:
            LOGGER.warning(
                "%s: %d writes were throttled or got no trustworthy answer; looking them up"
                " again before deciding",
                writes[0].item.stream,
                len(again),
            )
        return again

    def _answered(
        self, sent: _Sent, operation: BatchOperation, result: BatchResult, settled: list[Item]
    ) -> bool:
        item, write = sent.item, sent.write
        if result.ok:
            return self._succeeded(item, write, result, settled)
        error = result.error(operation)
        if write.operation == "delete" and result.status == 404 and item.sent == "delete":  # noqa: PLR2004
            self._settle(item, Done("deleted"), settled)  # the lost DELETE had committed
            return False
        if result.status in _CONFLICT_STATUSES and error.code == "Request_EntityChanged":
            return self._conflict(item, error)
        if result.status in _NOT_RUN_STATUSES or is_deadlock(error):
            self._pause = max(self._pause, _retry_after(result) or 1.0)
            return self._again(item, write.operation, error, sent=None)
        if result.status in _UNKNOWN_STATUSES:
            return self._again(item, write.operation, error, sent=write.operation)
        self.reject(item, Rejection.from_error(write.operation, error))
        return False

    def _succeeded(
        self, item: Item, write: Write, result: BatchResult, settled: list[Item]
    ) -> bool:
        """A write BC did: settle it, or PATCH back a value BC replaced on create (again)."""
        if write.operation != "delete" and isinstance(result.body, dict):
            item.found = result.body
        if (
            write.operation == "create"
            and item.natural_key is not None  # found again by it next round
            and isinstance(plan(item), Write)
        ):
            # BC replaced a value sent on create with one it derives (a purchase Item line's
            # unitCost becomes the item's cost): PATCH the record's value back next round.
            item.sent = "create"
            return True
        outcome = {"create": "created", "update": "updated", "delete": "deleted"}
        done = "created" if item.sent == "create" else outcome[write.operation]
        self._settle(item, Done(done), settled)
        return False

    def _unanswered(self, sent: _Sent, error: BusinessCentralError) -> bool:
        """No answer to the whole ``$batch``: BC may still be running it."""
        if isinstance(error, OutcomeUnknownError):
            again = self._again(sent.item, sent.write.operation, error, sent=sent.write.operation)
            if again and sent.write.operation == "create":
                sent.item.in_flight_until = self._clock() + self.settle_seconds
                sent.item.looks = 0
            return again
        self.reject(sent.item, Rejection.from_error(sent.write.operation, error))
        return False

    def _conflict(self, item: Item, error: BusinessCentralError) -> bool:
        """BC refused a stale etag: reject with the current etag, or re-read and apply.

        After a PATCH whose answer was lost, the stale etag may be the lost PATCH's own doing:
        the record is looked up again (its values then match BC's, and it settles as updated).
        """
        retry = item.overwrite or item.sent == "update"
        if retry and item.attempts < MAX_ROUNDS_PER_RECORD:
            return True
        current = self._current_etag(item)
        self.reject(item, Rejection.from_error("update", error, current_etag=current))
        return False

    def _current_etag(self, item: Item) -> str | None:
        found = item.found
        if found is None:
            return None
        url = (
            self.client.urls.api_root(item.api)
            + "/"
            + item.entity_path(found[item.model.key_field])
        )
        self.ledger.count_requests(item.stream)
        try:
            row = self.client.get_json(url, {"$select": item.model.key_field})
        except BusinessCentralError:
            return None
        return str(row.get(ETAG)) if isinstance(row, dict) and row.get(ETAG) else None

    def _again(
        self, item: Item, operation: str, error: BusinessCentralError, sent: str | None
    ) -> bool:
        """Another round for a write BC did not run (``sent`` None) or may have run."""
        if sent == "create" and not findable(item):
            message = (
                "the create may or may not have happened and the record has no natural key that"
                f" BC keeps to check it by, so it was not sent again: {error.message}"
            )
            rejection = Rejection(
                operation, message, error.status, error.code, error.correlation_id
            )
            self.reject(item, rejection)
            return False
        if sent is None:  # not run (throttled, deadlock): a wait, not a failed attempt
            item.attempts -= 1
            item.waits += 1
        if item.attempts >= MAX_ROUNDS_PER_RECORD or item.waits > MAX_WAITS_PER_RECORD:
            self.reject(item, Rejection.from_error(operation, error))
            return False
        if sent is not None:
            item.sent = sent
        return True

    # -- batches -----------------------------------------------------------------------------
    def in_batches(
        self, operations: Sequence[BatchOperation], apis: Sequence[ApiRoute], stream: str
    ) -> list[tuple[int, BatchResult | BusinessCentralError]]:
        """Send operations 100 to a ``$batch`` (one API each), batches in parallel."""
        chunks: list[tuple[ApiRoute, list[int]]] = []
        by_api: dict[ApiRoute, list[int]] = {}
        for index, api in enumerate(apis):
            by_api.setdefault(api, []).append(index)
        for api, indexes in by_api.items():
            chunks.extend(
                (api, indexes[i : i + MAX_BATCH_OPERATIONS])
                for i in range(0, len(indexes), MAX_BATCH_OPERATIONS)
            )

        def send(chunk: tuple[ApiRoute, list[int]]) -> list[tuple[int, Any]]:
            api, indexes = chunk
            self.ledger.count_requests(stream)
            try:
                results = send_batch(
                    self.client,
                    [operations[i] for i in indexes],
                    api,
                    count_operations=self.count_batch_operations,
                )
            except AuthenticationError:
                raise
            except BusinessCentralError as error:
                return [(i, error) for i in indexes]
            return list(zip(indexes, results, strict=True))

        outcomes: list[tuple[int, BatchResult | BusinessCentralError]] = []
        for part in self._map(send, chunks):
            outcomes.extend(part)
        return outcomes

    def _map(self, function: Callable[[Any], Any], chunks: list[Any]) -> list[Any]:
        if len(chunks) <= 1:
            return [function(chunk) for chunk in chunks]
        return list(self.pool.map(function, chunks))


def _one_per_row(items: list[Item]) -> tuple[list[Item], list[Item]]:
    """Split off the first item of each BC row; the rest wait, in order."""
    now: list[Item] = []
    later: list[Item] = []
    seen: set[tuple[Any, ...]] = set()
    for item in items:
        identity = item.identity()
        if identity is not None and (identity in seen):
            later.append(item)
            continue
        if identity is not None:
            seen.add(identity)
        now.append(item)
    return now, later


def _transient(result: BatchResult, lookup: Lookup) -> bool:
    """A refusal that says nothing about the request itself: throttled, busy, timed out."""
    status = result.status
    if status in _NOT_RUN_STATUSES or status in _UNKNOWN_STATUSES:
        return True
    return is_deadlock(result.error(lookup.operation))


def _retry_after(result: BatchResult) -> float | None:
    value = result.headers.get("retry-after", "")
    try:
        return min(float(value), MAX_RETRY_AFTER) if value else None
    except ValueError:
        return None
