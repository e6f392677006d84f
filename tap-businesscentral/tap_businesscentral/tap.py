"""tap-businesscentral: the tap's settings and its streams."""

from __future__ import annotations

import io
import json
import sys
from functools import cached_property
from typing import IO, TYPE_CHECKING, Any

from businesscentral_api.cli_errors import plain_errors
from businesscentral_api.client import BusinessCentralClient
from businesscentral_api.errors import ConfigurationError
from businesscentral_api.odata import STANDARD_API
from businesscentral_api.settings import SETTINGS
from singer_sdk import Stream, Tap
from singer_sdk import typing as th

from tap_businesscentral.catalog import COMPANY_ID, StreamSpec, build_specs
from tap_businesscentral.client import BusinessCentralStream, is_timestamp
from tap_businesscentral.deletes.detector import DEFAULT_CAPACITY, NEVER_DELETED
from tap_businesscentral.deletes.reconcile import DELETED_AT
from tap_businesscentral.fetch import (
    DEFAULT_READ_AHEAD_ROWS,
    MAX_PAGE_SIZE,
    MIN_PAGE_SIZE,
    Prefetcher,
    ReadRequest,
)
from tap_businesscentral.streams import CompaniesStream, EntitySetStream, LinesStream
from tap_businesscentral.writer import BufferedMsgSpecWriter

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if TYPE_CHECKING:
    import datetime as dt

    import click
    from businesscentral_api.companies import Company
    from businesscentral_api.metadata import ServiceModel
    from businesscentral_api.odata import ApiRoute

__all__ = ["TapBusinessCentral"]

_STREAM_OPTIONS = th.ObjectType(
    th.Property("filter", th.StringType, description="An OData $filter ANDed with the tap's."),
    th.Property("expand", th.StringType, description="Further navigations to $expand."),
)


class TapBusinessCentral(Tap):
    """Extracts every entity set of Business Central, incrementally, one partition per company."""

    name = "tap-businesscentral"
    package_name = "tap-dynamics-businesscentral"  # the PyPI name; tap-businesscentral is taken
    dynamic_catalog = True
    message_writer_class = BufferedMsgSpecWriter
    config_jsonschema = th.PropertiesList(
        *SETTINGS,
        th.Property(
            "start_date",
            th.DateTimeType,
            description="Earliest change date to extract on a first run (ISO 8601, with zone).",
        ),
        th.Property(
            "page_size",
            th.IntegerType,
            default=MAX_PAGE_SIZE,
            description=(
                "Rows per page asked of BC (Prefer: odata.maxpagesize, at most 20000); "
                "halved automatically after a timeout."
            ),
        ),
        th.Property(
            "read_ahead_rows",
            th.IntegerType,
            default=DEFAULT_READ_AHEAD_ROWS,
            description=(
                "Rows held in pages at most (on their way, queued, being written; expanded "
                "lines count), across all max_concurrency reads: bounds memory, whatever the "
                "data. Pages are of at most read_ahead_rows / (reads in flight + 1) rows: "
                "half of it for a read alone."
            ),
        ),
        th.Property(
            "stream_options",
            th.ObjectType(additional_properties=_STREAM_OPTIONS),
            description=(
                'Per stream, e.g. {"customers": {"filter": "blocked eq \' \'", "expand": '
                '"paymentTerm"}}: an extra $filter (ANDed, parenthesised, with the incremental '
                "one) and an extra $expand."
            ),
        ),
        th.Property(
            "emit_activate_version_messages",
            th.BooleanType,
            default=True,
            description=(
                "Also send ACTIVATE_VERSION for full-table streams, but only from a job that "
                "reads every company (company_ids unset): it retires rows of every company. "
                "Deletes are sent company by company as _sdc_deleted_at records in any case."
            ),
        ),
        th.Property(
            "detect_deletes",
            th.BooleanType,
            default=True,
            description=(
                "Find rows deleted in BC (BC has no delta links) by comparing keys with the last "
                "run's, company by company, and send them as records with _sdc_deleted_at."
            ),
        ),
        th.Property(
            "detect_deletes_every_hours",
            th.NumberType,
            default=0,
            description=(
                "Hours between two key reads ($select of the key) of an incremental stream; "
                "0 reads them every run. Lines with a selected header are compared every run."
            ),
        ),
        th.Property(
            "detect_deletes_capacity",
            th.IntegerType,
            default=DEFAULT_CAPACITY,
            description=(
                "Differences (inserts and deletes) between two key reads that a stream's "
                "remembered keys are sized for: about 57 bytes of state each, per company."
            ),
        ),
    ).to_dict()

    # When the page being written arrived (``time_extracted`` of its RECORD messages).
    time_extracted: dt.datetime | None = None

    # -- the BC connection ------------------------------------------------------------------
    @cached_property
    def client(self) -> BusinessCentralClient:
        """The shared client: session, sign-in, limits and ``$metadata``."""
        self._check_tap_settings()
        return BusinessCentralClient(self.config)

    @cached_property
    def companies(self) -> list[Company]:
        """The chosen companies (``company_ids``: ids or names), probed once."""
        return self.client.companies()

    @cached_property
    def prefetcher(self) -> Prefetcher:
        """Reads partitions ahead of the writer, bounded by ``read_ahead_rows``."""
        read_ahead = self.config.get("read_ahead_rows")
        return Prefetcher(
            self.client,
            self.client.settings.max_concurrency,
            DEFAULT_READ_AHEAD_ROWS if read_ahead is None else int(read_ahead),
        )

    def _check_tap_settings(self) -> None:
        page_size = self.config.get("page_size")
        if page_size is not None and not MIN_PAGE_SIZE <= page_size <= MAX_PAGE_SIZE:
            msg = (
                f"Setting page_size is {page_size}; it must be between "
                f"{MIN_PAGE_SIZE} and {MAX_PAGE_SIZE}."
            )
            raise ConfigurationError(msg)
        read_ahead = self.config.get("read_ahead_rows")
        if read_ahead is not None and read_ahead < 0:
            msg = f"Setting read_ahead_rows is {read_ahead}; it must be 0 or more."
            raise ConfigurationError(msg)
        options = self.config.get("stream_options") or {}
        for stream_name, option in options.items():
            if not isinstance(option, dict) or set(option) - {"filter", "expand"}:
                msg = (
                    f"Setting stream_options.{stream_name} must be an object with only "
                    "filter and expand."
                )
                raise ConfigurationError(msg)

    def models(self) -> dict[ApiRoute, ServiceModel]:
        """``$metadata`` of the standard API, then of each custom API."""
        models = {STANDARD_API: self.client.metadata(STANDARD_API)}
        for api in self.client.settings.custom_apis:
            models[api] = self.client.metadata(api)
        return models

    # -- streams ----------------------------------------------------------------------------
    @override
    def discover_streams(self) -> list[Stream]:
        """One stream per entity set of v2.0 and of each custom API (the SDK sorts them by name)."""
        models = self.models()
        self.companies  # noqa: B018 - resolve company_ids now: a wrong one is a setting error
        options = self.config.get("stream_options") or {}
        streams: list[Stream] = []
        for spec in build_specs(models):
            expand = [
                e.strip()
                for e in str((options.get(spec.name) or {}).get("expand") or "").split(",")
                if e.strip() and "(" not in e
            ]
            streams.append(self._stream(spec, models[spec.api], expand))
        return streams

    def _stream(self, spec: StreamSpec, model: ServiceModel, expand: list[str]) -> Stream:
        try:
            schema = model.json_schema(spec.entity_set.name, expand=expand)
        except KeyError as exc:
            msg = f"Setting stream_options.{spec.name}.expand names {exc.args[0]}"
            raise ConfigurationError(msg) from None
        schema["properties"][COMPANY_ID] = {"type": "string", "format": "uuid"}
        if (
            self.config.get("detect_deletes", True)
            and spec.company_scoped
            and spec.entity_set.name not in NEVER_DELETED
        ):
            schema["properties"][DELETED_AT] = {"type": ["string", "null"], "format": "date-time"}
        if spec.header is not None:
            return LinesStream(self, spec, schema)
        if not spec.company_scoped:
            return CompaniesStream(self, spec, schema)
        return EntitySetStream(self, spec, schema)

    # -- reading ahead ----------------------------------------------------------------------
    def schedule_reads(self) -> None:
        """Queue every selected partition's read, in the order the SDK will write them."""
        if getattr(self, "_scheduled", False):
            return
        self._scheduled = True
        requests: list[ReadRequest] = []
        for stream in self.streams.values():
            if not isinstance(stream, BusinessCentralStream) or not stream.selected:
                continue
            contexts: list[dict[str, Any]] | None = stream.partitions
            for context in contexts if contexts is not None else [None]:
                requests.extend(stream.read_requests(context))
        self.prefetcher.schedule(requests)

    # -- state ------------------------------------------------------------------------------
    # How errors name the state being loaded: the --state file when run from the command line.
    state_source: str = "The state"

    @override
    def load_state(self, state: dict[str, Any]) -> None:
        """Load the state after checking it, so a bad bookmark is one line, not a traceback.

        Raises:
            ConfigurationError: The state is not an object of bookmarks, or a bookmark is not a
                date and time (every bookmark of this tap is a change date).
        """
        source = self.state_source
        if not isinstance(state, dict) or not isinstance(state.get("bookmarks", {}), dict):
            msg = f"{source} is not a Singer state: an object with an object of bookmarks."
            raise ConfigurationError(msg)
        for stream, bookmark in state.get("bookmarks", {}).items():
            if not isinstance(bookmark, dict):
                msg = f"{source} has a bookmark for stream {stream} that is not an object."
                raise ConfigurationError(msg)
            partitions = bookmark.get("partitions") or []
            for entry in [bookmark, *(p for p in partitions if isinstance(p, dict))]:
                value = entry.get("replication_key_value")
                if value is not None and not is_timestamp(value):
                    msg = (
                        f"{source} has bookmark {value!r} for stream {stream}, which is not a "
                        "date and time; correct it or remove that stream's bookmark."
                    )
                    raise ConfigurationError(msg)
        super().load_state(state)

    @classmethod
    def _read_state_file(cls, state: IO[str]) -> IO[str]:
        """The ``--state`` file, checked to be JSON; later errors name it."""
        name = getattr(state, "name", "the --state file")
        cls.state_source = f"State file {name}"
        text = state.read()
        try:
            json.loads(text)
        except ValueError as exc:
            reason = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
            msg = f"State file {name} is not valid JSON ({reason}); fix it or run without it."
            raise ConfigurationError(msg) from None
        return io.StringIO(text)

    # -- command line -----------------------------------------------------------------------
    @classmethod
    @override
    def invoke(
        cls,
        *,
        about: bool = False,
        about_format: str | None = None,
        **kwargs: Any,
    ) -> None:
        """Run the tap; errors a user can fix end as one line and exit status 1."""
        with plain_errors():
            if kwargs.get("state") is not None:
                kwargs["state"] = cls._read_state_file(kwargs["state"])
            super().invoke(about=about, about_format=about_format, **kwargs)

    @classmethod
    @override
    def cb_discover(
        cls,
        ctx: click.Context,
        param: click.Option,
        value: bool,
    ) -> None:
        """Discover; errors a user can fix end as one line and exit status 1."""
        with plain_errors():
            super().cb_discover(ctx, param, value)

    @classmethod
    @override
    def cb_test(cls, ctx: click.Context, param: click.Option, value: str) -> None:
        """Test the connection; errors a user can fix end as one line and exit status 1."""
        with plain_errors():
            super().cb_test(ctx, param, value)


if __name__ == "__main__":
    TapBusinessCentral.cli()
