"""target-businesscentral: the target's settings, what streams map to, and the run's accounts."""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

import click
from businesscentral_api.cli_errors import plain_errors
from businesscentral_api.client import BusinessCentralClient
from businesscentral_api.companies import list_companies
from businesscentral_api.errors import ConfigurationError
from businesscentral_api.jsonutil import dump_json
from businesscentral_api.odata import STANDARD_API, ApiRoute
from singer_sdk.helpers.capabilities import (
    TARGET_BATCH_SIZE_ROWS_CONFIG,
    CapabilitiesEnum,
    PluginCapabilities,
)
from singer_sdk.singerlib.exceptions import InvalidInputLine
from singer_sdk.target_base import Target

from target_businesscentral.bad_input import BadInput
from target_businesscentral.documents import Documents
from target_businesscentral.entities import write_model
from target_businesscentral.ledger import Ledger, Rejection
from target_businesscentral.posting import post_documents
from target_businesscentral.prepare import RecordPreparer, SetTarget
from target_businesscentral.reader import InputReader
from target_businesscentral.settings import CONFIG_SCHEMA, TargetSettings
from target_businesscentral.sinks import BusinessCentralSink
from target_businesscentral.writer import WriteEngine

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if TYPE_CHECKING:
    from businesscentral_api.companies import Company
    from businesscentral_api.metadata import ServiceModel
    from singer_sdk.sinks import Sink

__all__ = ["TargetBusinessCentral"]


class TargetBusinessCentral(Target):
    """Writes records to Business Central: upserts with ETags, documents with lines, ``$batch``."""

    name = "target-businesscentral"
    package_name = "target-dynamics-businesscentral"  # the distribution name, like the tap's
    config_jsonschema = CONFIG_SCHEMA.to_dict()
    default_sink_class = BusinessCentralSink
    message_reader_class = InputReader
    # Records are always checked against $metadata; the SDK's jsonschema pass is not offered.
    capabilities: ClassVar[list[CapabilitiesEnum]] = [
        PluginCapabilities.ABOUT,
        PluginCapabilities.STREAM_MAPS,
        PluginCapabilities.FLATTENING,
        PluginCapabilities.STRUCTURED_LOGGING,
    ]

    @classmethod
    @override
    def append_builtin_config(cls, config_jsonschema: dict[str, Any]) -> None:
        """Offer the SDK's batch size, stream maps and flattening; not settings that do nothing.

        ``load_method``, ``add_record_metadata`` and ``validate_records`` would only mislead: the
        write is chosen per record (upsert, create, update, delete) and always checked.
        """
        for name, schema in TARGET_BATCH_SIZE_ROWS_CONFIG["properties"].items():
            config_jsonschema["properties"].setdefault(name, schema)
        super(Target, cls).append_builtin_config(config_jsonschema)

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # noqa: ANN401
        """Check the target's own settings as soon as the config is read."""
        kwargs.setdefault("message_reader", InputReader(self._reject_line))
        super().__init__(*args, **kwargs)
        self.settings = TargetSettings.from_config(self.config)
        # Sinks drain one at a time so headers are written before their lines; the batches of
        # each drain run in parallel on the pool instead.
        self.max_parallelism = 1
        self._preparers: dict[str, RecordPreparer | Rejection] = {}

    # -- the BC connection -------------------------------------------------------------------
    @cached_property
    def client(self) -> BusinessCentralClient:
        """The shared client: session, sign-in, limits and ``$metadata``."""
        return BusinessCentralClient(self.config)

    @cached_property
    def ledger(self) -> Ledger:
        """Counts per stream and the rejected-records file."""
        return Ledger(self.settings.rejected_records_path, dry_run=self.settings.dry_run)

    @cached_property
    def pool(self) -> ThreadPoolExecutor:
        """Workers that keep several batches in flight, within ``max_concurrency``."""
        return ThreadPoolExecutor(self.client.settings.max_concurrency, "bc-batch")

    @cached_property
    def engine(self) -> WriteEngine:
        """The write engine shared by all sinks."""
        return WriteEngine(
            self.client,
            self.ledger,
            self.pool,
            dry_run=self.settings.dry_run,
            count_batch_operations=self.settings.count_batch_operations,
            settle_seconds=self.settings.write_settle_seconds,
        )

    def model(self, api: ApiRoute) -> ServiceModel:
        """``$metadata`` of an API (fetched once)."""
        return self.client.metadata(api)

    @cached_property
    def companies(self) -> list[Company]:
        """Every company of the environment."""
        return list_companies(self.client)

    @cached_property
    def default_company_id(self) -> str | None:
        """The id of ``default_company`` (given by id or name).

        Raises:
            ConfigurationError: No company has that id or name.
        """
        wanted = self.settings.default_company
        if wanted is None:
            return None
        for company in self.companies:
            if wanted.lower() in {company.id.lower(), company.name.lower()}:
                return company.id
        names = ", ".join(repr(c.name) for c in self.companies)
        msg = f"Setting default_company is {wanted!r}, which is not a company of BC ({names})."
        raise ConfigurationError(msg)

    def company_of(self, company_id: str | None) -> str | None:
        """The company a record goes to: its companyId if BC has it, else the default."""
        if company_id is None or company_id == "":
            return self.default_company_id
        text = str(company_id).lower()
        return next((c.id for c in self.companies if c.id.lower() == text), None)

    # -- streams to entity sets --------------------------------------------------------------
    def preparer(self, stream: str) -> RecordPreparer | Rejection:
        """How the records of ``stream`` are prepared, or why none can be written."""
        if stream not in self._preparers:
            self._preparers[stream] = self._build_preparer(stream)
        return self._preparers[stream]

    def _build_preparer(self, stream: str) -> RecordPreparer | Rejection:
        options = self.settings.stream(stream)
        found = self._locate(stream)
        if found is None:
            return Rejection(
                "validate",
                f"stream {stream!r} names no entity set of API v2.0 or of custom_apis; set"
                f" stream_settings.{stream}.entity_set (and .api)",
            )
        api, set_name = found
        model = self.model(api)
        entity_set = model.entity_sets[set_name]
        if not (entity_set.insertable or entity_set.updatable or entity_set.deletable):
            return Rejection("validate", f"BC does not allow writes to {set_name} (read-only)")
        try:
            set_model = write_model(model, set_name, options.natural_key)
        except ValueError as exc:
            msg = f"Setting stream_settings.{stream}.natural_key: {exc}."
            raise ConfigurationError(msg) from None
        if options.post and not set_model.can_post():
            msg = f"Setting stream_settings.{stream}.post: {set_name} has no post action."
            raise ConfigurationError(msg)
        companies = model.entity_sets.get("companies")
        scoped = companies is not None and set_name in companies.navigations
        target = SetTarget(
            set_model,
            api,
            scoped,
            {navigation: write_model(model, navigation) for navigation in set_model.lines},
        )
        copy_to = self.default_company_id if self.settings.write_all_to_default_company else None
        return RecordPreparer(
            stream,
            target,
            options,
            company_of=self.company_of,
            copy_to=copy_to,
            id_map=self.documents.id_map,
            reject_unknown=self.settings.reject_unknown_fields,
            hard_delete=self.settings.hard_delete,
            overwrite=self.settings.overwrite_conflicts,
        )

    def _locate(self, stream: str) -> tuple[ApiRoute, str] | None:
        """The API and entity set a stream is written to."""
        options = self.settings.stream(stream)
        set_name = options.entity_set or stream
        routes = [options.api] if options.api else [STANDARD_API, *self._custom_apis]
        for route in routes:
            if set_name in self.model(route).entity_sets:
                return route, set_name
        for route in self._custom_apis:  # the tap's name for a custom set whose name was taken
            prefix = f"{route.slug}__"
            if stream.startswith(prefix) and stream[len(prefix) :] in self.model(route).entity_sets:
                return route, stream[len(prefix) :]
        return None

    @cached_property
    def _custom_apis(self) -> list[ApiRoute]:
        return list(self.client.settings.custom_apis)

    # -- ordering and documents --------------------------------------------------------------
    def drain_headers_of(self, stream: str) -> None:
        """Before a lines stream drains, drain the streams that hold its headers."""
        preparer = self.preparer(stream)
        if isinstance(preparer, Rejection) or preparer.target.model.lines_of is None:
            return
        header_set = preparer.target.model.lines_of.header_set
        for name, sink in list(self._sinks_active.items()):
            other = self.preparer(name) if name != stream else None
            if isinstance(other, RecordPreparer) and other.target.model.name == header_set:
                self.drain_one(sink)

    @cached_property
    def documents(self) -> Documents:
        """Links between headers and lines across the run, and the drafts to post."""
        return Documents(self.engine, self.ledger, self.model)

    # -- input ------------------------------------------------------------------------------
    @cached_property
    def bad_input(self) -> BadInput:
        """Where unreadable lines and records of streams without a SCHEMA are rejected."""
        return BadInput(self.ledger, self.logger)

    def _reject_line(self, number: int, line: bytes, reason: str) -> None:
        """The reader's handler for a line that is no usable message: reject it, read on."""
        self.bad_input.line(number, line, reason)

    @property
    def _line_number(self) -> int:
        reader = self.message_reader
        return reader.line_number if isinstance(reader, InputReader) else 0

    @override
    def _process_schema_message(self, message_dict: dict[str, Any]) -> None:
        """Refuse a SCHEMA whose parts have the wrong shape before the SDK trips over them.

        A schema without ``properties`` (``{"type": "object"}``, any object) is taken as one
        that declares none: records are checked against ``$metadata``, not against the SCHEMA.

        Raises:
            InvalidInputLine: The stream, schema or key properties are malformed (the reader
                rejects the line and reads on).
        """
        self._assert_line_requires(message_dict, requires={"stream", "schema"})
        stream = message_dict["stream"]
        schema = message_dict["schema"]
        keys = message_dict.get("key_properties")
        problem = None
        if not isinstance(stream, str) or not stream:
            problem = "is a SCHEMA message whose stream is not a name"
        elif not isinstance(schema, dict):
            problem = f"is a SCHEMA of stream {stream!r} whose schema is not a JSON object"
        elif not isinstance(schema.setdefault("properties", {}), dict):
            problem = f"is a SCHEMA of stream {stream!r} whose properties are not a JSON object"
        elif keys is not None and not (
            isinstance(keys, list) and all(isinstance(k, str) for k in keys)
        ):
            problem = f"is a SCHEMA of stream {stream!r} whose key_properties are not names"
        if problem is not None:
            raise InvalidInputLine(problem)
        super()._process_schema_message(message_dict)

    @override
    def _process_record_message(self, message_dict: dict[str, Any]) -> None:
        """Refuse a malformed RECORD; reject a record of a stream that has had no SCHEMA.

        Raises:
            InvalidInputLine: The stream is not a name or the record not an object (the reader
                rejects the line and reads on).
        """
        self._assert_line_requires(message_dict, requires={"stream", "record"})
        stream = message_dict["stream"]
        record = message_dict["record"]
        if not isinstance(stream, str) or not stream:
            msg = "is a RECORD message whose stream is not a name"
            raise InvalidInputLine(msg)
        if not isinstance(record, dict):
            msg = f"is a RECORD of stream {stream!r} whose record is not a JSON object"
            raise InvalidInputLine(msg)
        if stream not in self.mapper.stream_maps:
            self.bad_input.record_without_schema(self._line_number, stream, record)
            return
        super()._process_record_message(message_dict)

    @override
    def _process_batch_message(self, message_dict: dict[str, Any]) -> None:
        """BATCH is not among this target's capabilities, so a tap must not send it.

        Raises:
            InvalidInputLine: Always (the reader rejects the line and reads on).
        """
        msg = "is a BATCH message; this target reads RECORD messages (it has no batch capability)"
        raise InvalidInputLine(msg)

    @override
    def _write_state_message(self, state: dict[str, Any]) -> None:
        """Pass STATE on with its numbers exact (the reader gives decimals, which json rejects)."""
        self.logger.debug("Emitting completed target state")
        sys.stdout.write(dump_json(state).decode() + "\n")  # text: stdout may be a StringIO
        sys.stdout.flush()

    # -- the end of the run ------------------------------------------------------------------
    @override
    def process_endofpipe(self) -> None:
        """Drain everything, post drafts, print the summary, and fail if too much was rejected."""
        super().process_endofpipe()
        if self.documents.to_post:
            post_documents(self.engine, self.documents.to_post)
        ledger = self.ledger
        blank = (
            self.message_reader.blank_lines if isinstance(self.message_reader, InputReader) else 0
        )
        if blank:
            self.logger.info("Skipped %d blank input line(s)", blank)
        for line in ledger.summary():
            self.logger.info("Summary %s", line)
        ledger.close()
        if "pool" in self.__dict__:
            self.pool.shutdown()
        rejected = ledger.rejected
        if rejected > self.settings.max_rejections:
            msg = (
                f"{rejected} records were rejected (max_rejections is"
                f" {self.settings.max_rejections}); see {ledger.rejected_path}"
            )
            raise click.ClickException(msg)

    @override
    def _process_activate_version_message(self, message_dict: dict[str, Any]) -> None:
        """Rows missing from a full-table version are never deleted in BC: an ERP is no mirror."""
        self.logger.debug("ACTIVATE_VERSION for %s ignored", message_dict.get("stream"))

    @override
    def get_sink(
        self,
        stream_name: str,
        *,
        record: dict[str, Any] | None = None,
        schema: dict[str, Any] | None = None,
        key_properties: Any = None,
    ) -> Sink:
        """Give each new sink a handle on this target."""
        sink = super().get_sink(
            stream_name, record=record, schema=schema, key_properties=key_properties
        )
        if isinstance(sink, BusinessCentralSink):
            sink.bc_target = self
        return sink

    # -- command line -------------------------------------------------------------------------
    @classmethod
    @override
    def invoke(
        cls,
        *,
        about: bool = False,
        about_format: str | None = None,
        **kwargs: Any,
    ) -> None:
        """Run the target; errors a user can fix end as one line and exit status 1."""
        with plain_errors():
            super().invoke(about=about, about_format=about_format, **kwargs)


if __name__ == "__main__":
    TargetBusinessCentral.cli()
