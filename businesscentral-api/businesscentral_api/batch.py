"""OData JSON ``$batch``: up to 100 operations in one HTTP request, each answered on its own.

A batch is sent non-atomically with ``Prefer: odata.continue-on-error``, so one refused operation
does not hide the fate of the others: every operation gets its own :class:`BatchResult`. A batch of
reads is safe to repeat; a batch with writes is not, and a lost answer raises
:class:`~businesscentral_api.errors.OutcomeUnknownError` for the caller to look up before resending.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from businesscentral_api.jsonutil import dump_json
from businesscentral_api.odata import STANDARD_API, ApiRoute, error_from_response

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from businesscentral_api.client import BusinessCentralClient
    from businesscentral_api.errors import BusinessCentralError

__all__ = ["MAX_BATCH_OPERATIONS", "BatchOperation", "BatchResult", "send_batch"]

MAX_BATCH_OPERATIONS = 100
_READS = frozenset({"GET", "HEAD"})


@dataclass(frozen=True)
class BatchOperation:
    """One request inside a batch; ``url`` is relative to the API root (``companies(x)/items``)."""

    method: str
    url: str
    body: object = None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class BatchResult:
    """BC's answer to one operation: status, headers and parsed body (decimals exact).

    Status 0 means the batch answer had no entry for the operation.
    """

    status: int
    headers: Mapping[str, str]
    body: Any

    @property
    def answered(self) -> bool:
        """False when BC's batch answer had no entry for the operation (status 0)."""
        return self.status != 0

    @property
    def ok(self) -> bool:
        """Whether the operation succeeded (2xx)."""
        return 200 <= self.status < 300  # noqa: PLR2004

    def error(self, operation: BatchOperation) -> BusinessCentralError:
        """The operation's failure as BC reported it (code, message, correlation id)."""
        return error_from_response(
            self.status,
            dump_json(self.body) if self.body is not None else b"",
            method=operation.method,
            url=operation.url,
            headers=self.headers,
        )


def send_batch(
    client: BusinessCentralClient,
    operations: Sequence[BatchOperation],
    api: ApiRoute = STANDARD_API,
    *,
    count_operations: bool = False,
) -> list[BatchResult]:
    """Send up to 100 operations as one ``$batch``; one result per operation, in order.

    ``count_operations`` charges each operation, not the one request, to the rate limiter's
    window: whether BC counts a batch once or per operation is unconfirmed.

    Raises:
        ValueError: More than 100 operations (BC's limit).
        OutcomeUnknownError: The batch holds writes and its answer was lost.
        BusinessCentralError: BC refused the batch as a whole.
    """
    if len(operations) > MAX_BATCH_OPERATIONS:
        msg = f"a $batch takes at most {MAX_BATCH_OPERATIONS} operations, not {len(operations)}"
        raise ValueError(msg)
    requests = []
    for index, operation in enumerate(operations):
        entry: dict[str, Any] = {
            "id": str(index),
            "method": operation.method,
            "url": operation.url,
            "headers": {"Content-Type": "application/json", **operation.headers},
        }
        if operation.body is not None:
            entry["body"] = operation.body
        requests.append(entry)
    reads_only = all(op.method.upper() in _READS for op in operations)
    response = client.request(
        "POST",
        client.urls.batch_url(api),
        json_body={"requests": requests},
        headers={"Prefer": "odata.continue-on-error"},
        idempotent=reads_only,
        cost=len(operations) if count_operations else 1,
    )
    document = response.json() or {}
    answers = {str(item.get("id")): item for item in document.get("responses") or []}
    results = []
    for index in range(len(operations)):
        answer = answers.get(str(index))
        if answer is None:  # not run: the caller cannot know more than for a lost answer
            results.append(BatchResult(0, {}, None))
            continue
        headers = {str(k).lower(): str(v) for k, v in (answer.get("headers") or {}).items()}
        results.append(BatchResult(int(answer.get("status") or 0), headers, answer.get("body")))
    return results
