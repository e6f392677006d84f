"""The singer-sdk standard tap tests, over HTTPS against an emulator of this module's own.

``get_tap_test_class`` discovers at collection time, so the emulator starts at import (small scale)
and stops at exit; the SDK's record limit (20 a stream) keeps the whole suite to seconds.
"""

from __future__ import annotations

import atexit
import tempfile
from pathlib import Path

from businesscentral_emulator.server import Emulator, EmulatorConfig
from singer_sdk.testing import SuiteConfig, get_tap_test_class
from tap_businesscentral.catalog import PER_PARENT_ONLY
from tap_businesscentral.tap import TapBusinessCentral
from tap_runner import tap_config

_DATA = tempfile.TemporaryDirectory(prefix="tap-standard-")
_EMULATOR = Emulator(EmulatorConfig(seed=3, scale=0.02, data_dir=Path(_DATA.name))).start()
atexit.register(_DATA.cleanup)
atexit.register(_EMULATOR.stop)

TestTapBusinessCentral = get_tap_test_class(
    TapBusinessCentral,
    # Only delete records carry _sdc_deleted_at, and a record limit stops a read before its
    # deletes: the SDK's schema test would warn of a field no record has.
    config={**tap_config(_EMULATOR.info()), "detect_deletes": False},
    # Sets BC serves only one parent at a time are not read (and not selected by default).
    suite_config=SuiteConfig(
        max_records_limit=20, ignore_no_records_for_streams=sorted(PER_PARENT_ONLY)
    ),
)
