"""Sign-in: Microsoft Entra ID through msal (client credentials, refresh token) and Basic.

- Client credentials use a client secret or a certificate (PEM private key + thumbprint).
- The delegated flow starts from a refresh token or from the token cache ``bc-login`` wrote; msal's
  ``SerializableTokenCache`` persisted at ``token_cache_path`` keeps the rotated refresh token.
- Tokens are renewed before they expire and once more after BC answers 401.
- msal remembers a failed token response and replays it (5xx: 5 s, 429: Retry-After, 400: 60 s)
  instead of asking again. We own that memory (``http_cache``): after a transient failure we wait
  ourselves, honouring Retry-After, then forget the replay so the retry really reaches Entra.
- The tenant GUID is read from the token's ``tid`` claim when the user gave a domain.
- Nothing here logs or raises a secret or a token; msal errors keep their AADSTS code and text.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import logging
import random
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import msal
import requests

from businesscentral_api.connection import QUICK_ATTEMPTS, QUICK_DELAY, classify, timeouts
from businesscentral_api.errors import (
    AuthenticationError,
    ConfigurationError,
    ConnectionFailedError,
)
from businesscentral_api.redact import redact
from businesscentral_api.settings import require_safe_transport
from businesscentral_api.tokencache import PersistentTokenCache

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from businesscentral_api.settings import Settings

__all__ = [
    "BC_SCOPE",
    "BasicCredential",
    "EntraCredential",
    "MsalTransport",
    "build_credential",
    "tenant_from_token",
]

LOGGER = logging.getLogger("businesscentral_api.auth")
BC_SCOPE = "https://api.businesscentral.dynamics.com/.default"
_TRANSIENT_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_TRANSIENT_ERRORS = frozenset({"temporarily_unavailable", "server_error"})
_MAX_RENEW_MARGIN = 300.0  # msal itself treats a token with under 5 minutes left as expired
_PEM_BLOCK = re.compile(r"-----BEGIN ([A-Z ]+)-----.+?-----END \1-----", re.DOTALL)
_FIRST_ERROR_STATUS = 400
_MAX_DETAIL = 300  # characters of a sign-in service's own words kept in a message


class MsalTransport:
    """The HTTP client msal uses: our session, our CA bundle and timeout on every call.

    msal's own session reads ``verify`` from the session, which ``REQUESTS_CA_BUNDLE`` silently
    overrides; passing ``verify=`` per request makes the ``ca_bundle`` setting always win.
    It also records the status of the last token response, which msal does not report, and
    hands msal only token answers it can parse: an error that is not an OAuth JSON error (a
    gateway's page, an empty 429, BC-shaped JSON) becomes one (RFC 6749 section 5.2), because msal
    otherwise raises a bare ``ValueError``, or keeps a non-string ``error`` that crashes its
    telemetry with a ``TypeError`` on the next attempt.
    """

    def __init__(self, session: requests.Session, *, verify: bool | str, timeout: float) -> None:
        """Use ``session`` (shared, keep-alive) with an explicit ``verify`` and ``timeout``."""
        self._session = session
        self._verify = verify
        self._timeout = timeout
        self._local = threading.local()
        self.reached: set[str] = set()  # hosts that answered at least once in this run

    @property
    def last_status(self) -> int | None:
        """Status of this thread's last response, None if none since :meth:`reset`."""
        return getattr(self._local, "status", None)

    @property
    def last_error(self) -> str | None:
        """This thread's last error answer in one line (msal drops a 5xx body unread)."""
        return getattr(self._local, "error", None)

    @property
    def last_retry_after(self) -> float | None:
        """``Retry-After`` seconds of this thread's last response, if any."""
        return getattr(self._local, "retry_after", None)

    def reset(self) -> None:
        """Forget the last response before a new acquisition."""
        self._local.status = None
        self._local.retry_after = None
        self._local.error = None

    def post(self, url: str, **kwargs: Any) -> requests.Response:  # noqa: ANN401
        """POST for msal (token endpoint)."""
        return self._send("POST", url, kwargs)

    def get(self, url: str, **kwargs: Any) -> requests.Response:  # noqa: ANN401
        """GET for msal (OpenID discovery)."""
        return self._send("GET", url, kwargs)

    def close(self) -> None:
        """The session belongs to the client; msal must not close it."""

    def _send(self, method: str, url: str, kwargs: dict[str, Any]) -> requests.Response:
        require_safe_transport(url, "authority_url")
        kwargs.pop("verify", None)
        kwargs.pop("timeout", None)
        response = self._session.request(
            method,
            url,
            verify=self._verify,
            timeout=timeouts(self._timeout),
            **kwargs,
        )
        self.reached.add(urlsplit(url).netloc)
        self._local.status = response.status_code
        retry_after = response.headers.get("Retry-After", "")
        self._local.retry_after = float(retry_after) if retry_after.strip().isdigit() else None
        if method == "POST":
            replacement = _oauth_error_body(response)
            if replacement is not None:
                response = _with_body(response, replacement)
            if response.status_code >= _FIRST_ERROR_STATUS:
                with contextlib.suppress(ValueError):
                    self._local.error = describe_msal_error(response.json())
        return response


@dataclass
class _Token:
    header: str
    renew_at: float
    tenant: str | None


class BasicCredential:
    """On-premises Basic auth: user name and web service access key."""

    def __init__(self, username: str, password: str) -> None:
        """Encode the header once; the parts are not kept."""
        raw = f"{username}:{password}".encode()
        self._header = "Basic " + base64.b64encode(raw).decode("ascii")

    def authorization(self) -> str:
        """The Basic header."""
        return self._header

    def invalidate(self, authorization: str) -> bool:
        """Nothing to renew: a 401 means the user name or key is wrong."""
        del authorization
        return False

    @property
    def refusal_advice(self) -> str:
        """What to check when BC answers 401 to these credentials."""
        return (
            "check username and password (the user's web service access key) and that the user "
            "may use web services on that server instance"
        )

    @property
    def tenant_guid(self) -> str | None:
        """On-premises has no Entra tenant."""
        return None

    def __repr__(self) -> str:
        """Never show the header."""
        return "BasicCredential(***)"


class EntraCredential:
    """Bearer tokens from Microsoft Entra ID via msal, renewed before expiry and after a 401."""

    def __init__(  # noqa: PLR0913 - everything injectable for tests
        self,
        settings: Settings,
        transport: MsalTransport,
        *,
        max_attempts: int = 5,
        max_total_seconds: float = 120.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        rng: Callable[[], float] = random.random,
    ) -> None:
        """Prepare sign-in; msal is contacted on the first :meth:`authorization` call."""
        if not settings.tenant_id or not settings.client_id:
            msg = "Setting tenant_id and client_id are required for Microsoft Entra sign-in."
            raise ConfigurationError(msg)
        self._settings = settings
        self._transport = transport
        self._max_attempts = max_attempts
        self._max_total_seconds = max_total_seconds
        self._clock = clock
        self._sleep = sleep
        self._rng = rng
        self._lock = threading.RLock()
        self._token: _Token | None = None
        self._app: msal.ClientApplication | None = None
        self._http_cache: dict[str, Any] = {}
        self._delegated = settings.auth_type == "refresh_token"
        self._cache: msal.TokenCache = (
            PersistentTokenCache(settings.token_cache_path)
            if self._delegated and settings.token_cache_path
            else msal.TokenCache()
        )
        self._secrets = settings.secrets
        # Read and check the certificate now: a file without a usable key is a setting to fix,
        # not a sign-in failure to retry.
        self._client_credential = _client_credential(settings)
        self.tokens_acquired = 0

    def __repr__(self) -> str:
        """Name the flow and tenant, never a secret or token."""
        settings = self._settings
        return f"EntraCredential(auth_type={settings.auth_type!r}, tenant={settings.tenant_id!r})"

    @property
    def refusal_advice(self) -> str:
        """What to check when BC refuses a token Entra issued (BC answers 401 twice)."""
        client = self._settings.client_id
        if self._delegated:
            return (
                "check that the signed-in user has a Business Central license and access to "
                f"environment {self._settings.environment_name!r}, and that app {client} has the "
                "delegated permission Financials.ReadWrite.All with consent"
            )
        return (
            f"check that app {client} is registered on Business Central's Microsoft Entra "
            "Applications page (with permission sets, state Enabled) in environment "
            f"{self._settings.environment_name!r}, and that its API permission "
            "API.ReadWrite.All (Dynamics 365 Business Central) has admin consent"
        )

    @property
    def tenant_guid(self) -> str | None:
        """The tenant GUID from the token's ``tid`` (signs in if needed)."""
        self.authorization()
        return self._token.tenant if self._token else None

    def authorization(self) -> str:
        """A ``Bearer`` header, renewed when the token is near its end.

        Raises:
            AuthenticationError: Entra refused the sign-in (with AADSTS code and description).
        """
        with self._lock:
            token = self._token
            if token is None or self._clock() >= token.renew_at:
                self._token = token = self._acquire()
            return token.header

    def invalidate(self, authorization: str) -> bool:
        """BC answered 401 to this header: drop the token everywhere so the next one is new."""
        with self._lock:
            if self._token is not None and self._token.header == authorization:
                self._token = None
            secret = authorization.removeprefix("Bearer ")
            stale = [
                entry
                for entry in self._cache.search(msal.TokenCache.CredentialType.ACCESS_TOKEN)
                if entry.get("secret") == secret
            ]
            for entry in stale:
                self._cache.remove_at(entry)
            return True

    def _acquire(self) -> _Token:  # noqa: C901 - one decision per way sign-in can fail
        started = self._clock()
        attempt = 0
        while True:
            attempt += 1
            self._transport.reset()
            quick = False
            try:
                result = self._call_msal()
            except requests.RequestException as exc:
                problem = classify(exc)
                host = urlsplit(self._settings.authority_url).netloc
                detail = problem.explain(
                    host, url_setting="authority_url", ca_bundle=self._settings.ca_bundle
                )
                if problem.kind == "tls":
                    raise ConnectionFailedError(redact(f"sign-in failed: {detail}")) from None
                transient = True
                if problem.kind != "transient" and host not in self._transport.reached:
                    if attempt >= QUICK_ATTEMPTS:
                        raise ConnectionFailedError(redact(f"sign-in failed: {detail}")) from None
                    quick = True
            except msal.exceptions.MsalServiceError:  # msal raises for any 5xx
                transient, detail = True, self._status_detail()
            except ValueError as exc:  # msal: OpenID discovery failed (any 4xx), or a bad answer
                status = self._transport.last_status
                transient = status in _TRANSIENT_STATUSES
                first_line = next(iter(str(exc).strip().splitlines()), "")[:_MAX_DETAIL]
                detail = (
                    f"the sign-in service at {self._settings.authority_url} answered HTTP "
                    f"{status} ({first_line}); check authority_url and tenant_id"
                    if status is not None
                    else f"the sign-in could not be prepared ({first_line})"
                )
            else:
                if result and "access_token" in result:
                    return self._remember(result)
                transient = self._is_transient(result)
                detail = describe_msal_error(result)
                status = self._transport.last_status
                if transient and status is not None and f"HTTP {status}" not in detail:
                    detail = f"HTTP {status}, {detail}"
            delay = (
                QUICK_DELAY if quick else self._transport.last_retry_after or self._backoff(attempt)
            )
            elapsed = self._clock() - started
            if not transient:
                raise AuthenticationError(redact(f"sign-in failed: {detail}", self._secrets))
            if attempt >= self._max_attempts or elapsed + delay > self._max_total_seconds:
                msg = (
                    f"sign-in failed {attempt} times in {elapsed:.0f}s, the sign-in service "
                    f"({self._settings.authority_url}) is unavailable or throttling; last "
                    f"answer: {detail}; try again later"
                )
                raise AuthenticationError(redact(msg, self._secrets))
            LOGGER.warning(
                "Sign-in failed transiently (%s); retry %d in %.1fs",
                redact(detail, self._secrets),
                attempt,
                delay,
            )
            self._sleep(delay)
            # msal would replay the failure it remembered; we waited as asked, so forget it.
            self._http_cache.clear()

    def _status_detail(self) -> str:
        status = self._transport.last_status
        if status is None:
            return "no answer"
        said = self._transport.last_error
        return f"HTTP {status}, {said}" if said else f"HTTP {status} from the sign-in service"

    def _backoff(self, attempt: int) -> float:
        ceiling = min(30.0, 2.0 ** (attempt - 1))
        return ceiling / 2 + self._rng() * ceiling / 2

    def _is_transient(self, result: Mapping[str, Any] | None) -> bool:
        if not result:
            return True
        if self._transport.last_status in _TRANSIENT_STATUSES:
            return True
        return result.get("error") in _TRANSIENT_ERRORS

    def _call_msal(self) -> dict[str, Any] | None:
        app = self._application()
        if not self._delegated:
            result: dict[str, Any] | None = app.acquire_token_for_client(scopes=[BC_SCOPE])
            return result
        accounts = app.get_accounts()
        if accounts:
            result = app.acquire_token_silent_with_error([BC_SCOPE], account=accounts[0])
            if result is not None and "access_token" in result:
                self._save_cache()
                return result
            if not self._settings.refresh_token:
                self._save_cache()
                return result or {
                    "error": "interaction_required",
                    "error_description": "the token cache has no usable refresh token; "
                    "run bc-login again",
                }
        if not self._settings.refresh_token:
            return {
                "error": "no_refresh_token",
                "error_description": "token_cache_path holds no account; run bc-login to sign in",
            }
        result = app.acquire_token_by_refresh_token(self._settings.refresh_token, scopes=[BC_SCOPE])
        self._save_cache()
        return result

    def _save_cache(self) -> None:
        if isinstance(self._cache, PersistentTokenCache):
            self._cache.save_if_changed()

    def _application(self) -> msal.ClientApplication:
        if self._app is not None:
            return self._app
        settings = self._settings
        common: dict[str, Any] = {
            "authority": f"{settings.authority_url}/{settings.tenant_id}",
            "http_client": self._transport,
            # Ignored when http_client is given, which applies ca_bundle itself; kept explicit.
            "verify": settings.ca_bundle or True,
            "timeout": settings.request_timeout,
            "token_cache": self._cache,
            "http_cache": self._http_cache,
            # Only Microsoft's own hosts are known to its instance discovery; any other
            # authority_url (a sovereign cloud's, the emulator's) is taken as given.
            "instance_discovery": False,
        }
        credential = self._client_credential
        if credential is None:
            self._app = msal.PublicClientApplication(settings.client_id, **common)
        else:
            self._app = msal.ConfidentialClientApplication(
                settings.client_id,
                client_credential=credential,
                **common,
            )
        return self._app

    def _remember(self, result: Mapping[str, Any]) -> _Token:
        self.tokens_acquired += 1
        access_token = str(result["access_token"])
        lifetime = float(result.get("expires_in") or 3600)
        margin = min(_MAX_RENEW_MARGIN, lifetime / 2)
        claims = result.get("id_token_claims") or {}
        tenant = tenant_from_token(access_token) or claims.get("tid")
        LOGGER.debug("Signed in; token valid for %.0fs", lifetime)
        return _Token(f"Bearer {access_token}", self._clock() + lifetime - margin, tenant)


def _client_credential(settings: Settings) -> str | dict[str, str] | None:
    if settings.client_secret:
        return settings.client_secret
    if not settings.client_certificate_path:
        return None
    path = settings.client_certificate_path
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        msg = f"Setting client_certificate_path names {path}, which cannot be read as PEM ({exc})."
        raise ConfigurationError(msg) from None
    blocks = {m.group(1): m.group(0) for m in _PEM_BLOCK.finditer(text)}
    key = next((v for k, v in blocks.items() if k.endswith("PRIVATE KEY")), None)
    if key is None:
        msg = "Setting client_certificate_path names a PEM file without a private key."
        raise ConfigurationError(msg)
    _check_private_key(key)
    credential = {"private_key": key}
    if settings.client_certificate_thumbprint:
        credential["thumbprint"] = settings.client_certificate_thumbprint.replace(":", "")
    elif "CERTIFICATE" in blocks:
        credential["public_certificate"] = blocks["CERTIFICATE"]
    else:
        msg = (
            "Setting client_certificate_thumbprint is required when the PEM file at "
            "client_certificate_path holds no certificate."
        )
        raise ConfigurationError(msg)
    return credential


def _check_private_key(pem: str) -> None:
    """Load the key as msal will (through ``cryptography``, which msal requires) to fail early."""
    from cryptography.hazmat.primitives.serialization import (  # noqa: PLC0415 - msal's own dep
        load_pem_private_key,
    )

    try:
        load_pem_private_key(pem.encode("ascii", "replace"), password=None)
    except TypeError:
        msg = (
            "Setting client_certificate_path names a PEM file whose private key is encrypted; "
            "use an unencrypted key."
        )
        raise ConfigurationError(msg) from None
    except ValueError:
        msg = (
            "Setting client_certificate_path names a PEM file whose private key cannot be read "
            "(damaged or not a supported key type)."
        )
        raise ConfigurationError(msg) from None


def _oauth_error_body(response: requests.Response) -> bytes | None:
    """An OAuth error body to give msal instead of an answer it cannot use; None if usable.

    Usable: a 2xx JSON object, or an error whose JSON has a string ``error`` (Entra's shape).
    Anything else keeps its status (so 408, 429 and 5xx stay transient) and gets an OAuth error
    whose description says what really came back, in one line.
    """
    status = response.status_code
    try:
        document = json.loads(response.content) if response.content else None
    except ValueError:
        document = None
    if isinstance(document, dict) and (
        200 <= status < 300 or isinstance(document.get("error"), str)  # noqa: PLR2004
    ):
        return None
    said = _first_words(document, response)
    description = f"the sign-in service answered HTTP {status} {response.reason or ''}".rstrip()
    description += f" without an OAuth error ({said})" if said else " with no body"
    transient = status in _TRANSIENT_STATUSES or status < _FIRST_ERROR_STATUS
    error = "temporarily_unavailable" if transient else "invalid_response"
    return json.dumps({"error": error, "error_description": description}).encode()


def _first_words(document: object, response: requests.Response) -> str:
    """BC-shaped ``{"error": {"code", "message"}}`` or the first line of text, shortened."""
    if isinstance(document, dict) and isinstance(document.get("error"), dict):
        inner = document["error"]
        said = ": ".join(str(inner[k]) for k in ("code", "message") if inner.get(k))
    else:
        said = next(iter(response.text.strip().splitlines()), "")
    return " ".join(said.split())[:_MAX_DETAIL]


def _with_body(response: requests.Response, body: bytes) -> requests.Response:
    """A copy of ``response`` (status, headers) with another body."""
    replaced = requests.Response()
    replaced.status_code = response.status_code
    replaced.headers = response.headers
    replaced.reason = response.reason
    replaced.url = response.url
    replaced.encoding = "utf-8"
    replaced._content = body  # noqa: SLF001 - the documented way to build a Response
    return replaced


def describe_msal_error(result: Mapping[str, Any] | None) -> str:
    """One line from an msal error result: error, AADSTS codes and description, nothing secret."""
    if not result:
        return "no answer from the sign-in service"
    error = str(result.get("error") or "unknown_error")
    codes = result.get("error_codes") or []
    description = " ".join(str(result.get("error_description") or "").split())
    label = error
    if codes and not any(f"AADSTS{c}" in description for c in codes):
        label += " (" + ", ".join(f"AADSTS{c}" for c in codes) + ")"
    return f"{label}: {description}" if description else label


def tenant_from_token(access_token: str) -> str | None:
    """The ``tid`` claim of a JWT access token, unverified (only used to name the tenant)."""
    parts = access_token.split(".")
    if len(parts) < 2:  # noqa: PLR2004
        return None
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except (binascii.Error, ValueError):
        return None
    tid = claims.get("tid") if isinstance(claims, dict) else None
    return tid if isinstance(tid, str) else None


def build_credential(
    settings: Settings,
    session: requests.Session,
    **kwargs: Any,  # noqa: ANN401
) -> EntraCredential | BasicCredential:
    """The credential the settings ask for: Basic for on-premises, msal otherwise."""
    if settings.auth_type == "basic":
        if not settings.username or not settings.password:
            msg = "Setting username and password are required when auth_type is basic."
            raise ConfigurationError(msg)
        return BasicCredential(settings.username, settings.password)
    transport = MsalTransport(
        session,
        verify=settings.ca_bundle or True,
        timeout=min(settings.request_timeout, 120.0),
    )
    return EntraCredential(settings, transport, **kwargs)
