"""`bc-emulator`: serve the emulated Business Central, or show it serving data (`demo`)."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import requests

from businesscentral_emulator.chaos.faults import FaultRule
from businesscentral_emulator.chaos.limits import LimitSettings
from businesscentral_emulator.process import client_credentials_token
from businesscentral_emulator.server import Emulator, EmulatorConfig


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
        command.add_argument(
            "--companies",
            type=_positive_int,
            default=2,
            help="companies per environment: the two CRONUS ones, then CRONUS Company 3, ...",
        )
        command.add_argument("--ready-file", type=Path, help="write the connection settings here")
        command.add_argument("--data-dir", type=Path, help="where the SQLite files go")
        command.add_argument(
            "--token-lifetime", type=int, default=3599, help="access token lifetime, seconds"
        )
        _limit_and_fault_options(command)
        command.add_argument(
            "--no-tls",
            action="store_true",
            help="plain HTTP (msal then cannot sign in: it accepts only https authorities)",
        )
    return parser


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        msg = f"must be at least 1, not {value}"
        raise argparse.ArgumentTypeError(msg)
    return value


def _limit_and_fault_options(command: argparse.ArgumentParser) -> None:
    """BC online's limits (the defaults), the stale-etag status, latency and rate faults."""
    bc = LimitSettings()
    add = command.add_argument
    add("--no-limits", action="store_true", help="switch off the request window and concurrency")
    add("--requests-per-window", type=int, default=bc.requests_per_window)
    add("--window-seconds", type=float, default=bc.window_seconds)
    add("--concurrent", type=int, default=bc.concurrent, help="requests processed at once")
    add("--queue", type=int, default=bc.queue, help="requests queued beyond those")
    add("--no-retry-after", action="store_true", help="429s without Retry-After")
    add("--max-body-bytes", type=int, default=bc.max_body_bytes)
    add("--operation-timeout", type=float, default=bc.operation_timeout, help="seconds; 408")
    add("--conflict-status", type=int, choices=(409, 412), default=409, help="stale-etag status")
    add("--latency-ms", type=float, default=0.0, help="added delay per request")
    add("--latency-per-kb-ms", type=float, default=0.0, help="added delay per KB of response")
    add("--fault-seed", type=int, default=0, help="seed of the rate-based faults")
    add(
        "--fault",
        action="append",
        default=[],
        metavar="KIND[:STATUS]=RATE",
        help="a rate-based fault, e.g. status:503=0.02, deadlock=0.01, reset=0.005 (repeatable)",
    )


def _fault_rules(specs: list[str]) -> list[FaultRule]:
    rules = []
    for spec in specs:
        kind_part, _, rate = spec.partition("=")
        kind, _, status = kind_part.partition(":")
        rules.append(
            FaultRule(kind=kind, rate=float(rate or 0), status=int(status) if status else 503)
        )
    return rules


def _config(args: argparse.Namespace) -> EmulatorConfig:
    limits = LimitSettings(
        enabled=not args.no_limits,
        requests_per_window=args.requests_per_window,
        window_seconds=args.window_seconds,
        concurrent=args.concurrent,
        queue=args.queue,
        retry_after=not args.no_retry_after,
        max_body_bytes=args.max_body_bytes,
        operation_timeout=args.operation_timeout,
    )
    return EmulatorConfig(
        limits=limits,
        conflict_status=args.conflict_status,
        latency_ms=args.latency_ms,
        latency_per_kb_ms=args.latency_per_kb_ms,
        fault_seed=args.fault_seed,
        faults=_fault_rules(args.fault),
        host=args.host,
        port=args.port,
        seed=args.seed,
        scale=args.scale,
        companies=args.companies,
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
        token = client_credentials_token(session, info)
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
                    number = row.get("number") or row.get("entryNumber", "")
                    label = (
                        row.get("displayName") or row.get("customerName") or row.get("description")
                    )
                    print(f"    {number!s:>12}  {label}")  # noqa: T201


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
