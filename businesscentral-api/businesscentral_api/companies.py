"""Company and environment discovery.

Users name companies by id or by name (``company_ids``); BC addresses them by id. Discovery lists
the companies, resolves the names, and probes each chosen company once: a company listed to the
principal but not open to it (no permission set there) is skipped with a warning rather than
failing the whole run.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from businesscentral_api.errors import BusinessCentralError, ConfigurationError
from businesscentral_api.odata import STANDARD_API, ApiRoute, with_query

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from businesscentral_api.client import BusinessCentralClient

__all__ = ["Company", "Environment", "list_companies", "list_environments", "resolve_companies"]

LOGGER = logging.getLogger("businesscentral_api.companies")
# Statuses and codes with which BC says "this principal cannot open that company".
_NO_ACCESS_STATUSES = frozenset({401, 403, 404})
_NO_ACCESS_CODES = frozenset({"Internal_CompanyNotFound", "Authorization_Failed"})
PROBE_ENTITY_SET = "companyInformation"


@dataclass(frozen=True)
class Company:
    """A BC company: its id (GUID), name and display name."""

    id: str
    name: str
    display_name: str = ""


@dataclass(frozen=True)
class Environment:
    """A BC online environment of the tenant."""

    name: str
    type: str
    aad_tenant_id: str | None
    country_code: str | None
    web_service_url: str | None


def list_companies(client: BusinessCentralClient, api: ApiRoute = STANDARD_API) -> list[Company]:
    """Every company the environment lists to this principal."""
    companies: list[Company] = []
    for page in client.iter_pages(client.urls.companies_url(api)):
        companies.extend(
            Company(str(c["id"]), str(c.get("name") or ""), str(c.get("displayName") or ""))
            for c in page
        )
    return companies


def resolve_companies(
    client: BusinessCentralClient,
    wanted: Sequence[str] = (),
    *,
    probe: bool = True,
) -> list[Company]:
    """Companies to work on: those named in ``wanted`` (ids or names), or all of them.

    Args:
        client: The BC client.
        wanted: Company ids or names from the ``company_ids`` setting; empty means all.
        probe: Check each company can be opened and skip (with a warning) those that cannot.

    Raises:
        ConfigurationError: A wanted id or name matches no company (the message lists them).
    """
    known = list_companies(client)
    chosen = _match(known, wanted) if wanted else known
    if not probe:
        return chosen
    return [c for c in chosen if _can_open(client, c)]


def _match(known: list[Company], wanted: Iterable[str]) -> list[Company]:
    by_id = {c.id.lower(): c for c in known}
    chosen: list[Company] = []
    for spec in wanted:
        company = by_id.get(_as_guid(spec) or "") or _by_name(known, spec)
        if company is None:
            names = ", ".join(repr(c.name) for c in known) or "none"
            msg = f"Setting company_ids has {spec!r}, which is no company here; companies: {names}."
            raise ConfigurationError(msg)
        if company not in chosen:
            chosen.append(company)
    return chosen


def _by_name(known: list[Company], spec: str) -> Company | None:
    for exact in (True, False):
        for company in known:
            for name in (company.name, company.display_name):
                if name and (name == spec if exact else name.casefold() == spec.casefold()):
                    return company
    return None


def _as_guid(text: str) -> str | None:
    try:
        return str(uuid.UUID(text.strip().strip("{}")))
    except ValueError:
        return None


def _can_open(client: BusinessCentralClient, company: Company) -> bool:
    url = with_query(
        client.urls.entity_set_url(PROBE_ENTITY_SET, company.id),
        {"$select": "id", "$top": 1},
    )
    try:
        client.get_json(url)
    except BusinessCentralError as exc:
        if exc.status in _NO_ACCESS_STATUSES or exc.code in _NO_ACCESS_CODES:
            LOGGER.warning(
                "Skipping company %r (%s): this principal cannot open it (%s)",
                company.name,
                company.id,
                exc,
            )
            return False
        raise
    return True


def list_environments(client: BusinessCentralClient) -> list[Environment]:
    """Environments of the tenant (BC online), from ``/environments/v1.1``."""
    document: Any = client.get_json(client.urls.environments_url)
    return [
        Environment(
            name=str(e.get("name")),
            type=str(e.get("type")),
            aad_tenant_id=e.get("aadTenantId"),
            country_code=e.get("countryCode"),
            web_service_url=e.get("webServiceUrl"),
        )
        for e in (document or {}).get("value", [])
    ]
