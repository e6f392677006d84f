"""A throwaway certificate authority and server certificate for serving HTTPS on loopback.

msal refuses `http://` authorities, so the emulator speaks HTTPS even on 127.0.0.1. Rather than
switch verification off anywhere, the emulator mints its own CA at start-up and clients trust that
CA explicitly (msal's `verify=`, requests' `verify=`, or `REQUESTS_CA_BUNDLE`).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DEFAULT_DNS_NAMES = ("localhost",)
DEFAULT_IP_ADDRESSES = ("127.0.0.1", "::1")
_BACKDATE = dt.timedelta(minutes=5)  # tolerate small clock differences between processes


@dataclass(frozen=True)
class TlsFiles:
    """Where the PEM files were written.

    Attributes:
        ca_bundle: the CA certificate, for clients to trust.
        cert: the server certificate followed by the CA certificate (the chain to serve).
        key: the server's private key (mode 0600).
    """

    ca_bundle: Path
    cert: Path
    key: Path


def generate_tls_files(
    directory: str | os.PathLike[str],
    *,
    dns_names: tuple[str, ...] = DEFAULT_DNS_NAMES,
    ip_addresses: tuple[str, ...] = DEFAULT_IP_ADDRESSES,
    valid_days: int = 30,
) -> TlsFiles:
    """Mint a fresh CA and a server certificate for loopback names and write them as PEM.

    EC P-256 keys keep this to a few milliseconds, so every emulator start can have its own CA.

    Args:
        directory: where to write `ca.pem`, `server.pem` and `server-key.pem` (created if absent).
        dns_names: DNS subject alternative names of the server certificate.
        ip_addresses: IP subject alternative names of the server certificate.
        valid_days: lifetime of both certificates.

    Returns:
        The paths of the CA bundle, the server certificate chain and the server key.
    """
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.timezone.utc)
    not_before, not_after = now - _BACKDATE, now + dt.timedelta(days=valid_days)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Business Central emulator"),
            x509.NameAttribute(NameOID.COMMON_NAME, "Business Central emulator local CA"),
        ]
    )
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    server_key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = [x509.DNSName(name) for name in dns_names]
    names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ip_addresses]
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, dns_names[0])]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(server_key.public_key()), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )

    ca_pem = ca_cert.public_bytes(serialization.Encoding.PEM)
    files = TlsFiles(
        ca_bundle=target / "ca.pem", cert=target / "server.pem", key=target / "server-key.pem"
    )
    files.ca_bundle.write_bytes(ca_pem)
    files.cert.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM) + ca_pem)
    key_pem = server_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    descriptor = os.open(files.key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as key_file:
        key_file.write(key_pem)
    return files


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    """Key usage for a CA (signs certificates) or a TLS server (signs handshakes)."""
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )
