"""tap-businesscentral: the tap's settings and its streams."""

from __future__ import annotations

import sys

from singer_sdk import Stream, Tap
from singer_sdk import typing as th

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override


class TapBusinessCentral(Tap):
    """Extracts Business Central entity sets (skeleton: streams land with issue 5)."""

    name = "tap-businesscentral"
    config_jsonschema = th.PropertiesList(
        th.Property("tenant_id", th.StringType, description="Entra ID tenant (GUID or domain)."),
    ).to_dict()

    @override
    def discover_streams(self) -> list[Stream]:
        return []


if __name__ == "__main__":
    TapBusinessCentral.cli()
