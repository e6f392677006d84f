"""``bc-login``: sign a user in once and keep the token cache for ``auth_type: refresh_token``.

Runs the authorization-code flow with PKCE on a loopback redirect (``http://localhost:PORT``; a
browser opens, or the URL is printed with ``--no-browser``), or the device-code flow on headless
machines (``--device-code``). The msal token cache, refresh token inside, is written (0600) to
``--token-cache-path``; the tap and target read it from their ``token_cache_path`` setting.
Nothing printed ever contains a token.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import webbrowser
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import msal
from typing_extensions import override

from businesscentral_api.auth import BC_SCOPE, MsalTransport, describe_msal_error, tenant_from_token
from businesscentral_api.errors import ConfigurationError
from businesscentral_api.http import new_session
from businesscentral_api.redact import redact
from businesscentral_api.settings import DEFAULT_AUTHORITY_URL, require_safe_transport
from businesscentral_api.tokencache import PersistentTokenCache

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    import requests

__all__ = ["LoginOptions", "login", "main"]

_DONE_PAGE = b"<html><body><p>Signed in. You can close this window.</p></body></html>"


class LoginOptions(argparse.Namespace):
    """Parsed ``bc-login`` options (typed for the flows below)."""

    tenant_id: str
    client_id: str
    client_secret: str | None
    authority_url: str
    token_cache_path: str
    ca_bundle: str | None
    device_code: bool
    port: int
    no_browser: bool
    timeout: float


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bc-login",
        description=(
            "Sign in to Business Central as a user and store the msal token cache, for "
            "auth_type refresh_token. Values missing from the flags are read from --config."
        ),
    )
    parser.add_argument("--config", help="tap/target config JSON to read settings from")
    parser.add_argument("--tenant-id", help="tenant GUID or domain")
    parser.add_argument("--client-id", help="application (client) id; a public client app")
    parser.add_argument("--authority-url", help=f"sign-in host (default {DEFAULT_AUTHORITY_URL})")
    parser.add_argument("--token-cache-path", help="file to write the token cache to")
    parser.add_argument("--ca-bundle", help="PEM bundle of CAs to trust")
    parser.add_argument("--device-code", action="store_true", help="use the device-code flow")
    parser.add_argument("--port", type=int, default=0, help="loopback redirect port (0: any)")
    parser.add_argument("--no-browser", action="store_true", help="print the sign-in URL only")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for sign-in")
    return parser


def parse_options(argv: Sequence[str] | None = None) -> LoginOptions:
    """Merge flags over ``--config`` and check what the flows need.

    Raises:
        ConfigurationError: A needed value is missing (named in the message).
    """
    options = _parser().parse_args(argv, namespace=LoginOptions())
    config: dict[str, Any] = {}
    if getattr(options, "config", None):
        config = json.loads(Path(options.config).read_text(encoding="utf-8"))
    for name in ("tenant_id", "client_id", "authority_url", "token_cache_path", "ca_bundle"):
        if not getattr(options, name, None):
            setattr(options, name, config.get(name))
    options.client_secret = config.get("client_secret")
    options.authority_url = (options.authority_url or DEFAULT_AUTHORITY_URL).rstrip("/")
    for name in ("tenant_id", "client_id", "token_cache_path"):
        if not getattr(options, name):
            msg = f"Setting {name} is required (--{name.replace('_', '-')} or --config)."
            raise ConfigurationError(msg)
    require_safe_transport(options.authority_url, "authority_url")
    return options


def _application(
    options: LoginOptions,
    cache: PersistentTokenCache,
    session: requests.Session,
) -> msal.ClientApplication:
    transport = MsalTransport(session, verify=options.ca_bundle or True, timeout=60.0)
    common: dict[str, Any] = {
        "authority": f"{options.authority_url}/{options.tenant_id}",
        "http_client": transport,
        "token_cache": cache,
        "instance_discovery": False,
    }
    if options.client_secret:
        return msal.ConfidentialClientApplication(
            options.client_id,
            client_credential=options.client_secret,
            **common,
        )
    return msal.PublicClientApplication(options.client_id, **common)


class _RedirectCatcher(BaseHTTPRequestHandler):
    """Receives the one redirect carrying ``code`` and ``state``.

    The sign-in page posts them as a form (``response_mode=form_post``), so the code never sits in
    a URL or the browser history; a plain query redirect is accepted too.
    """

    server: _LoopbackServer

    def do_POST(self) -> None:
        """Keep the posted form fields."""
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace")
        self._keep({k: v[0] for k, v in parse_qs(body).items()})

    def do_GET(self) -> None:
        """Keep the query of a redirect."""
        self._keep({k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()})

    def _keep(self, fields: dict[str, str]) -> None:
        if "code" not in fields and "error" not in fields:
            self.send_error(404)
            return
        self.server.auth_response = fields
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(_DONE_PAGE)))
        self.end_headers()
        self.wfile.write(_DONE_PAGE)

    @override
    def log_message(self, format: str, *args: Any) -> None:
        """Silence: the request line carries the authorization code."""


class _LoopbackServer(HTTPServer):
    auth_response: dict[str, str] | None = None


def _auth_code_flow(
    app: msal.ClientApplication,
    options: LoginOptions,
    on_auth_uri: Callable[[str], None],
) -> dict[str, Any]:
    with _LoopbackServer(("127.0.0.1", options.port), _RedirectCatcher) as server:
        server.timeout = 1.0
        redirect_uri = f"http://localhost:{server.server_address[1]}"
        flow = app.initiate_auth_code_flow(
            [BC_SCOPE],
            redirect_uri=redirect_uri,
            response_mode="form_post",
        )
        on_auth_uri(flow["auth_uri"])
        waited = 0.0
        while server.auth_response is None and waited < options.timeout:
            server.handle_request()
            waited += server.timeout
        if server.auth_response is None:
            return {"error": "timeout", "error_description": "no sign-in arrived in time"}
        result: dict[str, Any] = app.acquire_token_by_auth_code_flow(flow, server.auth_response)
        return result


def _device_code_flow(
    app: msal.ClientApplication,
    say: Callable[[str], None],
) -> dict[str, Any]:
    flow = app.initiate_device_flow(scopes=[BC_SCOPE])
    if "user_code" not in flow:
        return dict(flow)
    say(str(flow.get("message") or f"Go to {flow['verification_uri']}: code {flow['user_code']}"))
    result: dict[str, Any] = app.acquire_token_by_device_flow(flow)
    return result


def login(
    options: LoginOptions,
    *,
    on_auth_uri: Callable[[str], None] | None = None,
    say: Callable[[str], None] = print,
) -> int:
    """Run the chosen flow, write the token cache, and return an exit code.

    Args:
        options: From :func:`parse_options`.
        on_auth_uri: What to do with the sign-in URL (default: open a browser and print it).
        say: Where messages go (default: stdout); never given a token.
    """
    with new_session() as session:
        return _login(options, session, on_auth_uri=on_auth_uri, say=say)


def _login(
    options: LoginOptions,
    session: requests.Session,
    *,
    on_auth_uri: Callable[[str], None] | None,
    say: Callable[[str], None],
) -> int:
    cache = PersistentTokenCache(options.token_cache_path)
    app = _application(options, cache, session)

    def show(uri: str) -> None:
        say(f"Sign in at: {uri}")
        if not options.no_browser:
            threading.Thread(target=webbrowser.open, args=(uri,), daemon=True).start()

    if options.device_code:
        result = _device_code_flow(app, say)
    else:
        result = _auth_code_flow(app, options, on_auth_uri or show)
    if "access_token" not in result:
        say(redact("Sign-in failed: " + describe_msal_error(result)))
        return 1
    cache.save_if_changed()
    claims = result.get("id_token_claims") or {}
    who = claims.get("preferred_username") or claims.get("name") or "the user"
    tenant = claims.get("tid") or tenant_from_token(str(result["access_token"]))
    say(
        f"Signed in as {who} (tenant {tenant}). Token cache written to {cache.path}; "
        "use auth_type refresh_token with this token_cache_path.",
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point of ``bc-login``."""
    try:
        options = parse_options(argv)
        return login(options)
    except ConfigurationError as exc:
        print(f"bc-login: {exc}", file=sys.stderr)  # noqa: T201
        return 2


if __name__ == "__main__":
    sys.exit(main())
