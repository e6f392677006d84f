"""OData for Business Central: URLs, filter literals, query encoding and error bodies.

Every value that goes into a ``$filter`` passes through :func:`literal`, so no value (``O'Brien``,
``x' or 1 eq 1``) can change a filter's meaning. URLs are built in one place for BC online
(tenant and environment in the path), on-premises (a configured API root), standard and custom APIs.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import hashlib
import re
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import quote, urljoin, urlsplit

from businesscentral_api.errors import BusinessCentralError, ConfigurationError
from businesscentral_api.jsonutil import parse_json

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "STANDARD_API",
    "ApiRoute",
    "BusinessCentralError",
    "NextLinks",
    "PagingError",
    "UrlBuilder",
    "and_",
    "decode_enum_name",
    "encode_enum_name",
    "encode_query",
    "error_from_response",
    "filter_expr",
    "guid_literal",
    "key_segment",
    "literal",
    "or_",
    "split_correlation_id",
    "string_literal",
]

_FIELD_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(/[A-Za-z_][A-Za-z0-9_]*)*$")
_API_PART = re.compile(r"^[A-Za-z0-9_.-]+$")
_CORRELATION = re.compile(
    r"\s*CorrelationId:\s*([0-9A-Za-z-]+|<guid>|x)\.?\s*$",
)
_OPERATORS = frozenset({"eq", "ne", "gt", "ge", "lt", "le"})
# Characters left readable in query strings: OData syntax BC parses after percent-decoding.
_QUERY_SAFE = "$,()':/@;*"
_HEX_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")


@dataclass(frozen=True)
class ApiRoute:
    """Which API a URL addresses: the standard ``v2.0`` API or a custom API page group.

    Attributes:
        publisher: Custom API publisher, None for the standard API.
        group: Custom API group, None for the standard API.
        version: API version, e.g. ``v2.0`` or ``v1.0``.
    """

    publisher: str | None = None
    group: str | None = None
    version: str = "v2.0"

    @classmethod
    def parse(cls, spec: str) -> ApiRoute:
        """Read ``publisher/group/version`` (a ``custom_apis`` entry) or ``v2.0``.

        Raises:
            ConfigurationError: The text is not one of those two shapes.
        """
        parts = spec.strip().strip("/").split("/")
        if len(parts) == 1 and _API_PART.match(parts[0]):
            return cls(version=parts[0])
        if len(parts) == 3 and all(_API_PART.match(p) for p in parts):  # noqa: PLR2004
            return cls(publisher=parts[0], group=parts[1], version=parts[2])
        msg = f"Setting custom_apis has {spec!r}, which is not of the form publisher/group/version."
        raise ConfigurationError(msg)

    @property
    def is_standard(self) -> bool:
        """Whether this is Microsoft's standard API (no publisher)."""
        return self.publisher is None

    @property
    def path(self) -> str:
        """The path below the service root: ``api/v2.0`` or ``api/{publisher}/{group}/{ver}``."""
        if self.publisher is None or self.group is None:
            return f"api/{self.version}"
        return f"api/{self.publisher}/{self.group}/{self.version}"

    @property
    def slug(self) -> str:
        """The route as a name part (``contoso_sales_v1_0``): the tap prefixes taken set names."""
        return re.sub(r"[^A-Za-z0-9]+", "_", str(self)).strip("_")

    def __str__(self) -> str:
        """Spell the route the way the ``custom_apis`` setting does."""
        if self.publisher is None:
            return self.version
        return f"{self.publisher}/{self.group}/{self.version}"


STANDARD_API = ApiRoute()


class UrlBuilder:
    """Builds every BC URL, online or on-premises, so the shape lives in one place."""

    def __init__(
        self,
        *,
        api_url: str = "https://api.businesscentral.dynamics.com",
        tenant: str | None = None,
        environment: str = "production",
        base_url: str | None = None,
    ) -> None:
        """Online URLs need ``tenant`` and ``environment``; ``base_url`` (on-premises) wins.

        Args:
            api_url: BC online service host (``api_url`` setting).
            tenant: Tenant GUID or domain (``tenant_id`` setting).
            environment: Environment name (``environment_name`` setting).
            base_url: On-premises standard API root, e.g. ``https://bc:7048/BC/api/v2.0``.
        """
        self.api_url = api_url.rstrip("/")
        self.tenant = tenant
        self.environment = environment
        self.base_url = base_url.rstrip("/") if base_url else None
        if self.base_url is None and not tenant:
            msg = "Setting tenant_id is required to build BC online URLs."
            raise ConfigurationError(msg)

    def with_tenant(self, tenant: str) -> UrlBuilder:
        """Return a builder for the same service addressed by another tenant spelling (the GUID)."""
        return UrlBuilder(
            api_url=self.api_url,
            tenant=tenant,
            environment=self.environment,
            base_url=self.base_url,
        )

    @property
    def service_root(self) -> str:
        """Root below which ``api/...`` paths live, online or on-premises."""
        if self.base_url is not None:
            root, sep, _ = self.base_url.rpartition("/api/")
            if not sep:
                msg = "Setting base_url must end with the API path, e.g. .../BC/api/v2.0."
                raise ConfigurationError(msg)
            return root
        tenant = quote(self.tenant or "", safe="")
        environment = quote(self.environment, safe="")
        return f"{self.api_url}/v2.0/{tenant}/{environment}"

    def api_root(self, api: ApiRoute = STANDARD_API) -> str:
        """Root of one API, e.g. ``.../api/v2.0``; ``$metadata`` and ``$batch`` sit here."""
        if self.base_url is not None and api.is_standard:
            return self.base_url
        return f"{self.service_root}/{api.path}"

    def metadata_url(self, api: ApiRoute = STANDARD_API) -> str:
        """URL of the EDMX document of one API."""
        return f"{self.api_root(api)}/$metadata"

    def batch_url(self, api: ApiRoute = STANDARD_API) -> str:
        """URL that takes JSON ``$batch`` requests."""
        return f"{self.api_root(api)}/$batch"

    def companies_url(self, api: ApiRoute = STANDARD_API) -> str:
        """URL of the companies entity set."""
        return f"{self.api_root(api)}/companies"

    def company_url(self, company_id: str, api: ApiRoute = STANDARD_API) -> str:
        """URL of one company, the parent of all company-scoped entity sets."""
        return f"{self.api_root(api)}/companies({guid_literal(company_id)})"

    def entity_set_url(
        self,
        entity_set: str,
        company_id: str | None = None,
        api: ApiRoute = STANDARD_API,
    ) -> str:
        """URL of an entity set, company-scoped when ``company_id`` is given."""
        _check_segment(entity_set)
        parent = self.company_url(company_id, api) if company_id else self.api_root(api)
        return f"{parent}/{entity_set}"

    def entity_url(
        self,
        entity_set: str,
        key: object,
        company_id: str | None = None,
        api: ApiRoute = STANDARD_API,
    ) -> str:
        """URL of one entity by key: GUIDs bare, strings quoted (``subscriptions('x')``)."""
        return f"{self.entity_set_url(entity_set, company_id, api)}({key_segment(key)})"

    def action_url(
        self,
        entity_set: str,
        key: object,
        action: str,
        company_id: str | None = None,
        api: ApiRoute = STANDARD_API,
    ) -> str:
        """URL of a bound action, e.g. ``salesInvoices(id)/Microsoft.NAV.post``."""
        _check_segment(action)
        return f"{self.entity_url(entity_set, key, company_id, api)}/Microsoft.NAV.{action}"

    @property
    def environments_url(self) -> str:
        """URL of the environments list of the tenant (BC online only)."""
        return f"{self.api_url}/environments/v1.1"


def _check_segment(name: str) -> None:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        msg = f"{name!r} is not a valid OData name."
        raise ValueError(msg)


def key_segment(key: object) -> str:
    """Format an entity key for a URL path: GUIDs unquoted, strings quoted and percent-encoded."""
    if isinstance(key, uuid.UUID):
        return str(key)
    if isinstance(key, str):
        try:
            return guid_literal(key)
        except ValueError:
            return quote(string_literal(key), safe="'")
    return literal(key)


def string_literal(value: str) -> str:
    """Quote a string for ``$filter``: single quotes around, inner ``'`` doubled."""
    return "'" + value.replace("'", "''") + "'"


def guid_literal(value: str | uuid.UUID) -> str:
    """Format a GUID for ``$filter`` or a key: bare, lower case, validated.

    Raises:
        ValueError: ``value`` is not a GUID, so it cannot smuggle in syntax.
    """
    return str(value if isinstance(value, uuid.UUID) else uuid.UUID(value))


def encode_enum_name(name: str) -> str:
    """Turn an enum caption into its wire name: ``Sales Order`` -> ``Sales_x0020_Order``."""
    out = []
    for char in name:
        if char.isalnum() or char == "_":
            out.append(char)
        else:
            out.append(f"_x{ord(char):04X}_")
    return "".join(out)


def decode_enum_name(wire: str) -> str:
    """Turn an enum wire name into its caption: ``G_x002F_L_x0020_Account`` -> ``G/L Account``."""
    return _HEX_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), wire)


def literal(value: object) -> str:  # noqa: PLR0911 - one branch per OData literal kind
    """Format a Python value as an OData literal for ``$filter``.

    Strings are quoted with ``'`` doubled; GUIDs (``uuid.UUID``), dates, datetimes and numbers are
    bare, as BC expects. Enum members are sent as quoted wire names. Datetimes must carry a time
    zone and are sent in UTC with a ``Z``.

    Raises:
        TypeError: The value has no OData literal form.
        ValueError: A naive datetime or a non-finite number, which BC would misread.
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, enum.Enum):
        return string_literal(str(value.value))
    if isinstance(value, str):
        return string_literal(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dt.datetime):
        return _datetime_literal(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (decimal.Decimal, float)):
        return _number_literal(value)
    msg = f"No OData literal for {type(value).__name__}."
    raise TypeError(msg)


def _datetime_literal(value: dt.datetime) -> str:
    if value.tzinfo is None or value.utcoffset() is None:
        msg = "A datetime in a filter needs a time zone; BC compares in UTC."
        raise ValueError(msg)
    utc = value.astimezone(dt.timezone.utc)
    # Not strftime: glibc's %Y drops the padding of year 1, BC's empty datetime (0001-01-01).
    text = f"{utc.year:04d}-{utc:%m-%dT%H:%M:%S}"
    if utc.microsecond:
        text += f".{utc.microsecond:06d}".rstrip("0")
    return text + "Z"


def _number_literal(value: decimal.Decimal | float) -> str:
    number = value if isinstance(value, decimal.Decimal) else decimal.Decimal(repr(value))
    if not number.is_finite():
        msg = "A filter number must be finite."
        raise ValueError(msg)
    return format(number, "f")


def filter_expr(field: str, operator: str, value: object) -> str:
    """One comparison, e.g. ``filter_expr("number", "eq", "O'Brien")`` -> ``number eq 'O''Brien'``.

    Raises:
        ValueError: The field is not a property path or the operator is unknown.
    """
    if not _FIELD_PATH.match(field):
        msg = f"{field!r} is not a property name."
        raise ValueError(msg)
    if operator not in _OPERATORS:
        msg = f"{operator!r} is not an OData comparison operator."
        raise ValueError(msg)
    return f"{field} {operator} {literal(value)}"


def and_(*conditions: str) -> str:
    """Join conditions with ``and``, each in parentheses so precedence cannot surprise."""
    return " and ".join(f"({c})" for c in conditions if c)


def or_(*conditions: str) -> str:
    """Join conditions with ``or``; BC only allows ``or`` between conditions on one field."""
    return " or ".join(f"({c})" for c in conditions if c)


def encode_query(params: Mapping[str, object]) -> str:
    """Encode query options the way BC reads them: ``$`` kept, spaces as ``%20``, never ``+``."""
    pairs = []
    for name, value in params.items():
        if value is None:
            continue
        pairs.append(f"{quote(name, safe='$')}={quote(str(value), safe=_QUERY_SAFE)}")
    return "&".join(pairs)


def with_query(url: str, params: Mapping[str, object] | None) -> str:
    """Append encoded query options to a URL that may already have some."""
    if not params:
        return url
    query = encode_query(params)
    if not query:
        return url
    return f"{url}{'&' if urlsplit(url).query else '?'}{query}"


def split_correlation_id(message: str) -> tuple[str, str | None]:
    """Split BC's ``  CorrelationId:  <guid>.`` suffix off a message."""
    match = _CORRELATION.search(message)
    if not match:
        return message.strip(), None
    return message[: match.start()].rstrip(), match.group(1)


NO_MESSAGE = "no error message in the response"


def error_from_response(  # noqa: PLR0913 - all parts of a response
    status: int,
    body: bytes | str,
    *,
    method: str | None = None,
    url: str | None = None,
    headers: Mapping[str, str] | None = None,
    error_class: type[BusinessCentralError] = BusinessCentralError,
) -> BusinessCentralError:
    """Build the exception for an error response from BC's ``{"error": {code, message}}`` body.

    Bodies that are not BC errors (a proxy's HTML page) keep their first line as the message.
    """
    code: str | None = None
    message = ""
    try:
        document: Any = parse_json(body) if body else None
    except ValueError:
        document = None
    if isinstance(document, dict) and isinstance(document.get("error"), dict):
        code = _as_text(document["error"].get("code"))
        message = _as_text(document["error"].get("message")) or ""
    elif body:
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        message = text.strip().splitlines()[0][:300] if text.strip() else ""
    message, correlation_id = split_correlation_id(message)
    if correlation_id is None and headers:
        correlation_id = next(
            (
                headers[h]
                for h in ("ms-correlation-x", "request-id", "x-ms-request-id")
                if h in headers
            ),
            None,
        )
    return error_class(
        message or NO_MESSAGE,
        status=status,
        code=code,
        correlation_id=correlation_id,
        method=method,
        url=url,
    )


def _as_text(value: object) -> str | None:
    return value if isinstance(value, str) else None


class PagingError(BusinessCentralError):
    """An ``@odata.nextLink`` that must not be followed: elsewhere, in a loop, or endless."""


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port or {"https": 443, "http": 80}.get(scheme)
    return scheme, (parts.hostname or "").lower(), port


def _digest(url: str) -> bytes:
    # A long read visits thousands of links: keep 16 bytes of each, not the URL.
    return hashlib.blake2b(url.encode(), digest_size=16).digest()


class NextLinks:
    """The one rule for following ``@odata.nextLink`` through a read, shared by tap and client.

    BC's next link is an absolute URL of the same API with a ``$skiptoken``; it is followed as
    given (opaque), but only when it stays where the read started and moves forward:

    - same scheme, host and port as the first request, and a path under the service root: a link
      elsewhere is refused before any request, so the bearer token never leaves the service;
    - never a URL this read already asked for (a page that links to itself or back would repeat
      rows forever);
    - at most :attr:`MAX_EMPTY_PAGES` empty pages in a row that still have a next link (a server
      that pages through nothing).

    Each refusal is a :class:`PagingError` with one line naming the read.
    """

    MAX_EMPTY_PAGES = 5

    def __init__(self, first_url: str, service_root: str, what: str | None = None) -> None:
        """Start a read at ``first_url``; links must stay below ``service_root`` (a URL).

        Args:
            first_url: The read's first request.
            service_root: Root below which the API lives (``UrlBuilder.service_root``).
            what: How errors name the read (a stream name); the first URL's path by default.
        """
        self.current = first_url
        self._origin = _origin(first_url)
        self._root_path = urlsplit(service_root).path.rstrip("/").lower() + "/"
        self._what = what or urlsplit(first_url).path
        self._visited = {_digest(first_url)}
        self._empty_in_a_row = 0

    def follow(self, document: Mapping[str, Any]) -> str | None:
        """The next URL to ask for after the page ``document``, None at the end of the read.

        Raises:
            PagingError: The link leads elsewhere, back to a page already read, or on after
                too many empty pages.
        """
        link = document.get("@odata.nextLink")
        if not link:
            return None
        if not isinstance(link, str):
            self._fail("the @odata.nextLink is not a URL")
        url = urljoin(self.current, link)
        origin = _origin(url)
        if origin != self._origin:
            scheme, host, port = origin
            self._fail(
                f"the @odata.nextLink leads to another server ({scheme}://{host}:{port}); "
                "not followed, so the sign-in token is not sent there"
            )
        if not urlsplit(url).path.lower().startswith(self._root_path):
            self._fail(
                f"the @odata.nextLink leads outside the service root {self._root_path}; "
                "not followed"
            )
        digest = _digest(url)
        if digest in self._visited:
            self._fail("the @odata.nextLink leads back to a page already read; stopped")
        if document.get("value"):
            self._empty_in_a_row = 0
        else:
            self._empty_in_a_row += 1
            if self._empty_in_a_row > self.MAX_EMPTY_PAGES:
                self._fail(
                    f"more than {self.MAX_EMPTY_PAGES} empty pages in a row still had an "
                    "@odata.nextLink; stopped"
                )
        self._visited.add(digest)
        self.current = url
        return url

    def _fail(self, reason: str) -> NoReturn:
        msg = f"Reading {self._what}: {reason}."
        raise PagingError(msg, status=None)
