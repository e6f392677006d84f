"""The Business Central client shared by the tap and the target.

Build one :class:`BusinessCentralClient` from the tap's or target's config; append
:data:`SETTINGS` to their ``config_jsonschema``. Everything else is reachable from the client.
"""

from __future__ import annotations

from businesscentral_api.client import BusinessCentralClient
from businesscentral_api.companies import Company, Environment
from businesscentral_api.errors import (
    AuthenticationError,
    BusinessCentralError,
    ConfigurationError,
    InsecureTransportError,
    OutcomeUnknownError,
    RetriesExhaustedError,
)
from businesscentral_api.http import HttpResponse, RetryPolicy
from businesscentral_api.jsonutil import dump_json, parse_json
from businesscentral_api.metadata import EntitySet, ServiceModel, parse_edmx
from businesscentral_api.odata import STANDARD_API, ApiRoute, UrlBuilder, filter_expr, literal
from businesscentral_api.ratelimit import RateLimiter
from businesscentral_api.settings import SETTINGS, Settings, validate_settings

__all__ = [
    "SETTINGS",
    "STANDARD_API",
    "ApiRoute",
    "AuthenticationError",
    "BusinessCentralClient",
    "BusinessCentralError",
    "Company",
    "ConfigurationError",
    "EntitySet",
    "Environment",
    "HttpResponse",
    "InsecureTransportError",
    "OutcomeUnknownError",
    "RateLimiter",
    "RetriesExhaustedError",
    "RetryPolicy",
    "ServiceModel",
    "Settings",
    "UrlBuilder",
    "dump_json",
    "filter_expr",
    "literal",
    "parse_edmx",
    "parse_json",
    "validate_settings",
]
