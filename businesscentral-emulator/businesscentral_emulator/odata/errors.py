"""Errors in Business Central's shape: `{"error": {"code", "message"}}` with a correlation id."""

from __future__ import annotations

import uuid

import msgspec


class BusinessCentralError(Exception):
    """A request BC refuses: HTTP status, BC error code and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        """Keep the parts BC puts in its error body."""
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def body(self, correlation_id: str | None = None) -> bytes:
        """The JSON body, with BC's `  CorrelationId:  <guid>.` suffix on the message."""
        correlation = correlation_id or str(uuid.uuid4())
        message = f"{self.message}  CorrelationId:  {correlation}."
        return msgspec.json.encode({"error": {"code": self.code, "message": message}})


def not_found_segment(segment: str) -> BusinessCentralError:
    """BC's answer to a path segment it does not know."""
    return BusinessCentralError(
        404, "BadRequest_ResourceNotFound", f"Resource not found for the segment '{segment}'."
    )


def record_not_found(type_name: str, key: str) -> BusinessCentralError:
    """BC's answer to a key that matches no row."""
    return BusinessCentralError(
        404,
        "Internal_RecordNotFound",
        f"The {type_name} does not exist. Identification fields and values: Id='{key}'",
    )
