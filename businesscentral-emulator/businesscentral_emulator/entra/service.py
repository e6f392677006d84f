"""Microsoft Entra ID as Business Central clients meet it: pure state and rules, no HTTP.

The HTTP layer (`entra_http`) parses requests and renders answers; this module decides who gets
which token. It signs access tokens like Entra's v1 tokens for Business Central, so the API layer
can check them with `EntraService.validate_access_token`, and it keeps the one-time and rotating
credentials (authorization codes, device codes, refresh tokens) in memory.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import secrets
import string
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, NamedTuple
from urllib.parse import urlencode, urlsplit

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

BC_RESOURCE = "https://api.businesscentral.dynamics.com"
APP_ROLES = ("API.ReadWrite.All",)
DELEGATED_PERMISSIONS = ("Financials.ReadWrite.All", "user_impersonation")
OIDC_SCOPES = frozenset({"openid", "profile", "offline_access", "email"})
MULTI_TENANT_ALIASES = frozenset({"organizations", "common"})

GRANT_CLIENT_CREDENTIALS = "client_credentials"
GRANT_AUTHORIZATION_CODE = "authorization_code"
GRANT_REFRESH_TOKEN = "refresh_token"  # noqa: S105 (a grant name)
GRANT_DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code"
CLIENT_ASSERTION_TYPE_JWT = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
DEVICE_VERIFICATION_URI = "https://microsoft.com/devicelogin"

_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
_ASSERTION_ALGORITHMS = ["RS256", "PS256", "ES256"]
_USER_CODE_ALPHABET = string.ascii_uppercase + string.digits
# PyJWT checks the signature only; times and audiences are checked here, against `clock`.
_SIGNATURE_ONLY: jwt.types.Options = {
    "verify_exp": False,
    "verify_nbf": False,
    "verify_iat": False,
    "verify_aud": False,
    "verify_iss": False,
}


def _new_secret() -> str:
    """A client secret shaped like Entra's (40 characters with a `~` after the prefix)."""
    return f"{secrets.token_urlsafe(3)[:3]}8Q~{secrets.token_urlsafe(30)[:34]}"


@dataclass(frozen=True)
class EntraConfig:
    """One tenant with one confidential app, one public app and one user.

    Attributes:
        tenant_id: the directory (tenant) GUID: the `tid` claim and the canonical URL segment.
        tenant_domain: the verified domain, accepted in URLs in place of the GUID.
        client_id: the confidential app (service-to-service, secret or certificate).
        client_secret: that app's secret; never printed (excluded from repr).
        public_client_id: an app with public client flows enabled (auth code + PKCE, device code).
        service_principal_oid: the `oid` of app-only tokens.
        user_oid: the `oid` of the one user who signs in to delegated flows.
        user_principal_name: that user's UPN (`preferred_username`, `upn`).
        user_display_name: that user's display name (`name`).
        access_token_lifetime: seconds an access token lives (small values test expiry).
        refresh_token_lifetime: seconds a refresh token lives unused.
        authorization_code_lifetime: seconds an authorization code can be redeemed.
        device_code_lifetime: seconds a device code can be polled.
        device_code_interval: polling interval advertised to device-flow clients.
        clock_skew: seconds of leeway when checking `exp`/`nbf` of tokens and assertions.
    """

    tenant_id: str = "5b2f3e7c-9a41-4d6e-8c0b-1f2a3d4e5f60"
    tenant_domain: str = "cronus.onmicrosoft.com"
    client_id: str = "0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f"
    client_secret: str = field(default_factory=_new_secret, repr=False)
    public_client_id: str = "7f6e5d4c-3b2a-4190-8f7e-6d5c4b3a2910"
    service_principal_oid: str = "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"
    user_oid: str = "d4c3b2a1-6f5e-4b7a-9d8c-5d4c3b2a1f0e"
    user_principal_name: str = "admin@cronus.onmicrosoft.com"
    user_display_name: str = "CRONUS Administrator"
    access_token_lifetime: int = 3599
    refresh_token_lifetime: int = 90 * 24 * 3600
    authorization_code_lifetime: int = 600
    device_code_lifetime: int = 900
    device_code_interval: int = 5
    clock_skew: int = 0


class EntraError(Exception):
    """A refusal the way Entra words it: OAuth error name, AADSTS code, status.

    Messages never contain a secret, so the body can be sent and logged as is.
    """

    def __init__(self, status: int, error: str, code: int, message: str) -> None:
        """Keep the parts of an Entra error response."""
        super().__init__(f"AADSTS{code}: {message}")
        self.status = status
        self.error = error
        self.code = code
        self.message = message

    def body(
        self, *, correlation_id: str | None = None, now: float | None = None
    ) -> dict[str, Any]:
        """Render the JSON body Entra sends, with fresh trace id and a timestamp."""
        trace_id = str(uuid.uuid4())
        correlation_id = correlation_id or str(uuid.uuid4())
        moment = dt.datetime.fromtimestamp(time.time() if now is None else now, dt.timezone.utc)
        timestamp = moment.strftime("%Y-%m-%d %H:%M:%SZ")
        # Entra separates the parts with CRLF (learn.microsoft.com/previous-versions/azure/dn645548,
        # "Token Issuance Endpoint Errors": "...\r\nTrace ID: ...\r\nCorrelation ID: ...").
        description = (
            f"AADSTS{self.code}: {self.message}\r\nTrace ID: {trace_id}\r\n"
            f"Correlation ID: {correlation_id}\r\nTimestamp: {timestamp}"
        )
        return {
            "error": self.error,
            "error_description": description,
            "error_codes": [self.code],
            "timestamp": timestamp,
            "trace_id": trace_id,
            "correlation_id": correlation_id,
            "error_uri": f"https://login.microsoftonline.com/error?code={self.code}",
        }


AccessTokenProblem = Literal[
    "malformed",
    "bad_signature",
    "expired",
    "not_yet_valid",
    "wrong_audience",
    "wrong_issuer",
    "wrong_tenant",
]


class AccessTokenError(Exception):
    """Why a bearer token was refused by the API: `reason` is one of `AccessTokenProblem`."""

    def __init__(self, reason: AccessTokenProblem, message: str) -> None:
        """Keep the machine-readable reason next to the human message."""
        super().__init__(message)
        self.reason: AccessTokenProblem = reason
        self.message = message


@dataclass(frozen=True)
class AuthorizeRedirect:
    """Where the authorize endpoint sends the browser, and with what.

    Attributes:
        redirect_uri: the client's registered loopback redirect URI.
        params: `code` and `state`, or `error`, `error_description` and `state`.
        response_mode: `query`, `fragment` or `form_post`.
    """

    redirect_uri: str
    params: dict[str, str]
    response_mode: str

    @property
    def location(self) -> str:
        """The URL for a 302 (query or fragment mode)."""
        separator = "#" if self.response_mode == "fragment" else "?"
        if separator == "?" and "?" in self.redirect_uri:
            separator = "&"
        return f"{self.redirect_uri}{separator}{urlencode(self.params)}"


@dataclass(frozen=True)
class _Scopes:
    """A parsed `scope` parameter: Business Central permissions and OpenID Connect scopes."""

    resource: tuple[str, ...]
    oidc: frozenset[str]

    @property
    def offline(self) -> bool:
        return "offline_access" in self.oidc

    @property
    def openid(self) -> bool:
        return "openid" in self.oidc

    def granted(self) -> str:
        """The `scope` of a delegated token response: every consented permission, fully named."""
        names = [f"{BC_RESOURCE}/{name}" for name in DELEGATED_PERMISSIONS]
        names += [name for name in self.resource if name not in names]
        return " ".join(names)


@dataclass
class _AuthorizationCode:
    client_id: str
    redirect_uri: str
    scopes: _Scopes
    challenge: str | None
    challenge_method: str
    nonce: str | None
    expires_at: float
    used: bool = False


@dataclass
class _RefreshToken:
    client_id: str
    scopes: _Scopes
    issued_at: float
    expires_at: float


@dataclass
class _DeviceCode:
    client_id: str
    scopes: _Scopes
    expires_at: float
    polls: int = 0


@dataclass(frozen=True)
class _Client:
    client_id: str
    appidacr: str  # 0 public, 1 secret, 2 certificate


class _Refusal(NamedTuple):
    """One way Entra says no: HTTP status, OAuth error, AADSTS code, message template."""

    status: int
    error: str
    code: int
    template: str


# Codes and wording are Entra's as far as they are publicly known. Templates are filled with
# details of the request (never a secret) and `{domain}`, the tenant's domain.
_MISSING = _Refusal(
    400,
    "invalid_request",
    900144,
    "The request body must contain the following parameter: '{parameter}'.",
)

_UNSUPPORTED_GRANT_TYPE = _Refusal(
    400,
    "unsupported_grant_type",
    70003,
    "The app requested an unsupported grant type '{grant_type}'.",
)

_UNKNOWN_TENANT = _Refusal(
    400,
    "invalid_request",
    90002,
    (
        "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and "
        "are signing into the correct cloud."
    ),
)

_NO_TENANT = _Refusal(
    400,
    "invalid_request",
    50059,
    (
        "No tenant-identifying information found in either the request or implied by any "
        "provided credentials."
    ),
)

_UNKNOWN_APP = _Refusal(
    401,
    "unauthorized_client",
    700016,
    (
        "Application with identifier '{client_id}' was not found in the directory '{domain}'."
        " This can happen if the application has not been installed by the administrator of "
        "the tenant or consented to by any user in the tenant. You may have sent your "
        "authentication request to the wrong tenant."
    ),
)

_BAD_SECRET = _Refusal(
    401,
    "invalid_client",
    7000215,
    (
        "Invalid client secret provided. Ensure the secret being sent in the request is the "
        "client secret value, not the client secret ID, for a secret added to app "
        "'{client_id}'."
    ),
)

_MISSING_CREDENTIAL = _Refusal(
    401,
    "invalid_client",
    7000218,
    (
        "The request body must contain the following parameter: 'client_assertion' or "
        "'client_secret'."
    ),
)

_PUBLIC_CLIENT_CREDENTIALS = _Refusal(
    401,
    "invalid_client",
    7000216,
    (
        "'client_assertion', 'client_secret' or 'request' is required for the "
        "'client_credentials' grant type."
    ),
)

_PUBLIC_WITH_CREDENTIAL = _Refusal(
    401,
    "invalid_client",
    700025,
    "Client is public so neither 'client_assertion' nor 'client_secret' should be presented.",
)

_ASSERTION_TYPE = _Refusal(
    400,
    "invalid_request",
    50027,
    "client_assertion_type must be 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'.",
)

_ASSERTION_MALFORMED = _Refusal(
    401,
    "invalid_client",
    50027,
    "JWT token is invalid or malformed.",
)

_ASSERTION_KEY = _Refusal(
    401,
    "invalid_client",
    700027,
    (
        "Client assertion failed signature validation. [Reason - The key was not found., "
        "Thumbprint of key used by client: '{thumbprint}']"
    ),
)

_ASSERTION_SIGNATURE = _Refusal(
    401,
    "invalid_client",
    700027,
    "Client assertion failed signature validation.",
)

_ASSERTION_AUDIENCE = _Refusal(
    401,
    "invalid_client",
    700027,
    (
        "Client assertion failed signature validation. [Reason - The audience of the "
        "assertion is not this token endpoint.]"
    ),
)

_ASSERTION_TIME = _Refusal(
    401,
    "invalid_client",
    700024,
    "Client assertion is not within its valid time range.",
)

_ASSERTION_ISSUER = _Refusal(
    401,
    "invalid_client",
    700021,
    "Client assertion application identifier doesn't match 'client_id' parameter.",
)

_APP_SCOPE = _Refusal(
    400,
    "invalid_scope",
    1002012,
    (
        "The provided value for scope {scope} is not valid. Client credential flows must have"
        " a scope value with /.default suffixed to the resource identifier (application ID "
        "URI)."
    ),
)

_DELEGATED_SCOPE = _Refusal(
    400,
    "invalid_scope",
    70011,
    (
        "The provided value for the input parameter 'scope' is not valid. The scope '{scope}'"
        " does not name a permission of https://api.businesscentral.dynamics.com."
    ),
)

_UNKNOWN_RESOURCE = _Refusal(
    400,
    "invalid_resource",
    500011,
    (
        "The resource principal named {resource} was not found in the tenant named {domain}. "
        "This can happen if the application has not been installed by the administrator of "
        "the tenant or consented to by any user in the tenant."
    ),
)

_BAD_REDIRECT_URI = _Refusal(
    400,
    "invalid_request",
    50011,
    (
        "The redirect URI '{redirect_uri}' specified in the request does not match the "
        "redirect URIs configured for the application '{client_id}'."
    ),
)

_RESPONSE_TYPE = _Refusal(
    400,
    "unsupported_response_type",
    700054,
    "response_type 'code' is the only one enabled for this application.",
)

_CODE_CHALLENGE = _Refusal(
    400,
    "invalid_request",
    501491,
    "Invalid size of Code_Challenge parameter or unsupported code_challenge_method.",
)

_INVALID_GRANT = _Refusal(
    400,
    "invalid_grant",
    70000,
    "Provided grant is invalid or malformed.",
)

_CODE_REDEEMED = _Refusal(
    400,
    "invalid_grant",
    54005,
    (
        "OAuth2 Authorization code was already redeemed, please retry with a new valid code "
        "or use an existing refresh token."
    ),
)

_CODE_EXPIRED = _Refusal(
    400,
    "invalid_grant",
    70008,
    (
        "The provided authorization code or refresh token has expired due to inactivity. Send"
        " a new interactive authorization request for this user and resource."
    ),
)

_REPLY_MISMATCH = _Refusal(
    400,
    "invalid_grant",
    500112,
    (
        "The reply address does not match the reply address provided when requesting "
        "Authorization code."
    ),
)

_PKCE_MISSING = _Refusal(
    400,
    "invalid_grant",
    50148,
    (
        "The code_verifier does not match the code_challenge supplied in the authorization "
        "request for PKCE."
    ),
)

_PKCE_MISMATCH = _Refusal(
    400,
    "invalid_grant",
    501481,
    "The Code_Verifier does not match the code_challenge supplied in the authorization request.",
)

_REFRESH_EXPIRED = _Refusal(
    400,
    "invalid_grant",
    700082,
    (
        "The refresh token has expired due to inactivity. The token was issued on {issued} "
        "and was inactive for {lifetime} seconds."
    ),
)

_AUTHORIZATION_PENDING = _Refusal(
    400,
    "authorization_pending",
    70016,
    "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
)

_DEVICE_CODE_EXPIRED = _Refusal(
    400,
    "expired_token",
    70019,
    "Verification code expired.",
)

_BAD_DEVICE_CODE = _Refusal(
    400,
    "bad_verification_code",
    70000,
    "The device code was not recognized.",
)


# Entra's token endpoint when it cannot serve a request right now, for injected faults. The body
# has Entra's error shape ({error, error_description, error_codes, timestamp, trace_id,
# correlation_id, error_uri}: learn.microsoft.com/entra/identity-platform/reference-error-codes,
# "Handling error codes in your application"; older page: learn.microsoft.com/previous-versions/
# azure/dn645548 "Token Issuance Endpoint Errors"). `temporarily_unavailable` is the OAuth error
# Entra documents for "the server is temporarily too busy to handle the request; retry after a
# small delay" (v2-oauth2-auth-code-flow, error codes for token endpoint errors). The AADSTS codes
# come from the reference-error-codes table: 90024 RequestBudgetExceededError ("A transient error
# has occurred. Try again.") and 90033 MsodsServiceUnavailable. For client credentials Entra
# throttles with 429 and `Retry-After: 60` (learn.microsoft.com/entra/msal/dotnet/advanced/
# client-and-server-throttling); the body it sends with a 429 or a gateway's 408 is not
# documented, so those reuse 90024 (*unconfirmed*).
_TRANSIENT_REFUSALS = {
    503: _Refusal(
        503,
        "temporarily_unavailable",
        90033,
        "MsodsServiceUnavailable - The Microsoft Online Directory Service (MSODS) isn't available.",
    ),
}
_BUSY = _Refusal(
    429,
    "temporarily_unavailable",
    90024,
    "RequestBudgetExceededError - A transient error has occurred. Try again.",
)


def transient_refusal(status: int) -> EntraError:
    """The error Entra's token endpoint answers with `status` (408, 429, 5xx) for a fault."""
    kind = _TRANSIENT_REFUSALS.get(status, _BUSY)
    return EntraError(status, kind.error, kind.code, kind.template)


class EntraService:
    """The sign-in service of one tenant: issues, rotates and checks tokens.

    Thread-safe: one lock guards the one-time codes and refresh tokens.
    """

    def __init__(
        self, config: EntraConfig | None = None, *, clock: Callable[[], float] = time.time
    ) -> None:
        """Generate the signing key and start with no outstanding codes or tokens.

        Args:
            config: tenant, apps, user and lifetimes; a default tenant when omitted.
            clock: the time source in epoch seconds (tests pass a fake one).
        """
        self.config = config or EntraConfig()
        self._clock = clock
        self._lock = threading.RLock()
        self._signing_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._signing_cert = _self_signed(self._signing_key, "accounts.accesscontrol.windows.net")
        self.key_id = _b64url(self._signing_cert.fingerprint(hashes.SHA1()))  # noqa: S303 (x5t is SHA-1 by spec)
        self._certificates: dict[str, x509.Certificate] = {}
        self._codes: dict[str, _AuthorizationCode] = {}
        self._refresh_tokens: dict[str, _RefreshToken] = {}
        self._device_codes: dict[str, _DeviceCode] = {}
        self.tokens_issued: dict[str, int] = {}
        self.errors: dict[str, int] = {}

    # --- tenants and keys -------------------------------------------------------------------

    @property
    def access_token_issuer(self) -> str:
        """The `iss` of access tokens (Entra v1 tokens, as Business Central receives)."""
        return f"https://sts.windows.net/{self.config.tenant_id}/"

    @property
    def id_token_issuer(self) -> str:
        """The `iss` of ID tokens and the v2.0 discovery document."""
        return f"https://login.microsoftonline.com/{self.config.tenant_id}/v2.0"

    def is_own_tenant(self, tenant: str) -> bool:
        """Whether a URL segment names this tenant (its GUID or its domain)."""
        lowered = tenant.lower()
        return lowered in {self.config.tenant_id.lower(), self.config.tenant_domain.lower()}

    def resolve_tenant(
        self, tenant: str, *, delegated: bool, error: str = "invalid_request"
    ) -> str:
        """Return the tenant segment to put in URLs, or refuse an unknown one (AADSTS90002).

        Args:
            tenant: the tenant segment of the request path.
            delegated: whether `organizations`/`common` are allowed (user sign-in flows).
            error: the OAuth error name (`invalid_tenant` on discovery documents).
        """
        if self.is_own_tenant(tenant):
            return self.config.tenant_id
        lowered = tenant.lower()
        if lowered in MULTI_TENANT_ALIASES:
            if delegated:
                return lowered
            raise self._fail(_NO_TENANT)
        raise self._fail(_UNKNOWN_TENANT, error=error, tenant=tenant)

    def jwks(self) -> dict[str, Any]:
        """The JSON Web Key Set that verifies access and ID tokens."""
        numbers = self._signing_key.public_key().public_numbers()
        der = self._signing_cert.public_bytes(serialization.Encoding.DER)
        key = {
            "kty": "RSA",
            "use": "sig",
            "kid": self.key_id,
            "x5t": self.key_id,
            "n": _b64url(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")),
            "e": _b64url(numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big")),
            "x5c": [base64.b64encode(der).decode()],
            "issuer": f"https://login.microsoftonline.com/{self.config.tenant_id}/v2.0",
        }
        return {"keys": [key]}

    def register_certificate(self, cert_pem: str | bytes, thumbprint: str | None = None) -> str:
        """Register a certificate credential of the confidential app, as on its Azure page.

        Args:
            cert_pem: the public certificate, PEM.
            thumbprint: its SHA-1 thumbprint in hex as the portal shows it; checked when given.

        Returns:
            The SHA-1 thumbprint, upper-case hex.

        Raises:
            ValueError: when the thumbprint given is not the certificate's.
        """
        data = cert_pem.encode() if isinstance(cert_pem, str) else cert_pem
        cert = x509.load_pem_x509_certificate(data)
        sha1 = cert.fingerprint(hashes.SHA1()).hex().upper()  # noqa: S303 (thumbprints are SHA-1)
        sha256 = cert.fingerprint(hashes.SHA256()).hex().upper()
        if thumbprint is not None and thumbprint.replace(":", "").upper() != sha1:
            msg = "the thumbprint does not match the certificate's SHA-1 fingerprint"
            raise ValueError(msg)
        with self._lock:
            self._certificates[sha1] = cert
            self._certificates[sha256] = cert
        return sha1

    # --- token endpoint ---------------------------------------------------------------------

    def token(self, tenant: str, form: Mapping[str, str], *, base_url: str) -> dict[str, Any]:
        """Answer a token request: the JSON body of a 200, or raise `EntraError`.

        Args:
            tenant: the tenant segment of the request path.
            form: the form fields of the POST.
            base_url: scheme and authority the client called (`https://127.0.0.1:8443`); client
                assertions must be addressed to this host's token endpoint.
        """
        grant_type = form.get("grant_type")
        if not grant_type:
            raise self._fail(_MISSING, parameter="grant_type")
        handlers: dict[str, Callable[[str, Mapping[str, str], str], dict[str, Any]]] = {
            GRANT_CLIENT_CREDENTIALS: self._client_credentials,
            GRANT_AUTHORIZATION_CODE: self._authorization_code,
            GRANT_REFRESH_TOKEN: self._refresh_token,
            GRANT_DEVICE_CODE: self._device_code,
        }
        handler = handlers.get(grant_type)
        if handler is None:
            raise self._fail(_UNSUPPORTED_GRANT_TYPE, grant_type=grant_type)
        return handler(tenant, form, base_url)

    def _client_credentials(
        self, tenant: str, form: Mapping[str, str], base_url: str
    ) -> dict[str, Any]:
        tenant_id = self.resolve_tenant(tenant, delegated=False)
        client = self._authenticate(form, tenant, base_url, public_allowed=False)
        scope = form.get("scope")
        if not scope:
            raise self._fail(_MISSING, parameter="scope")
        if scope.split() != [f"{BC_RESOURCE}/.default"]:
            self._check_resource(scope.split())
            raise self._fail(_APP_SCOPE, scope=scope)
        now = self._clock()
        claims = {
            "aud": BC_RESOURCE,
            "iss": self.access_token_issuer,
            "iat": int(now),
            "nbf": int(now),
            "exp": int(now) + self.config.access_token_lifetime,
            "app_displayname": "Business Central emulator client",
            "appid": client.client_id,
            "appidacr": client.appidacr,
            "idp": self.access_token_issuer,
            "idtyp": "app",
            "oid": self.config.service_principal_oid,
            "roles": list(APP_ROLES),
            "sub": self.config.service_principal_oid,
            "tid": tenant_id,
            "uti": _b64url(secrets.token_bytes(16)),
            "ver": "1.0",
        }
        self._count(GRANT_CLIENT_CREDENTIALS)
        return {
            "token_type": "Bearer",
            "expires_in": self.config.access_token_lifetime,
            "ext_expires_in": self.config.access_token_lifetime,
            "access_token": self._sign(claims),
        }

    def _authorization_code(
        self, tenant: str, form: Mapping[str, str], base_url: str
    ) -> dict[str, Any]:
        self.resolve_tenant(tenant, delegated=True)
        client = self._authenticate(form, tenant, base_url, public_allowed=True)
        code = form.get("code")
        if not code:
            raise self._fail(_MISSING, parameter="code")
        with self._lock:
            record = self._codes.get(code)
            if record is None or record.client_id != client.client_id:
                raise self._fail(_INVALID_GRANT)
            if record.used:
                raise self._fail(_CODE_REDEEMED)
            if self._clock() >= record.expires_at:
                raise self._fail(_CODE_EXPIRED)
            if form.get("redirect_uri") != record.redirect_uri:
                raise self._fail(_REPLY_MISMATCH)
            _check_pkce(record, form.get("code_verifier"), self._fail)
            record.used = True
        self._count(GRANT_AUTHORIZATION_CODE)
        return self._delegated_response(client, record.scopes, record.nonce)

    def _refresh_token(self, tenant: str, form: Mapping[str, str], base_url: str) -> dict[str, Any]:
        self.resolve_tenant(tenant, delegated=True)
        client = self._authenticate(form, tenant, base_url, public_allowed=True)
        presented = form.get("refresh_token")
        if not presented:
            raise self._fail(_MISSING, parameter="refresh_token")
        requested = form.get("scope")
        with self._lock:
            record = self._refresh_tokens.get(presented)
            if record is None or record.client_id != client.client_id:
                raise self._fail(_INVALID_GRANT)
            if self._clock() >= record.expires_at:
                del self._refresh_tokens[presented]
                issued = dt.datetime.fromtimestamp(record.issued_at, dt.timezone.utc)
                raise self._fail(
                    _REFRESH_EXPIRED,
                    issued=f"{issued:%Y-%m-%dT%H:%M:%S}Z",
                    lifetime=self.config.refresh_token_lifetime,
                )
            scopes = self._parse_delegated_scopes(requested) if requested else record.scopes
            del self._refresh_tokens[presented]  # rotation: the old one stops working
        scopes = _Scopes(scopes.resource, scopes.oidc | {"offline_access"})
        self._count(GRANT_REFRESH_TOKEN)
        return self._delegated_response(client, scopes, None)

    def _device_code(self, tenant: str, form: Mapping[str, str], base_url: str) -> dict[str, Any]:
        self.resolve_tenant(tenant, delegated=True)
        client = self._authenticate(form, tenant, base_url, public_allowed=True)
        device_code = form.get("device_code")
        if not device_code:
            raise self._fail(_MISSING, parameter="device_code")
        with self._lock:
            record = self._device_codes.get(device_code)
            if record is None or record.client_id != client.client_id:
                raise self._fail(_BAD_DEVICE_CODE)
            if self._clock() >= record.expires_at:
                del self._device_codes[device_code]
                raise self._fail(_DEVICE_CODE_EXPIRED)
            record.polls += 1
            if record.polls == 1:  # the emulated user signs in between the first and second poll
                raise self._fail(_AUTHORIZATION_PENDING)
            del self._device_codes[device_code]
        self._count("device_code")
        return self._delegated_response(client, record.scopes, None)

    # --- authorize and device authorization endpoints ---------------------------------------

    def authorize(self, tenant: str, params: Mapping[str, str]) -> AuthorizeRedirect:
        """Sign the one user in and consent at once: where to send the browser back.

        Problems Entra shows on its own error page (unknown tenant or app, a redirect URI that
        is not registered: here any loopback `http`/`https` URI is) raise `EntraError`; the
        others travel back to the client in the redirect, as OAuth prescribes.
        """
        self.resolve_tenant(tenant, delegated=True)
        client_id = params.get("client_id", "")
        if not client_id:
            raise self._fail(_MISSING, parameter="client_id")
        if client_id not in {self.config.client_id, self.config.public_client_id}:
            raise self._fail(_UNKNOWN_APP, client_id=client_id)
        redirect_uri = params.get("redirect_uri", "")
        if not _is_loopback(redirect_uri):
            raise self._fail(_BAD_REDIRECT_URI, redirect_uri=redirect_uri, client_id=client_id)
        response_mode = params.get("response_mode") or "query"
        if response_mode not in {"query", "fragment", "form_post"}:
            response_mode = "query"
        state = {"state": params["state"]} if "state" in params else {}

        def refuse(error: EntraError) -> AuthorizeRedirect:
            reply = {"error": error.error, "error_description": str(error), **state}
            return AuthorizeRedirect(redirect_uri, reply, response_mode)

        if params.get("response_type") != "code":
            return refuse(self._fail(_RESPONSE_TYPE))
        try:
            scopes = self._parse_delegated_scopes(params.get("scope"))
        except EntraError as error:
            return refuse(error)
        challenge = params.get("code_challenge") or None
        method = params.get("code_challenge_method") or "plain"
        if challenge is not None and method not in {"S256", "plain"}:
            return refuse(self._fail(_CODE_CHALLENGE))
        code = _opaque_token()
        record = _AuthorizationCode(
            client_id=client_id,
            redirect_uri=redirect_uri,
            scopes=scopes,
            challenge=challenge,
            challenge_method=method,
            nonce=params.get("nonce") or None,
            expires_at=self._clock() + self.config.authorization_code_lifetime,
        )
        with self._lock:
            self._purge()
            self._codes[code] = record
        return AuthorizeRedirect(redirect_uri, {"code": code, **state}, response_mode)

    def start_device_flow(self, tenant: str, form: Mapping[str, str]) -> dict[str, Any]:
        """Open a device-code sign-in; the emulated user approves it after the first poll."""
        self.resolve_tenant(tenant, delegated=True)
        client_id = form.get("client_id", "")
        if not client_id:
            raise self._fail(_MISSING, parameter="client_id")
        if client_id == self.config.client_id:
            raise self._fail(_MISSING_CREDENTIAL)
        if client_id != self.config.public_client_id:
            raise self._fail(_UNKNOWN_APP, client_id=client_id)
        scopes = self._parse_delegated_scopes(form.get("scope"))
        device_code = _opaque_token()
        user_code = "".join(secrets.choice(_USER_CODE_ALPHABET) for _ in range(9))
        with self._lock:
            self._purge()
            self._device_codes[device_code] = _DeviceCode(
                client_id=client_id,
                scopes=scopes,
                expires_at=self._clock() + self.config.device_code_lifetime,
            )
        return {
            "user_code": user_code,
            "device_code": device_code,
            "verification_uri": DEVICE_VERIFICATION_URI,
            "expires_in": self.config.device_code_lifetime,
            "interval": self.config.device_code_interval,
            "message": (
                f"To sign in, use a web browser to open the page {DEVICE_VERIFICATION_URI} and "
                f"enter the code {user_code} to authenticate."
            ),
        }

    # --- checking access tokens for the API layer --------------------------------------------

    def validate_access_token(self, token: str, tenant_in_path: str | None) -> dict[str, Any]:
        """Check a bearer token the way Business Central does and return its claims.

        Args:
            token: the JWT after `Bearer `.
            tenant_in_path: the tenant segment of the API URL (GUID or domain), or None for
                URLs without one (the token's `tid` then decides).

        Raises:
            AccessTokenError: with the reason (bad signature, expired, wrong audience, ...).
        """
        claims, problem = self._decode_access_token(token)
        if problem is None:
            problem = self._claims_problem(claims, tenant_in_path)
        if problem is not None:
            raise AccessTokenError(*problem)
        return claims

    def _decode_access_token(
        self, token: str
    ) -> tuple[dict[str, Any], tuple[AccessTokenProblem, str] | None]:
        """Verify the signature; the claims, or why they cannot be trusted."""
        malformed: tuple[AccessTokenProblem, str] = ("malformed", "The token is not a valid JWT.")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            return {}, malformed
        if header.get("kid") != self.key_id:
            return {}, ("bad_signature", "The token is signed by an unknown key.")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._signing_key.public_key(),
                algorithms=["RS256"],
                options=_SIGNATURE_ONLY,
            )
        except jwt.InvalidSignatureError:
            return {}, ("bad_signature", "The token signature is invalid.")
        except jwt.PyJWTError:
            return {}, malformed
        return claims, None

    def _claims_problem(
        self, claims: Mapping[str, Any], tenant_in_path: str | None
    ) -> tuple[AccessTokenProblem, str] | None:
        """What Business Central would object to in verified claims, if anything."""
        now, skew = self._clock(), self.config.clock_skew
        exp, nbf, aud = claims.get("exp"), claims.get("nbf"), claims.get("aud")
        if not isinstance(exp, int) or now >= exp + skew:
            return "expired", "The token is expired."
        if isinstance(nbf, int) and now + skew < nbf:
            return "not_yet_valid", "The token is not yet valid."
        if aud not in {BC_RESOURCE, f"{BC_RESOURCE}/"}:
            return "wrong_audience", f"The token audience '{aud}' is not {BC_RESOURCE}."
        if claims.get("tid") != self.config.tenant_id or (
            claims.get("iss") != self.access_token_issuer
        ):
            return "wrong_issuer", "The token was issued by another tenant."
        if tenant_in_path is not None and not self.is_own_tenant(tenant_in_path):
            return "wrong_tenant", f"The token is not valid for tenant '{tenant_in_path}'."
        return None

    # --- helpers ---------------------------------------------------------------------------

    def _authenticate(
        self, form: Mapping[str, str], tenant: str, base_url: str, *, public_allowed: bool
    ) -> _Client:
        """Identify the client: secret, certificate assertion, or a public client with none."""
        client_id = form.get("client_id", "")
        if not client_id:
            raise self._fail(_MISSING, parameter="client_id")
        secret = form.get("client_secret")
        assertion = form.get("client_assertion")
        if client_id == self.config.client_id:
            if secret:
                if not hmac.compare_digest(secret.encode(), self.config.client_secret.encode()):
                    raise self._fail(_BAD_SECRET, client_id=client_id)
                return _Client(client_id, "1")
            if assertion:
                self._verify_assertion(form, assertion, client_id, tenant, base_url)
                return _Client(client_id, "2")
            raise self._fail(_MISSING_CREDENTIAL)
        if client_id == self.config.public_client_id:
            if not public_allowed:
                raise self._fail(_PUBLIC_CLIENT_CREDENTIALS)
            if secret or assertion:
                raise self._fail(_PUBLIC_WITH_CREDENTIAL)
            return _Client(client_id, "0")
        raise self._fail(_UNKNOWN_APP, client_id=client_id)

    def _verify_assertion(
        self, form: Mapping[str, str], assertion: str, client_id: str, tenant: str, base_url: str
    ) -> None:
        """Check a certificate-signed client assertion (RFC 7523) against registered certs."""
        if form.get("client_assertion_type") != CLIENT_ASSERTION_TYPE_JWT:
            raise self._fail(_ASSERTION_TYPE)
        try:
            header = jwt.get_unverified_header(assertion)
        except jwt.PyJWTError as exc:
            raise self._fail(_ASSERTION_MALFORMED) from exc
        thumbprint = _thumbprint_of(header)
        with self._lock:
            cert = self._certificates.get(thumbprint) if thumbprint else None
        if cert is None:
            raise self._fail(_ASSERTION_KEY, thumbprint=thumbprint)
        try:
            claims: dict[str, Any] = jwt.decode(
                assertion,
                cert.public_key(),  # type: ignore[arg-type]
                algorithms=_ASSERTION_ALGORITHMS,
                options=_SIGNATURE_ONLY,
            )
        except jwt.PyJWTError as exc:
            raise self._fail(_ASSERTION_SIGNATURE) from exc
        now, skew = self._clock(), self.config.clock_skew
        exp = claims.get("exp")
        if not isinstance(exp, (int, float)) or now >= exp + skew:
            raise self._fail(_ASSERTION_TIME)
        if claims.get("iss") != client_id or claims.get("sub") != client_id:
            raise self._fail(_ASSERTION_ISSUER)
        audiences = self._token_endpoints(base_url, tenant)
        aud = claims.get("aud")
        presented = aud if isinstance(aud, list) else [aud]
        if not any(isinstance(value, str) and value in audiences for value in presented):
            raise self._fail(_ASSERTION_AUDIENCE)

    def _token_endpoints(self, base_url: str, tenant: str) -> frozenset[str]:
        """The URLs a client assertion may be addressed to (v1 and v2, any tenant spelling)."""
        base = base_url.rstrip("/")
        names = {tenant, self.config.tenant_id, self.config.tenant_domain}
        paths = ("oauth2/v2.0/token", "oauth2/token")
        return frozenset(f"{base}/{name}/{path}" for name in names for path in paths)

    def _parse_delegated_scopes(self, raw: str | None) -> _Scopes:
        """Split a delegated `scope`: Business Central permissions plus OpenID Connect scopes."""
        words = (raw or "").split()
        oidc = frozenset(word.lower() for word in words if word.lower() in OIDC_SCOPES)
        rest = [word for word in words if word.lower() not in OIDC_SCOPES]
        self._check_resource(rest)
        allowed = {f"{BC_RESOURCE}/{name}".lower() for name in (".default", *DELEGATED_PERMISSIONS)}
        bad = [word for word in rest if word.lower() not in allowed]
        if bad or not rest:
            shown = bad[0] if bad else (raw or "")
            raise self._fail(_DELEGATED_SCOPE, scope=shown)
        return _Scopes(tuple(rest), oidc)

    def _check_resource(self, words: Iterable[str]) -> None:
        """Refuse a scope of another resource: this tenant knows only Business Central."""
        for word in words:
            if "://" in word and not word.lower().startswith(f"{BC_RESOURCE}/"):
                resource = word.rsplit("/", 1)[0]
                raise self._fail(_UNKNOWN_RESOURCE, resource=resource)

    def _delegated_response(
        self, client: _Client, scopes: _Scopes, nonce: str | None
    ) -> dict[str, Any]:
        """Build the token response of a user sign-in (access, refresh and ID token)."""
        now = self._clock()
        config = self.config
        claims = {
            "aud": BC_RESOURCE,
            "iss": self.access_token_issuer,
            "iat": int(now),
            "nbf": int(now),
            "exp": int(now) + config.access_token_lifetime,
            "acr": "1",
            "amr": ["pwd"],
            "appid": client.client_id,
            "appidacr": client.appidacr,
            "idtyp": "user",
            "name": config.user_display_name,
            "oid": config.user_oid,
            "scp": " ".join(DELEGATED_PERMISSIONS),
            "sub": self._pairwise_subject(client.client_id),
            "tid": config.tenant_id,
            "unique_name": config.user_principal_name,
            "upn": config.user_principal_name,
            "uti": _b64url(secrets.token_bytes(16)),
            "ver": "1.0",
        }
        body: dict[str, Any] = {
            "token_type": "Bearer",
            "scope": scopes.granted(),
            "expires_in": config.access_token_lifetime,
            "ext_expires_in": config.access_token_lifetime,
            "access_token": self._sign(claims),
        }
        if scopes.offline:
            refresh_token = _opaque_token()
            with self._lock:
                self._refresh_tokens[refresh_token] = _RefreshToken(
                    client_id=client.client_id,
                    scopes=scopes,
                    issued_at=now,
                    expires_at=now + config.refresh_token_lifetime,
                )
            body["refresh_token"] = refresh_token
        if scopes.openid:
            body["id_token"] = self._id_token(client.client_id, nonce, now)
        client_info = {"uid": config.user_oid, "utid": config.tenant_id}
        body["client_info"] = _b64url(json.dumps(client_info, separators=(",", ":")).encode())
        return body

    def _id_token(self, client_id: str, nonce: str | None, now: float) -> str:
        config = self.config
        claims: dict[str, Any] = {
            "aud": client_id,
            "iss": self.id_token_issuer,
            "iat": int(now),
            "nbf": int(now),
            "exp": int(now) + 3600,
            "name": config.user_display_name,
            "oid": config.user_oid,
            "preferred_username": config.user_principal_name,
            "sub": self._pairwise_subject(client_id),
            "tid": config.tenant_id,
            "uti": _b64url(secrets.token_bytes(16)),
            "ver": "2.0",
        }
        if nonce is not None:
            claims["nonce"] = nonce
        return self._sign(claims)

    def _pairwise_subject(self, client_id: str) -> str:
        """The `sub` Entra gives a user: stable per user and app, different across apps."""
        digest = hashlib.sha256(f"{self.config.user_oid}:{client_id}".encode()).digest()
        return _b64url(digest)

    def _sign(self, claims: Mapping[str, Any]) -> str:
        headers = {"typ": "JWT", "kid": self.key_id, "x5t": self.key_id}
        return jwt.encode(dict(claims), self._signing_key, algorithm="RS256", headers=headers)

    def _count(self, grant: str) -> None:
        with self._lock:
            self.tokens_issued[grant] = self.tokens_issued.get(grant, 0) + 1

    def _fail(
        self, refusal_kind: _Refusal, *, error: str | None = None, **details: object
    ) -> EntraError:
        """Build a refusal from its kind, count it, and hand it back for raising."""
        status, name, code, template = refusal_kind
        refusal = EntraError(
            status,
            error or name,
            code,
            template.format(domain=self.config.tenant_domain, **details),
        )
        with self._lock:
            self.errors[refusal.error] = self.errors.get(refusal.error, 0) + 1
        return refusal

    def _purge(self) -> None:
        """Forget expired codes so memory stays bounded (call with the lock held)."""
        now = self._clock()
        for code in [code for code, rec in self._codes.items() if now >= rec.expires_at]:
            del self._codes[code]
        for code in [code for code, rec in self._device_codes.items() if now >= rec.expires_at]:
            del self._device_codes[code]


def _check_pkce(
    record: _AuthorizationCode, verifier: str | None, fail: Callable[[_Refusal], EntraError]
) -> None:
    """Prove the redeemer is who asked for the code (RFC 7636, S256 or plain)."""
    if record.challenge is None:
        return
    if not verifier:
        raise fail(_PKCE_MISSING)
    if record.challenge_method == "S256":
        expected = _b64url(hashlib.sha256(verifier.encode("ascii", "replace")).digest())
    else:
        expected = verifier
    if not hmac.compare_digest(expected.encode(), record.challenge.encode()):
        raise fail(_PKCE_MISMATCH)


def _thumbprint_of(header: Mapping[str, Any]) -> str | None:
    """The certificate thumbprint (upper-case hex) named by an assertion's JOSE header."""
    for name in ("x5t#S256", "x5t"):
        value = header.get(name)
        if isinstance(value, str) and value:
            try:
                return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).hex().upper()
            except ValueError:
                return None
    kid = header.get("kid")
    return kid.upper() if isinstance(kid, str) and kid else None


def _is_loopback(uri: str) -> bool:
    """Whether a redirect URI points back at this machine over http or https."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        return False
    return parts.scheme in {"http", "https"} and parts.hostname in _LOOPBACK_HOSTS


def _opaque_token() -> str:
    """A random credential shaped like Entra's opaque codes and refresh tokens."""
    return f"1.A{secrets.token_urlsafe(96)}"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _self_signed(key: rsa.RSAPrivateKey, common_name: str) -> x509.Certificate:
    """The certificate published in the JWKS `x5c`, as Entra does for its signing keys."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.timezone.utc)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
