"""The four commands of an Airbyte source: ``spec``, ``check``, ``discover`` and ``read``.

Each builds the tap from the Airbyte config and lets it do the work; a failure a user can fix
ends as the tap's own one-line message (:func:`businesscentral_api.cli_errors.plain_errors`):
in ``check`` as a FAILED connection status, elsewhere as a TRACE error and exit status 1.
"""

from __future__ import annotations

import json
import logging
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from airbyte_protocol.models import (
    AirbyteConnectionStatus,
    AirbyteMessage,
    AirbyteStreamStatus,
    ConnectorSpecification,
    FailureType,
    Level,
    Status,
    Type,
)
from businesscentral_api.cli_errors import plain_errors
from businesscentral_api.errors import AuthenticationError, ConfigurationError
from businesscentral_api.redact import redact
from singer_sdk.exceptions import ConfigValidationError

from tap_businesscentral.airbyte.catalog import (
    airbyte_catalog,
    parse_configured_catalog,
    parse_state,
    plan_read,
)
from tap_businesscentral.airbyte.messages import (
    AirbyteLogHandler,
    AirbyteMessageWriter,
    error_trace,
    log_message,
)
from tap_businesscentral.airbyte.spec import DOCUMENTATION_URL, connection_specification, tap_config
from tap_businesscentral.tap import TapBusinessCentral

if TYPE_CHECKING:
    from collections.abc import Callable

    from singer_sdk import Stream
    from singer_sdk.helpers.types import Context

__all__ = ["check", "discover", "read", "run", "spec"]

_CONFIG_ERRORS = (ConfigurationError, ConfigValidationError, AuthenticationError)


class CommandFailedError(Exception):
    """A command failed; its TRACE error is written already."""


def spec(writer: AirbyteMessageWriter, _args: dict[str, str | None]) -> None:
    """SPEC: the connection specification generated from the tap's settings."""
    writer.send(
        AirbyteMessage(
            type=Type.SPEC,
            spec=ConnectorSpecification(
                documentationUrl=DOCUMENTATION_URL,
                connectionSpecification=connection_specification(),
                supportsIncremental=True,
            ),
        )
    )


def check(writer: AirbyteMessageWriter, args: dict[str, str | None]) -> None:
    """CONNECTION_STATUS: sign in, resolve the companies and read ``$metadata``."""
    try:
        with plain_errors():
            tap = _tap(_read_json(args["config"], "--config"), writer)
            companies = tap.companies
            tap.models()
    except click.ClickException as exc:
        status = AirbyteConnectionStatus(status=Status.FAILED, message=exc.message)
    else:
        names = ", ".join(company.name for company in companies)
        message = f"Signed in; {len(companies)} companies: {names}"
        status = AirbyteConnectionStatus(status=Status.SUCCEEDED, message=message)
    writer.send(AirbyteMessage(type=Type.CONNECTION_STATUS, connectionStatus=status))


def discover(writer: AirbyteMessageWriter, args: dict[str, str | None]) -> None:
    """CATALOG: one stream per entity set, from the tap's discovery."""
    tap = _tap(_read_json(args["config"], "--config"), writer)
    writer.send(AirbyteMessage(type=Type.CATALOG, catalog=airbyte_catalog(tap)))


def read(writer: AirbyteMessageWriter, args: dict[str, str | None]) -> None:
    """RECORD, STATE, LOG and TRACE: the tap's sync of the configured streams."""
    config = _read_json(args["config"], "--config")
    catalog = parse_configured_catalog(_read_text(args["catalog"], "--catalog"))
    bookmarks = parse_state(_read_text(args["state"], "--state") if args["state"] else "")
    tap = _tap(config, writer, reading=True)
    plan = plan_read(tap, catalog, bookmarks)
    for note in plan.notes:
        writer.send(log_message(Level.WARN, note))
    tap.load_state(plan.state)
    writer.streams = frozenset(plan.streams)
    writer.remember_state(plan.state)
    for name in plan.streams:
        _report_completion(tap.streams[name], writer)
    try:
        tap.sync_all()
    except BaseException:
        writer.finish(writer.started, AirbyteStreamStatus.INCOMPLETE)
        raise
    writer.finish(plan.streams, AirbyteStreamStatus.COMPLETE)


def _report_completion(stream: Stream, writer: AirbyteMessageWriter) -> None:
    """Send a stream's COMPLETE as soon as the tap has synced it (its last STATE is out)."""
    sync = stream.sync

    def sync_then_report(context: Context | None = None) -> None:
        sync(context)
        writer.finish([stream.name], AirbyteStreamStatus.COMPLETE)

    stream.sync = sync_then_report  # type: ignore[method-assign,misc]


def _tap(
    config: dict[str, Any], writer: AirbyteMessageWriter, *, reading: bool = False
) -> TapBusinessCentral:
    tap = TapBusinessCentral(config=tap_config(config), validate_config=True, message_writer=writer)
    if not reading:
        # The SDK's handlers write a final STATE on SIGTERM; outside a read there is none to
        # save, and clients stop a finished discover or check with SIGTERM (PyAirbyte does).
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
    return tap


def _read_text(path: str | None, option: str) -> str:
    if not path:
        msg = f"{option} is required."
        raise ConfigurationError(msg)
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        msg = f"{option} names {path}, which cannot be read ({exc.strerror})."
        raise ConfigurationError(msg) from None


def _read_json(path: str | None, option: str) -> dict[str, Any]:
    try:
        document = json.loads(_read_text(path, option))
    except ValueError:
        msg = f"{option} names {path}, which is not JSON."
        raise ConfigurationError(msg) from None
    if not isinstance(document, dict):
        msg = f"{option} names {path}, which is not a JSON object."
        raise ConfigurationError(msg)
    return document


def _secrets(args: dict[str, str | None]) -> list[str]:
    """The config's secret values, to scrub from an unexpected error's message."""
    try:
        config = tap_config(_read_json(args.get("config"), "--config"))
    except ConfigurationError:
        return []
    return [str(config[k]) for k in ("client_secret", "refresh_token", "password") if config.get(k)]


COMMANDS: dict[str, Callable[[AirbyteMessageWriter, dict[str, str | None]], None]] = {
    "spec": spec,
    "check": check,
    "discover": discover,
    "read": read,
}


def run(command: str, args: dict[str, str | None]) -> int:
    """Run one command with Airbyte messages on stdout; the exit status."""
    writer = AirbyteMessageWriter()
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.addHandler(AirbyteLogHandler(writer))
    root.setLevel(logging.INFO)
    try:
        with plain_errors():
            COMMANDS[command](writer, args)
    except click.ClickException as exc:
        cause = exc.__context__
        failure = (
            FailureType.config_error
            if isinstance(cause, _CONFIG_ERRORS)
            else FailureType.system_error
        )
        writer.send(error_trace(exc.message, failure_type=failure))
        return 1
    except Exception as exc:  # noqa: BLE001 - anything else still ends as one TRACE line
        text = redact(f"{type(exc).__name__}: {exc}", _secrets(args))
        writer.send(error_trace(text, failure_type=FailureType.system_error))
        return 1
    finally:
        writer.flush()
    return 0
