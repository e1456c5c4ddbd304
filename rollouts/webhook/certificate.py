"""The webhook's TLS certificate: self-signed, made at start, and never written to a file system.

The API server only calls a webhook over HTTPS and checks its certificate against the
``caBundle`` in the webhook configuration, which kopf writes from what its server yields. So each
start makes a fresh key and a self-signed certificate for the names the API server dials (the
Service's DNS names, or the host of a url), and kopf publishes the certificate as the bundle.

Why not kopf's own self-signed path: it writes the generated key to a named temporary file (in
``/tmp``, on disk) for the moment ``ssl`` loads it, and it needs ``certbuilder``. Python's ``ssl``
loads a key only from a path, so the PEM goes into a ``memfd`` (anonymous memory, not a file
system; gone when the descriptor is closed) and kopf is given ``/proc/self/fd/N`` as its
``certfile``/``pkeyfile``. kopf re-reads those paths every minute to notice renewals; a memfd reads
the same every time, so it never restarts the server. Nothing outlives the process: a restart
makes a new key, and kopf writes the new bundle into the configuration.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["InMemoryCertificate", "self_signed"]

VALIDITY = datetime.timedelta(days=3650)
"""Long, because the process replaces it at every start and nothing else trusts it."""


@dataclass(frozen=True, kw_only=True)
class InMemoryCertificate:
    """Paths that read the certificate and key out of memory (valid while the context is open)."""

    certfile: str
    pkeyfile: str
    cert_pem: bytes


def _subject_names(hostnames: Sequence[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for host in hostnames:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


def _build(hostnames: Sequence[str]) -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostnames[0])])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))  # the API server's clock may be behind
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.SubjectAlternativeName(_subject_names(hostnames)), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


@contextmanager
def self_signed(hostnames: Sequence[str]) -> Iterator[InMemoryCertificate]:
    """A fresh key and certificate for ``hostnames`` (DNS names or IPs; the first is the CN)."""
    if not hostnames:
        raise ValueError("a certificate needs at least one hostname")
    cert_pem, key_pem = _build(hostnames)
    fds: list[int] = []
    try:
        for label, data in (("kube-rollouts-webhook-cert", cert_pem), ("kube-rollouts-webhook-key", key_pem)):
            fd = os.memfd_create(label, os.MFD_CLOEXEC)
            fds.append(fd)
            os.write(fd, data)
        del key_pem
        yield InMemoryCertificate(
            certfile=f"/proc/self/fd/{fds[0]}", pkeyfile=f"/proc/self/fd/{fds[1]}", cert_pem=cert_pem
        )
    finally:
        for fd in fds:
            os.close(fd)
