"""The settings the tap and the target share, declared once, and their validation.

``SETTINGS`` is a singer-sdk ``PropertiesList``: tap and target append it to their own
``config_jsonschema`` so the names, defaults, descriptions and secret flags are identical on both
sides. :func:`validate_settings` turns bad config into one plain sentence naming the setting, before
any network call, and :class:`Settings` is the typed view the client is built from.
"""

from __future__ import annotations

import ipaddress
import re
import ssl
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from singer_sdk import typing as th

from businesscentral_api.errors import ConfigurationError, InsecureTransportError
from businesscentral_api.odata import ApiRoute
from businesscentral_api.redact import redact

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "AUTH_TYPES",
    "DEFAULT_API_URL",
    "DEFAULT_AUTHORITY_URL",
    "SETTINGS",
    "Settings",
    "is_loopback",
    "require_safe_transport",
    "validate_settings",
]

DEFAULT_API_URL = "https://api.businesscentral.dynamics.com"
DEFAULT_AUTHORITY_URL = "https://login.microsoftonline.com"
AUTH_TYPES = ("client_credentials", "refresh_token", "basic")
_DOMAIN = re.compile(r"^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
_MAX_CONCURRENCY = 100
_URL_SETTINGS = ("api_url", "authority_url", "base_url")

SETTINGS = th.PropertiesList(
    th.Property(
        "tenant_id",
        th.StringType,
        description="Microsoft Entra tenant: its GUID or a domain such as contoso.onmicrosoft.com.",
    ),
    th.Property(
        "environment_name",
        th.StringType,
        default="production",
        description="Business Central environment name, e.g. production or sandbox.",
    ),
    th.Property(
        "auth_type",
        th.StringType,
        default="client_credentials",
        allowed_values=list(AUTH_TYPES),
        description=(
            "How to sign in: client_credentials (an app registration, service to service), "
            "refresh_token (a user, via bc-login), or basic (on-premises web service access key)."
        ),
    ),
    th.Property("client_id", th.StringType, description="Application (client) id of the app."),
    th.Property(
        "client_secret",
        th.StringType,
        secret=True,
        description="Client secret of the app; or use client_certificate_path instead.",
    ),
    th.Property(
        "client_certificate_path",
        th.StringType,
        description="PEM file with the app certificate's private key (and certificate).",
    ),
    th.Property(
        "client_certificate_thumbprint",
        th.StringType,
        description="SHA-1 thumbprint (hex) of that certificate; read from the PEM when omitted.",
    ),
    th.Property(
        "refresh_token",
        th.StringType,
        secret=True,
        description="A refresh token to start from; later rotated tokens live in token_cache_path.",
    ),
    th.Property(
        "token_cache_path",
        th.StringType,
        description=(
            "File for the msal token cache (written 0600) that keeps rotated refresh tokens across "
            "runs; bc-login creates it."
        ),
    ),
    th.Property("username", th.StringType, description="On-premises user name (basic auth)."),
    th.Property(
        "password",
        th.StringType,
        secret=True,
        description="On-premises web service access key of that user (basic auth).",
    ),
    th.Property(
        "api_url",
        th.StringType,
        default=DEFAULT_API_URL,
        description="Business Central online API host.",
    ),
    th.Property(
        "authority_url",
        th.StringType,
        default=DEFAULT_AUTHORITY_URL,
        description="Microsoft Entra sign-in host (https only).",
    ),
    th.Property(
        "base_url",
        th.StringType,
        description=(
            "On-premises: the full standard API root, e.g. https://bc:7048/BC/api/v2.0; "
            "replaces the online URL shape."
        ),
    ),
    th.Property(
        "company_ids",
        th.ArrayType(th.StringType),
        description="Companies to use, by id or name; every company when omitted.",
    ),
    th.Property(
        "custom_apis",
        th.ArrayType(th.StringType),
        description="Custom API pages to use as publisher/group/version, e.g. contoso/sales/v1.0.",
    ),
    th.Property(
        "max_concurrency",
        th.IntegerType,
        default=5,
        description="Requests in flight at once; BC processes 5 per user, more only queue.",
    ),
    th.Property(
        "requests_per_5_minutes",
        th.IntegerType,
        default=6000,
        description="Requests in any sliding 5 minutes; BC answers 429 above 6000.",
    ),
    th.Property(
        "request_timeout",
        th.NumberType,
        default=600,
        description="Seconds to wait for one response; BC itself gives up after 10 minutes.",
    ),
    th.Property(
        "ca_bundle",
        th.StringType,
        description="PEM bundle of CAs to trust for BC and sign-in, e.g. for a TLS proxy.",
    ),
)


@dataclass(frozen=True)
class Settings:
    """The validated, typed settings; build with :meth:`from_config`."""

    tenant_id: str | None = None
    environment_name: str = "production"
    auth_type: str = "client_credentials"
    client_id: str | None = None
    client_secret: str | None = None
    client_certificate_path: str | None = None
    client_certificate_thumbprint: str | None = None
    refresh_token: str | None = None
    token_cache_path: str | None = None
    username: str | None = None
    password: str | None = None
    api_url: str = DEFAULT_API_URL
    authority_url: str = DEFAULT_AUTHORITY_URL
    base_url: str | None = None
    company_ids: tuple[str, ...] = ()
    custom_apis: tuple[ApiRoute, ...] = ()
    max_concurrency: int = 5
    requests_per_5_minutes: int = 6000
    request_timeout: float = 600.0
    ca_bundle: str | None = None

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Settings:
        """Validate a tap/target config and keep the shared settings, ignoring the others.

        Raises:
            ConfigurationError: One plain sentence naming the bad setting.
        """
        validate_settings(config)

        def text(name: str, default: str | None = None) -> str | None:
            value = config.get(name)
            return value.strip() if isinstance(value, str) and value.strip() else default

        return cls(
            tenant_id=text("tenant_id"),
            environment_name=text("environment_name", "production") or "production",
            auth_type=text("auth_type", "client_credentials") or "client_credentials",
            client_id=text("client_id"),
            client_secret=text("client_secret"),
            client_certificate_path=text("client_certificate_path"),
            client_certificate_thumbprint=text("client_certificate_thumbprint"),
            refresh_token=text("refresh_token"),
            token_cache_path=text("token_cache_path"),
            username=text("username"),
            password=config.get("password") or None,
            api_url=(text("api_url", DEFAULT_API_URL) or DEFAULT_API_URL).rstrip("/"),
            authority_url=(text("authority_url", DEFAULT_AUTHORITY_URL) or "").rstrip("/"),
            base_url=(text("base_url") or "").rstrip("/") or None,
            company_ids=tuple(str(c).strip() for c in config.get("company_ids") or ()),
            custom_apis=tuple(ApiRoute.parse(a) for a in config.get("custom_apis") or ()),
            max_concurrency=int(config.get("max_concurrency") or 5),
            requests_per_5_minutes=int(config.get("requests_per_5_minutes") or 6000),
            request_timeout=float(config.get("request_timeout") or 600.0),
            ca_bundle=text("ca_bundle"),
        )

    def __repr__(self) -> str:
        """Show which secrets are set, never their values."""
        shown = {
            k: ("***" if k in {"client_secret", "refresh_token", "password"} and v else v)
            for k, v in self.__dict__.items()
        }
        return "Settings(" + ", ".join(f"{k}={v!r}" for k, v in shown.items()) + ")"

    @property
    def secrets(self) -> tuple[str, ...]:
        """Secret values, so that logs and messages can be scrubbed of them."""
        return tuple(s for s in (self.client_secret, self.refresh_token, self.password) if s)


def is_loopback(host: str | None) -> bool:
    """Whether ``host`` is this machine: 127.0.0.0/8, ::1 or localhost."""
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def require_safe_transport(url: str, setting: str) -> None:
    """Refuse to send credentials to ``url`` over plain http unless the host is loopback.

    Raises:
        InsecureTransportError: Naming ``setting`` as the one to fix.
    """
    parts = urlsplit(url)
    if parts.scheme == "https":
        return
    if parts.scheme == "http" and is_loopback(parts.hostname):
        return
    msg = (
        f"Setting {setting} is {parts.scheme}://{parts.hostname or ''}, which would send "
        "credentials unencrypted; use an https:// URL."
    )
    raise InsecureTransportError(msg)


def validate_settings(config: Mapping[str, Any]) -> None:
    """Check the shared settings and say, in one sentence, which one is wrong and why.

    Raises:
        ConfigurationError: The first problem found.
    """
    _check_types(config)
    for name in _URL_SETTINGS:
        _refuse_userinfo(config, name)
    auth_type = config.get("auth_type") or "client_credentials"
    if auth_type not in AUTH_TYPES:
        _fail(f"Setting auth_type is {auth_type!r}; use one of {', '.join(AUTH_TYPES)}.")
    if auth_type == "basic":
        _validate_basic(config)
    else:
        _validate_entra(config, auth_type)
    for name in ("ca_bundle", "client_certificate_path"):
        path = config.get(name)
        if path and not Path(path).is_file():
            _fail(f"Setting {name} names {path}, which is not a readable file.")
    if config.get("ca_bundle"):
        _check_ca_bundle(config["ca_bundle"])
    for name, low, high in (
        ("max_concurrency", 1, _MAX_CONCURRENCY),
        ("requests_per_5_minutes", 1, None),
        ("request_timeout", 1, None),
    ):
        value = config.get(name)
        if value is not None and (value < low or (high is not None and value > high)):
            bound = f"between {low} and {high}" if high else f"at least {low}"
            _fail(f"Setting {name} is {value}; it must be {bound}.")
    for spec in config.get("custom_apis") or ():
        ApiRoute.parse(spec)


def _check_types(config: Mapping[str, Any]) -> None:
    expected: dict[str, tuple[type, ...]] = {
        "max_concurrency": (int,),
        "requests_per_5_minutes": (int,),
        "request_timeout": (int, float),
        "company_ids": (list, tuple),
        "custom_apis": (list, tuple),
    }
    for name in (p for p, _ in SETTINGS.type_dict["properties"].items()):
        value = config.get(name)
        if value is None:
            continue
        types = expected.get(name, (str,))
        if not isinstance(value, types) or isinstance(value, bool):
            kind = {str: "a string", int: "a number", list: "a list of strings"}[types[0]]
            _fail(f"Setting {name} must be {kind}.")
        if types[0] is list and not all(isinstance(v, str) and v.strip() for v in value):
            _fail(f"Setting {name} must be a list of non-empty strings.")


def _validate_basic(config: Mapping[str, Any]) -> None:
    if not config.get("base_url"):
        _fail("Setting base_url is required when auth_type is basic (on-premises API root).")
    for name in ("username", "password"):
        if not config.get(name):
            _fail(f"Setting {name} is required when auth_type is basic.")
    _check_url(config, "base_url", credentials=True)


def _validate_entra(config: Mapping[str, Any], auth_type: str) -> None:
    tenant = str(config.get("tenant_id") or "")
    if not tenant:
        _fail(f"Setting tenant_id is required when auth_type is {auth_type}.")
    if not (_is_guid(tenant) or _DOMAIN.match(tenant)):
        _fail(f"Setting tenant_id is {tenant!r}, which is neither a GUID nor a domain name.")
    if not config.get("client_id"):
        _fail(f"Setting client_id is required when auth_type is {auth_type}.")
    if auth_type == "client_credentials":
        _validate_client_credentials(config)
    else:
        _validate_refresh_token(config)
    authority = config.get("authority_url") or DEFAULT_AUTHORITY_URL
    if urlsplit(authority).scheme != "https":
        _fail("Setting authority_url must be an https:// URL; msal signs in over https only.")
    _check_url(config, "authority_url", credentials=True)
    _check_url(config, "api_url", credentials=True)
    if config.get("base_url"):
        _check_url(config, "base_url", credentials=True)


def _validate_client_credentials(config: Mapping[str, Any]) -> None:
    has_secret = bool(config.get("client_secret"))
    has_certificate = bool(config.get("client_certificate_path"))
    if has_secret == has_certificate:
        _fail(
            "Setting client_secret or client_certificate_path (exactly one) is required "
            "when auth_type is client_credentials.",
        )


def _validate_refresh_token(config: Mapping[str, Any]) -> None:
    if not config.get("refresh_token"):
        cache = config.get("token_cache_path")
        if not cache:
            _fail(
                "Setting refresh_token or token_cache_path is required when auth_type is "
                "refresh_token; run bc-login to create a token cache.",
            )
        elif not Path(cache).is_file():
            _fail(
                f"Setting token_cache_path names {cache}, which does not exist yet; "
                "run bc-login to create it.",
            )


def _check_url(config: Mapping[str, Any], name: str, *, credentials: bool) -> None:
    value = config.get(name)
    if not value:
        return
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        _fail(f"Setting {name} is {redact(repr(value))}, which is not an http(s) URL.")
    if credentials:
        require_safe_transport(value, name)


def _refuse_userinfo(config: Mapping[str, Any], name: str) -> None:
    """``https://user:password@host`` would put a password in every log line naming the URL."""
    value = config.get(name)
    if not isinstance(value, str):
        return
    try:
        netloc = urlsplit(value.strip()).netloc
    except ValueError:
        _fail(f"Setting {name} is not a valid URL.")
        return
    if "@" in netloc:
        # The value itself is never repeated: its user information may be a password.
        _fail(
            f"Setting {name} has a user name or password in it (scheme://user:password@host); "
            "remove them: credentials go in their own settings, never in a URL.",
        )


def _check_ca_bundle(path: str) -> None:
    """A CA bundle that holds no certificate makes every TLS handshake fail: say so now."""
    try:
        ssl.create_default_context(cafile=path)
    except (ssl.SSLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or type(exc).__name__
        _fail(f"Setting ca_bundle names {path}, which holds no usable PEM certificate ({reason}).")


def _is_guid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _fail(message: str) -> None:
    raise ConfigurationError(message)
