"""The webhook's certificate (made in memory, loadable by ssl, for the names the API server dials),
the clientConfig kopf is given (a Service reference in a cluster), and the command line."""

from __future__ import annotations

import argparse
import base64
import os
import ssl
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from rollouts.webhook.__main__ import _configuration, _service
from rollouts.webhook.certificate import self_signed
from rollouts.webhook.server import AdmissionServer, ServiceReference

SERVICE = ServiceReference(namespace="ops", name="kube-rollouts-webhook")


@pytest.fixture
def no_temp_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Anything written to a temporary file (as kopf's own self-signed path does) would land here."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    yield
    assert list(tmp_path.iterdir()) == []


def test_the_certificate_lives_in_memory_and_serves_the_service_names(no_temp_files: None) -> None:
    with self_signed(SERVICE.hostnames) as cert:
        assert cert.certfile.startswith("/proc/self/fd/") and cert.pkeyfile.startswith("/proc/self/fd/")
        assert os.readlink(cert.pkeyfile).startswith("/memfd:")  # anonymous memory, no file system
        server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server.load_cert_chain(cert.certfile, cert.pkeyfile)
        assert Path(cert.certfile).read_bytes() == cert.cert_pem
        parsed = x509.load_pem_x509_certificate(cert.cert_pem)
        names = parsed.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert names.get_values_for_type(x509.DNSName) == [
            "kube-rollouts-webhook.ops.svc",
            "kube-rollouts-webhook.ops.svc.cluster.local",
        ]
        fd = int(cert.pkeyfile.rsplit("/", 1)[1])
    with pytest.raises(OSError):
        os.fstat(fd)  # closed with the context: the key is gone


def test_an_ip_host_gets_an_ip_name() -> None:
    with self_signed(["127.0.0.1"]) as cert:
        parsed = x509.load_pem_x509_certificate(cert.cert_pem)
    names = parsed.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]


async def _first_config(server: AdmissionServer) -> dict[str, Any]:
    async def fn(*_: Any, **__: Any) -> Any:
        raise AssertionError("no request expected")

    stream = server(fn)
    try:
        config: dict[str, Any] = await anext(stream)
    finally:
        await stream.aclose()  # stops serving
    return config


async def test_in_a_cluster_kopf_is_given_the_service_not_a_url(no_temp_files: None) -> None:
    with self_signed(SERVICE.hostnames) as cert:
        server = AdmissionServer(
            service=SERVICE, addr="127.0.0.1", port=None, certfile=cert.certfile, pkeyfile=cert.pkeyfile
        )
        config = await _first_config(server)
        assert config == {
            "service": {"namespace": "ops", "name": "kube-rollouts-webhook", "port": 443, "path": ""},
            "caBundle": base64.b64encode(cert.cert_pem).decode(),
        }
        outside = AdmissionServer(
            addr="127.0.0.1", host="127.0.0.1", port=None, certfile=cert.certfile, pkeyfile=cert.pkeyfile
        )
        assert (await _first_config(outside))["url"].startswith("https://127.0.0.1:")


def test_command_line_values() -> None:
    assert _service("ops/hook") == ServiceReference(namespace="ops", name="hook", port=443)
    assert _service("ops/hook:8443").port == 8443
    for bad in ("hook", "ops/", "ops/hook:x"):
        with pytest.raises(argparse.ArgumentTypeError):
            _service(bad)
    assert _configuration("kube-rollouts.rollouts.dev") == "kube-rollouts.rollouts.dev"
    with pytest.raises(argparse.ArgumentTypeError, match="domain-like"):
        _configuration("kube-rollouts")
