"""One plain line for the errors a user can fix, shared by the tap's and the target's commands."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

import click
from singer_sdk.exceptions import ConfigValidationError

from businesscentral_api.errors import BusinessCentralError, ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["plain_errors"]


@contextlib.contextmanager
def plain_errors() -> Iterator[None]:
    """Turn a bad setting or BC's refusal into one line on stderr and exit status 1, no trace."""
    try:
        yield
    except ConfigValidationError as exc:
        first = exc.errors[0] if exc.errors else str(exc)
        msg = f"Config is invalid: {first}"
        raise click.ClickException(msg) from None
    except (ConfigurationError, BusinessCentralError) as exc:
        raise click.ClickException(str(exc)) from None
