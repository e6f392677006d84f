"""Scrubbing of secrets from text that may reach a log or an exception message."""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

from typing_extensions import override

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["SecretFilter", "redact"]

# Anything shaped like a JWT, a bearer header or a basic header is never worth printing.
_PATTERNS = (
    re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"),
    re.compile(r"(?i)(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"),
)
# A URL's user information (``https://user:password@host``): keep the scheme, hide the rest.
_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/?#\s@]+@")
_MIN_SECRET = 4


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Replace known secret values, anything token-shaped and URL credentials with ``***``."""
    for secret in secrets:
        if secret and len(secret) >= _MIN_SECRET:
            text = text.replace(secret, "***")
    for pattern in _PATTERNS:
        text = pattern.sub("***", text)
    return _URL_USERINFO.sub(r"\1***@", text)


class SecretFilter(logging.Filter):
    """A logging filter that scrubs secrets from records, a net under never logging them."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        """Remember the secret values to scrub in addition to token-shaped text."""
        super().__init__()
        self.secrets = tuple(s for s in secrets if s)

    @override
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message, self.secrets)
        if cleaned != message:
            record.msg = cleaned
            record.args = None
        return True
