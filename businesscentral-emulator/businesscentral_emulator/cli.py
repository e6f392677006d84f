"""`bc-emulator`: serve the emulated Business Central, or show it serving data (`demo`)."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import requests

from businesscentral_emulator.server import Emulator, EmulatorConfig

SCOPE = "https://api.businesscentral.dynamics.com/.default"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bc-emulator",
        description="A local Microsoft Dynamics 365 Business Central API v2.0 and Entra ID.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for name, help_text in (
        ("serve", "serve until interrupted"),
        ("demo", "start, sign in, read a few rows, stop"),
    ):
        command = commands.add_parser(name, help=help_text)
        command.add_argument("--host", default="127.0.0.1", help="address to bind (loopback)")
        command.add_argument("--port", type=int, default=0, help="port; 0 picks a free one")
        command.add_argument("--seed", type=int, default=1, help="seed of the generated data")
        command.add_argument(
            "--scale", type=float, default=1.0, help="volume multiplier (100: ~1M GL entries)"
        )
        command.add_argument("--ready-file", type=Path, help="write the connection settings here")
        command.add_argument("--data-dir", type=Path, help="where the SQLite files go")
        command.add_argument(
            "--token-lifetime", type=int, default=3599, help="access token lifetime, seconds"
        )
        command.add_argument(
            "--no-tls",
            action="store_true",
            help="plain HTTP (msal then cannot sign in: it accepts only https authorities)",
        )
    return parser


def _config(args: argparse.Namespace) -> EmulatorConfig:
    return EmulatorConfig(
        host=args.host,
        port=args.port,
        seed=args.seed,
        scale=args.scale,
        tls=not args.no_tls,
        token_lifetime=args.token_lifetime,
        data_dir=args.data_dir,
        ready_file=args.ready_file,
    )


def _demo(emulator: Emulator) -> None:
    """Sign in with client credentials and print what a client sees."""
    info = emulator.info()
    verify = info["ca_bundle"] or True
    with requests.Session() as session:
        # REQUESTS_CA_BUNDLE, when set, would override Session.verify: trust the emulator's CA.
        session.trust_env = False
        session.verify = verify
        token = session.post(
            f"{info['authority_url']}/{info['tenant_id']}/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": info["client_id"],
                "client_secret": info["client_secret"],
                "scope": SCOPE,
            },
            timeout=30,
        ).json()["access_token"]
        session.headers["Authorization"] = f"Bearer {token}"
        root = f"{info['api_url']}/v2.0/{info['tenant_id']}/{info['environment_name']}/api/v2.0"
        print(f"Business Central emulator at {info['api_url']} (seed {info['seed']})")  # noqa: T201
        for company in session.get(f"{root}/companies", timeout=30).json()["value"]:
            print(f"\ncompany {company['name']!r} ({company['id']})")  # noqa: T201
            for entity_set in ("customers", "items", "salesInvoices", "generalLedgerEntries"):
                url = f"{root}/companies({company['id']})/{entity_set}"
                page = session.get(url, params={"$top": 3}, timeout=30).json()["value"]
                print(f"  {entity_set}:")  # noqa: T201
                for row in page:
                    label = row.get("displayName") or row.get("number") or row.get("description")
                    print(f"    {row.get('number', '')!s:>10}  {label}")  # noqa: T201


def main(argv: list[str] | None = None) -> int:
    """Entry point of `bc-emulator`."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    emulator = Emulator(_config(args))
    if args.command == "demo":
        with emulator:
            _demo(emulator)
        return 0
    try:
        emulator.serve_forever()
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
