"""``source-businesscentral``: the command line of the Airbyte source.

    source-businesscentral spec
    source-businesscentral check --config config.json
    source-businesscentral discover --config config.json
    source-businesscentral read --config config.json --catalog catalog.json [--state state.json]

The protocol models come with the ``airbyte`` extra; without it the command says so in one line.
"""

from __future__ import annotations

import argparse
import sys
from importlib.metadata import packages_distributions

__all__ = ["extra", "main"]


def extra() -> str:
    """What to install for the protocol models: this distribution (whatever its name) + extra."""
    names = packages_distributions().get("tap_businesscentral") or ["tap-businesscentral"]
    return f"{names[0]}[airbyte]"


def parser() -> argparse.ArgumentParser:
    """The four commands and their options, as Airbyte's platform passes them."""
    parser = argparse.ArgumentParser(
        prog="source-businesscentral",
        description="Airbyte source for Microsoft Dynamics 365 Business Central.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("spec", help="Print the connection specification.")
    for name, text in (
        ("check", "Check the connection."),
        ("discover", "Print the catalog of streams."),
        ("read", "Read the configured streams."),
    ):
        command = commands.add_parser(name, help=text)
        command.add_argument("--config", required=True, help="Config JSON file.")
        if name == "read":
            command.add_argument("--catalog", required=True, help="Configured catalog JSON file.")
            command.add_argument("--state", help="State JSON file (per-stream state).")
    return parser


def main(argv: list[str] | None = None) -> None:
    """Parse the command line, run the command, exit with its status."""
    args = vars(parser().parse_args(argv))
    command = str(args.pop("command"))
    try:
        from tap_businesscentral.airbyte.commands import run  # noqa: PLC0415
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in {"airbyte_protocol", "pydantic"}:
            raise
        print(  # noqa: T201
            f"source-businesscentral needs the protocol models: install {extra()}.",
            file=sys.stderr,
        )
        sys.exit(1)
    sys.exit(run(command, {k: v for k, v in args.items() if v is None or isinstance(v, str)}))


if __name__ == "__main__":
    main()
