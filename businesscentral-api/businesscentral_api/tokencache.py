"""The msal token cache on disk: where a user's rotated refresh token survives between runs.

Refresh tokens rotate: each use returns a new one. Keeping the latest in a file of our own (rather
than writing back into the user's config) means a pipeline keeps working run after run. The file
holds tokens, so it is written atomically (temp file + rename, no half-written cache after a crash)
with mode 0600 (readable by its owner only).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from pathlib import Path

import msal

__all__ = ["PersistentTokenCache"]


class PersistentTokenCache(msal.SerializableTokenCache):  # type: ignore[misc]
    """An msal ``SerializableTokenCache`` that loads from and saves to one file."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        """Load the cache at ``path`` if the file exists; it is created on first save."""
        super().__init__()
        self.path = Path(path).expanduser()
        self._file_lock = threading.Lock()
        if self.path.is_file():
            self.deserialize(self.path.read_text(encoding="utf-8"))

    def save_if_changed(self) -> bool:
        """Write the cache if msal changed it (e.g. a rotated refresh token); True if written."""
        with self._file_lock:
            changed = bool(getattr(self, "has_state_changed", False))
            if not changed:
                return False
            self._write(self.serialize())
            self.has_state_changed = False
            return True

    def _write(self, text: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # mkstemp creates the file 0600, so the tokens are never readable by others, even briefly.
        fd, temp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            Path(temp).chmod(0o600)
            Path(temp).replace(self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                Path(temp).unlink()
            raise
