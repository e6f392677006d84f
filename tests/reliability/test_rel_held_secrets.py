"""No secret in any file the tap or the target writes, whatever the flow or failure (issue 13).

The tap (under faults and token expiry, resumed, on-premises, as a signed-in user) and the target
(under faults, with rejected records), each also with a wrong secret, password or refresh token;
every file they write is searched for every secret and every token the emulator issued. See
``rel_secrets_scenario``; tests/api/test_api_secrets.py covers the client's logs and errors.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from rel_secrets_scenario import secrets_scan
from rel_support import report

if TYPE_CHECKING:
    from pathlib import Path

    from conftest import RunningEmulator


@pytest.fixture(scope="module")
def bc(start_emulator: Any) -> RunningEmulator:
    """An emulator of this module's own: the runs arm faults and shorten the token lifetime."""
    return start_emulator(seed=19, scale=0.05)


def test_no_secret_or_token_in_any_output_file(bc: RunningEmulator, tmp_path: Path) -> None:
    outcome = report(secrets_scan(bc, tmp_path, seed=3))
    assert outcome.mismatches == []
    assert outcome.numbers["tokens"] >= 8  # renewals, the user's tokens, refresh tokens
    assert outcome.numbers["opaque_tokens"] >= 2  # the user's refresh token, and its rotation
    assert outcome.numbers["files"] >= 2 * outcome.runs
