"""target-businesscentral: the target's settings and its sinks."""

from __future__ import annotations

from singer_sdk import typing as th
from singer_sdk.target_base import Target


class TargetBusinessCentral(Target):
    """Writes records to Business Central (skeleton: sinks land with issue 6)."""

    name = "target-businesscentral"
    config_jsonschema = th.PropertiesList(
        th.Property("tenant_id", th.StringType, description="Entra ID tenant (GUID or domain)."),
    ).to_dict()


if __name__ == "__main__":
    TargetBusinessCentral.cli()
