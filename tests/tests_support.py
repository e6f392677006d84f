"""Paths and small helpers shared by the test modules (the fixtures live in conftest.py)."""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

REPO = Path(__file__).resolve().parents[1]
# Real material from BC tenants (sources in tests/fixtures/bc-api/README.md), inside the repository.
BC_API_FIXTURES = REPO / "tests" / "fixtures" / "bc-api"
REAL_RESPONSES = BC_API_FIXTURES / "responses"

CONNECTION_SETTINGS = (
    "tenant_id",
    "environment_name",
    "client_id",
    "client_secret",
    "api_url",
    "authority_url",
    "ca_bundle",
)


def client_config(info: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    """Tap/target/client settings for an emulator's ready dict; an override of None drops a key."""
    config: dict[str, Any] = {name: info[name] for name in CONNECTION_SETTINGS}
    config.update(overrides)
    return {name: value for name, value in config.items() if value is not None}


def meltano_project(folder: Path, plugins: tuple[str, ...]) -> Path:
    """The repo's meltano.yml in ``folder``, with ``plugins`` run from PATH (no pip_url)."""
    document = yaml.safe_load((REPO / "meltano.yml").read_text())
    for kind in ("extractors", "loaders"):
        for plugin in document["plugins"].get(kind, []):
            if plugin["name"] in plugins:
                plugin.pop("pip_url", None)
    (folder / "meltano.yml").write_text(yaml.safe_dump(document, sort_keys=False))
    return folder


def meltano_env(**settings: str) -> dict[str, str]:
    """A Meltano subprocess's environment: this venv's plugins first, no tracking, no CA."""
    env = {k: v for k, v in os.environ.items() if k not in {"REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"}}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.update(
        MELTANO_SEND_ANONYMOUS_USAGE_STATS="false",
        MELTANO_DISABLE_TRACKING="true",
        NO_COLOR="1",
        **settings,
    )
    return env


def self_signed_certificate(
    common_name: str = "bc-client", *, ca: bool = False
) -> tuple[str, str, str]:
    """A self-signed certificate: (private key PEM, certificate PEM, SHA-1 thumbprint hex)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
    )
    if ca:
        builder = builder.add_extension(
            x509.BasicConstraints(ca=True, path_length=None), critical=True
        )
    cert = builder.sign(key, hashes.SHA256())
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    thumbprint = cert.fingerprint(hashes.SHA1()).hex().upper()  # noqa: S303 - x5t is SHA-1
    return key_pem, cert_pem, thumbprint
