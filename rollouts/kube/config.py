"""Where the API server is and how to authenticate: kubeconfig or in-cluster service account.

Read without the ``kubernetes`` package on purpose: importing its generated models costs tens of
megabytes of RSS in a controller that only needs a base URL, a TLS context and maybe a token.
Supported: ``certificate-authority(-data)``, ``client-certificate(-data)``/``client-key(-data)``,
``token``/``tokenFile``, ``insecure-skip-tls-verify``, the current context or a named one, and the
in-cluster service account. Exec and auth-provider plugins are not (the error says so).
"""

from __future__ import annotations

import base64
import os
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

__all__ = ["ClusterConfig", "ConfigError", "load_config"]

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")


class ConfigError(Exception):
    """The kubeconfig (or in-cluster environment) cannot be used; the message says what to fix."""


@dataclass(frozen=True, kw_only=True)
class ClusterConfig:
    """Everything a client needs to talk to one API server."""

    server: str
    ssl_context: ssl.SSLContext | bool
    token: str | None = None
    namespace: str = "default"
    source: str = ""


def load_config(*, kubeconfig: str | None = None, context: str | None = None) -> ClusterConfig:
    """Load ``kubeconfig`` (else ``$KUBECONFIG``, else ``~/.kube/config``), or the in-cluster config.

    In-cluster config is used when no kubeconfig file exists and the service-account files do.
    """
    path = kubeconfig or (os.environ.get("KUBECONFIG", "").split(os.pathsep)[0] or None)
    candidate = Path(path) if path else Path.home() / ".kube" / "config"
    if candidate.is_file():
        return _from_kubeconfig(candidate, context)
    if path:
        raise ConfigError(f"kubeconfig {candidate} does not exist: set KUBECONFIG or pass --kubeconfig")
    if (SERVICE_ACCOUNT_DIR / "token").is_file() and os.environ.get("KUBERNETES_SERVICE_HOST"):
        return _in_cluster()
    raise ConfigError(
        f"no kubeconfig at {candidate} and not running in a pod: set KUBECONFIG or pass --kubeconfig"
    )


def _in_cluster() -> ClusterConfig:
    host = os.environ["KUBERNETES_SERVICE_HOST"]
    port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
    if ":" in host:
        host = f"[{host}]"
    ctx = ssl.create_default_context(cafile=str(SERVICE_ACCOUNT_DIR / "ca.crt"))
    namespace_file = SERVICE_ACCOUNT_DIR / "namespace"
    return ClusterConfig(
        server=f"https://{host}:{port}",
        ssl_context=ctx,
        token=(SERVICE_ACCOUNT_DIR / "token").read_text().strip(),
        namespace=namespace_file.read_text().strip() if namespace_file.is_file() else "default",
        source="in-cluster service account",
    )


def _named(entries: list[dict[str, Any]] | None, name: str, what: str, path: Path) -> dict[str, Any]:
    for entry in entries or []:
        if entry.get("name") == name:
            body = entry.get(what)
            return body if isinstance(body, dict) else {}
    raise ConfigError(f"kubeconfig {path}: {what} {name!r} is not defined; fix the context or the file")


def _from_kubeconfig(path: Path, context_name: str | None) -> ClusterConfig:
    doc = yaml.safe_load(path.read_text()) or {}
    name = context_name or doc.get("current-context")
    if not name:
        raise ConfigError(f"kubeconfig {path} has no current-context: pass --context or set one")
    context = _named(doc.get("contexts"), name, "context", path)
    cluster = _named(doc.get("clusters"), str(context.get("cluster")), "cluster", path)
    user = _named(doc.get("users"), str(context.get("user")), "user", path) if context.get("user") else {}
    if "exec" in user or "auth-provider" in user:
        raise ConfigError(
            f"kubeconfig {path}: user {context.get('user')!r} uses an exec/auth-provider plugin, which "
            "kube-rollouts does not run; use a client certificate or a token"
        )
    base = path.parent
    server = str(cluster.get("server") or "")
    if not server:
        raise ConfigError(f"kubeconfig {path}: cluster {context.get('cluster')!r} has no server")
    ssl_context: ssl.SSLContext | bool
    if server.startswith("http://"):
        ssl_context = False
    elif cluster.get("insecure-skip-tls-verify"):
        ssl_context = ssl.create_default_context()
        ssl_context.check_hostname = False
        ssl_context.verify_mode = ssl.CERT_NONE
    else:
        ssl_context = ssl.create_default_context()
        if "certificate-authority-data" in cluster:
            ssl_context.load_verify_locations(cadata=_decode(cluster["certificate-authority-data"]).decode())
        elif "certificate-authority" in cluster:
            ssl_context.load_verify_locations(cafile=str(base / cluster["certificate-authority"]))
    if isinstance(ssl_context, ssl.SSLContext):
        cert = _file_or_data(user, "client-certificate", base)
        key = _file_or_data(user, "client-key", base)
        if cert and key:
            ssl_context.load_cert_chain(cert, key)
    token = user.get("token")
    if not token and user.get("tokenFile"):
        token = (base / user["tokenFile"]).read_text().strip()
    return ClusterConfig(
        server=server.rstrip("/"),
        ssl_context=ssl_context,
        token=token,
        namespace=str(context.get("namespace") or "default"),
        source=f"kubeconfig {path} context {name}",
    )


def _decode(data: str) -> bytes:
    return base64.b64decode(data)


def _file_or_data(user: dict[str, Any], key: str, base: Path) -> str | None:
    """A path to the PEM for ``key``: the file as given, or ``<key>-data`` written to a private temp file."""
    if user.get(key):
        return str(base / user[key])
    data = user.get(f"{key}-data")
    if not data:
        return None
    handle = tempfile.NamedTemporaryFile(prefix="kube-rollouts-", suffix=".pem", delete=False)  # noqa: SIM115
    with handle:
        handle.write(_decode(data))
    os.chmod(handle.name, 0o600)
    return handle.name
