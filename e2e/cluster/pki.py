"""Certificates for the local control plane, made with the openssl CLI.

The API server runs with TLS and client-certificate authentication like a real cluster, so RBAC is
on and tests meet the same authentication paths as production. openssl ships with Debian; using its
CLI keeps the test bed free of a Python crypto dependency.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

SERVICE_CLUSTER_IP_RANGE = "10.96.0.0/16"
API_SERVICE_IP = "10.96.0.1"
_DAYS = "3650"


class PkiError(RuntimeError):
    pass


def _openssl(*args: str, cwd: Path) -> None:
    try:
        subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, text=True)
    except FileNotFoundError as exc:
        raise PkiError("openssl is not installed: apt-get install -y openssl") from exc
    except subprocess.CalledProcessError as exc:
        raise PkiError(f"openssl {args[0]} failed: {exc.stderr.strip()[-300:]}") from exc


def _ec_key(name: str, cwd: Path) -> None:
    _openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", f"{name}.key", cwd=cwd)


def _signed_cert(name: str, subject: str, extensions: str, cwd: Path) -> None:
    _ec_key(name, cwd)
    _openssl("req", "-new", "-key", f"{name}.key", "-subj", subject, "-out", f"{name}.csr", cwd=cwd)
    (cwd / f"{name}.ext").write_text(extensions)
    _openssl(
        "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
        "-days", _DAYS, "-sha256", "-extfile", f"{name}.ext", "-out", f"{name}.crt", cwd=cwd,
    )  # fmt: skip


def make_pki(pki: Path) -> None:
    """CA, API server serving cert, admin client cert (system:masters) and the service-account keys."""
    pki.mkdir(parents=True, exist_ok=True)
    _ec_key("ca", pki)
    _openssl(
        "req", "-x509", "-new", "-key", "ca.key", "-subj", "/CN=kube-rollouts-local-ca",
        "-days", _DAYS, "-sha256", "-out", "ca.crt", cwd=pki,
    )  # fmt: skip
    sans = [
        "DNS:localhost", "DNS:kubernetes", "DNS:kubernetes.default", "DNS:kubernetes.default.svc",
        "DNS:kubernetes.default.svc.cluster.local", "IP:127.0.0.1", f"IP:{API_SERVICE_IP}",
    ]  # fmt: skip
    _signed_cert(
        "apiserver",
        "/CN=kube-apiserver",
        "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
        f"extendedKeyUsage=serverAuth\nsubjectAltName={','.join(sans)}\n",
        pki,
    )
    _signed_cert(
        "admin",
        "/O=system:masters/CN=kube-rollouts-admin",
        "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n",
        pki,
    )
    # Service-account tokens: the API server verifies with sa.pub, the controller-manager signs with
    # sa.key; without them no namespace gets its default ServiceAccount and no pod can be created.
    _openssl("genrsa", "-out", "sa.key", "2048", cwd=pki)
    _openssl("rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub", cwd=pki)


def kubeconfig(*, server: str, pki: Path) -> str:
    return f"""apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: {server}
    certificate-authority: {pki / "ca.crt"}
users:
- name: admin
  user:
    client-certificate: {pki / "admin.crt"}
    client-key: {pki / "admin.key"}
contexts:
- name: kube-rollouts-local
  context: {{cluster: local, user: admin, namespace: default}}
current-context: kube-rollouts-local
"""
