"""The one object the tap and the target build: ``BusinessCentralClient(config)``.

It owns the process's HTTP session (keep-alive, shared by threads), the credential, the URL
builder, the rate limiter and the cached ``$metadata`` models, so every request of a run goes
through the same limits and the same sign-in.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

from typing_extensions import Self

from businesscentral_api.auth import BasicCredential, EntraCredential, build_credential
from businesscentral_api.companies import Company, resolve_companies
from businesscentral_api.http import HttpClient, HttpResponse, RetryPolicy, new_session
from businesscentral_api.metadata import ServiceModel, parse_edmx
from businesscentral_api.odata import STANDARD_API, ApiRoute, NextLinks, UrlBuilder, with_query
from businesscentral_api.ratelimit import FIVE_MINUTES, RateLimiter
from businesscentral_api.redact import SecretFilter
from businesscentral_api.settings import Settings

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping
    from types import TracebackType

    import requests

__all__ = ["BusinessCentralClient"]

LOGGER = logging.getLogger("businesscentral_api")
MAX_PAGE_SIZE = 20000
_LOGGERS = (
    "businesscentral_api",
    "businesscentral_api.auth",
    "businesscentral_api.http",
    "businesscentral_api.companies",
)


class BusinessCentralClient:
    """Session, sign-in, URLs, limits and metadata for one BC environment (or on-premises API)."""

    def __init__(
        self,
        config: Mapping[str, Any] | Settings,
        *,
        session: requests.Session | None = None,
        limiter: RateLimiter | None = None,
        retry_policy: RetryPolicy | None = None,
        window_seconds: float = FIVE_MINUTES,
        **http_options: Any,  # noqa: ANN401 - sleep/clock/rng for tests
    ) -> None:
        """Validate the settings and prepare everything; no request is sent yet.

        Args:
            config: The tap's or target's config (or prepared :class:`Settings`).
            session: A session to share; a new keep-alive session by default.
            limiter: A limiter to share; one from the settings by default.
            retry_policy: Retry bounds; defaults suit BC online.
            window_seconds: Rate-limit window (5 minutes; shorter only in tests).
            http_options: ``sleep``, ``clock``, ``rng`` overrides for the HTTP client.

        Raises:
            ConfigurationError: A setting is wrong; the message names it.
        """
        self.settings = config if isinstance(config, Settings) else Settings.from_config(config)
        settings = self.settings
        self._owns_session = session is None
        self.session = session or new_session(pool_size=settings.max_concurrency * 2)
        self.limiter = limiter or RateLimiter(
            settings.requests_per_5_minutes,
            window_seconds,
            settings.max_concurrency,
        )
        self.credential: EntraCredential | BasicCredential = build_credential(
            settings, self.session
        )
        self.urls = UrlBuilder(
            api_url=settings.api_url,
            tenant=settings.tenant_id,
            environment=settings.environment_name,
            base_url=settings.base_url,
        )
        self.http = HttpClient(
            self.session,
            self.credential,
            limiter=self.limiter,
            policy=retry_policy,
            timeout=settings.request_timeout,
            verify=settings.ca_bundle or True,
            **http_options,
        )
        self._metadata: dict[ApiRoute, ServiceModel] = {}
        self._metadata_lock = threading.Lock()
        _install_secret_filter(settings.secrets)

    def __repr__(self) -> str:
        """Describe the target without any secret."""
        auth_type = self.settings.auth_type
        return f"BusinessCentralClient({self.urls.api_root()!r}, auth_type={auth_type!r})"

    def __enter__(self) -> Self:
        """Use as a context manager so the session is closed."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Close the session."""
        self.close()

    def close(self) -> None:
        """Close the HTTP session (if this client created it)."""
        if self._owns_session:
            self.session.close()

    @property
    def tenant_guid(self) -> str | None:
        """The tenant GUID (``tid`` of the token), also when ``tenant_id`` is a domain."""
        return self.credential.tenant_guid

    def get_json(self, url: str, params: Mapping[str, object] | None = None) -> Any:  # noqa: ANN401
        """GET a JSON document (decimals exact), with retries and limits."""
        return self.http.get_json(with_query(url, params))

    def request(  # noqa: PLR0913 - the parts of a request
        self,
        method: str,
        url: str,
        *,
        json_body: object = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, object] | None = None,
        idempotent: bool | None = None,
        cost: int = 1,
    ) -> HttpResponse:
        """Send any request (writes included); see :meth:`HttpClient.request` for retry rules."""
        return self.http.request(
            method,
            with_query(url, params),
            json_body=json_body,
            headers=headers,
            idempotent=idempotent,
            cost=cost,
        )

    def iter_pages(
        self,
        url: str,
        params: Mapping[str, object] | None = None,
        page_size: int | None = None,
    ) -> Iterator[list[dict[str, Any]]]:
        """Yield each page's ``value`` list, following ``@odata.nextLink`` until the end.

        The next link is opaque (``$skiptoken``, sometimes ``aid=``) and already carries the query,
        so it is requested as given, with none of ``params`` sent again.
        ``page_size`` asks BC for pages of that many (``Prefer: odata.maxpagesize``, at most 20000).
        Links are followed by the :class:`NextLinks` rule (same service, forward, not endless).

        Raises:
            PagingError: A next link that the rule refuses.
        """
        headers = {}
        if page_size:
            headers["Prefer"] = f"odata.maxpagesize={min(page_size, MAX_PAGE_SIZE)}"
        first = with_query(url, params)
        links = self.next_links(first)
        next_url: str | None = first
        while next_url:
            document = self.http.get_json(next_url, headers=headers)
            yield list(document.get("value") or [])
            next_url = links.follow(document)

    def next_links(self, first_url: str, what: str | None = None) -> NextLinks:
        """The paging rule for a read starting at ``first_url`` of this client's service."""
        return NextLinks(first_url, self.urls.service_root, what)

    def metadata(self, api: ApiRoute | str = STANDARD_API) -> ServiceModel:
        """The entity model of one API (``v2.0`` or ``publisher/group/version``), fetched once."""
        route = api if isinstance(api, ApiRoute) else ApiRoute.parse(api)
        with self._metadata_lock:
            model = self._metadata.get(route)
            if model is None:
                response = self.http.request(
                    "GET",
                    self.urls.metadata_url(route),
                    headers={"Accept": "application/xml"},
                )
                model = self._metadata[route] = parse_edmx(response.content)
            return model

    def companies(self, *, probe: bool = True) -> list[Company]:
        """The companies to work on, from the ``company_ids`` setting (ids or names) or all."""
        return resolve_companies(self, self.settings.company_ids, probe=probe)


def _install_secret_filter(secrets: tuple[str, ...]) -> None:
    """Scrub this run's secrets from every record of our loggers, as a last line of defence."""
    if not secrets:
        return
    # A logger's filters see only its own records, not its children's: install on each.
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        for existing in logger.filters:
            if isinstance(existing, SecretFilter):
                existing.secrets = tuple(dict.fromkeys(existing.secrets + secrets))
                break
        else:
            logger.addFilter(SecretFilter(secrets))
