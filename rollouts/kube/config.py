"""Where the API server is and how to log in: kubeconfig or the in-cluster ServiceAccount, like kubectl.

Resolution is the `kubernetes` package's (the stack's client): its merger reads a `KUBECONFIG` list as
kubectl does (the first file to define a cluster, user or context wins), and its loaders resolve
certificates, tokens and token files, exec credential plugins (`client.authentication.k8s.io/v1` and
`v1beta1`, with `provideClusterInfo`), `insecure-skip-tls-verify`, `tls-server-name` and `proxy-url`, and
the in-cluster token, which it re-reads as it rotates. What comes out is fed to our httpx client: a
TLS context, a proxy, and :class:`~rollouts.kube.credentials.Credentials` that refresh and log in again.

Key material never stays on disk. The loader writes inline ``*-data`` (and an exec plugin's client
certificate) to files because Python's ``ssl`` loads certificates only from files; we hand it a
private directory (0700) and remove it as soon as the TLS context holds them in memory, and again on
exit should a re-login have written into it.

Two kubectl rules the package does not follow are applied here: ``current-context`` comes from the
first file that sets it, and an exec plugin with ``interactiveMode: Always`` needs a terminal.
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import ssl
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from kubernetes.client import Configuration
from kubernetes.config.config_exception import ConfigException
from kubernetes.config.incluster_config import InClusterConfigLoader
from kubernetes.config.kube_config import KubeConfigLoader, KubeConfigMerger

from rollouts.kube.credentials import Credentials

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
    """A fixed bearer token (tests and simple callers); a real login uses ``credentials``."""
    credentials: Credentials | None = None
    namespace: str = "default"
    source: str = ""
    tls_server_name: str | None = None
    proxy: str | None = None


def load_config(*, kubeconfig: str | None = None, context: str | None = None) -> ClusterConfig:
    """``kubeconfig`` (else the ``$KUBECONFIG`` list, else ``~/.kube/config``), or the in-cluster login.

    The in-cluster login is used when no kubeconfig file exists and the ServiceAccount files do.
    """
    paths = _kubeconfig_paths(kubeconfig)
    existing = [p for p in paths if p.is_file()]
    if existing:
        return _from_kubeconfig(existing, context)
    if kubeconfig or os.environ.get("KUBECONFIG"):
        listed = os.pathsep.join(map(str, paths))
        raise ConfigError(f"kubeconfig {listed} does not exist: set KUBECONFIG or pass --kubeconfig")
    if (SERVICE_ACCOUNT_DIR / "token").is_file() and os.environ.get("KUBERNETES_SERVICE_HOST"):
        return _in_cluster()
    raise ConfigError(
        f"no kubeconfig at {paths[0]} and not running in a pod: set KUBECONFIG or pass --kubeconfig"
    )


def _kubeconfig_paths(explicit: str | None) -> list[Path]:
    if explicit:
        return [Path(explicit).expanduser()]  # kubectl: --kubeconfig names exactly one file
    listed = [p for p in os.environ.get("KUBECONFIG", "").split(os.pathsep) if p]
    return [Path(p).expanduser() for p in listed] or [Path.home() / ".kube" / "config"]


def _in_cluster() -> ClusterConfig:
    configuration = Configuration()
    loader = InClusterConfigLoader(
        token_filename=str(SERVICE_ACCOUNT_DIR / "token"),
        cert_filename=str(SERVICE_ACCOUNT_DIR / "ca.crt"),
        try_refresh_token=True,  # projected tokens rotate: re-read every minute, and after a 401
    )
    try:
        loader.load_and_set(configuration)
    except ConfigException as exc:
        raise ConfigError(f"in-cluster login: {exc}") from None
    namespace_file = SERVICE_ACCOUNT_DIR / "namespace"
    return ClusterConfig(
        server=configuration.host,
        ssl_context=ssl.create_default_context(cafile=configuration.ssl_ca_cert),
        credentials=Credentials(configuration, lambda: loader.load_and_set(configuration)),
        namespace=namespace_file.read_text().strip() if namespace_file.is_file() else "default",
        source="in-cluster service account",
    )


def _from_kubeconfig(paths: list[Path], context_name: str | None) -> ClusterConfig:
    where = f"kubeconfig {os.pathsep.join(map(str, paths))}"
    try:
        merger = KubeConfigMerger(os.pathsep.join(map(str, paths)))
    except (ConfigException, OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{where}: cannot be read ({exc}); fix the file") from None
    merged = merger.config
    name = context_name or _first_current_context(merger)
    if not name:
        raise ConfigError(f"{where} has no current-context: pass --context or set one")
    context = _named(merged, "contexts", name, where)["context"]
    cluster_name, user_name = context.get("cluster"), context.get("user")
    cluster = _named(merged, "clusters", cluster_name, f"{where} (context {name!r})")["cluster"]
    user = _named(merged, "users", user_name, f"{where} (context {name!r})")["user"] if user_name else {}
    if "auth-provider" in user:
        raise ConfigError(
            f"{where}: user {user_name!r} uses the auth-provider {user['auth-provider'].get('name')!r}, "
            "which kubectl no longer supports either; use its exec credential plugin instead "
            "(kubelogin, gke-gcloud-auth-plugin, aws eks get-token, ...)"
        )
    exec_config = user.get("exec") or {}
    if exec_config.get("interactiveMode") == "Always" and not sys.stdin.isatty():
        raise ConfigError(
            f"{where}: the exec plugin {exec_config.get('command')!r} of user {user_name!r} has "
            "interactiveMode: Always and needs a terminal; run this from one, or use a non-interactive login"
        )

    secrets = _PrivateDir()
    configuration = Configuration()
    loader = KubeConfigLoader(
        config_dict=merged, active_context=name, config_base_path=None, temp_file_path=secrets.path
    )

    def login() -> None:
        with _exec_errors() as errors:
            loader.load_and_set(configuration)
        if exec_config and not configuration.api_key.get("BearerToken") and not configuration.cert_file:
            detail = "; ".join(errors) or "it gave neither a token nor a client certificate"
            raise ConfigError(f"{where}: the exec plugin {exec_config.get('command')!r} failed: {detail}")

    try:
        writes = bool(exec_config) or any(k.endswith("-data") for k in (*user, *cluster))
        with secrets.emptied_after(needed=writes):
            login()
            ssl_context = _ssl_context(configuration)
    except ConfigException as exc:
        raise ConfigError(f"{where}, context {name!r}: {exc}") from None
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"{where}, context {name!r}: cannot load its certificates: {exc}") from None
    return ClusterConfig(
        server=configuration.host,
        ssl_context=ssl_context,
        credentials=Credentials(configuration, lambda: _relogin(secrets, login, needed=writes))
        if configuration.api_key.get("BearerToken")
        else None,
        namespace=str(context.get("namespace") or "default"),
        source=f"{where} context {name}",
        tls_server_name=getattr(configuration, "tls_server_name", None),
        proxy=configuration.proxy,
    )


def _relogin(secrets: _PrivateDir, login: Callable[[], None], *, needed: bool) -> None:
    with secrets.emptied_after(needed=needed):
        login()


def _first_current_context(merger: KubeConfigMerger) -> str | None:
    """kubectl's rule: the first file that sets it (the merger keeps the last one)."""
    for path in merger.paths:  # in KUBECONFIG order, as the merger read them
        doc = merger.config_files[path]
        if isinstance(doc, dict) and doc.get("current-context"):
            return str(doc["current-context"])
    return None


def _named(merged: Any, section: str, name: object, where: str) -> dict[str, Any]:
    for entry in merged.value.get(section) or []:
        value = entry.value if hasattr(entry, "value") else entry
        if value.get("name") == name:
            return dict(value)
    what = section.removesuffix("s")
    raise ConfigError(f"{where}: {what} {name!r} is not defined; fix the context or the file")


def _ssl_context(configuration: Any) -> ssl.SSLContext | bool:
    if configuration.host.startswith("http://"):
        return False
    ctx = ssl.create_default_context(cafile=configuration.ssl_ca_cert)
    if not configuration.verify_ssl:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if configuration.cert_file and configuration.key_file:
        ctx.load_cert_chain(configuration.cert_file, configuration.key_file)
    return ctx


class _PrivateDir:
    """A 0700 directory for the files the loader insists on writing, emptied right after each use.

    Made only when a login has something to write (inline ``*-data``, an exec plugin's certificate),
    so a kubeconfig of plain file paths works on a read-only root file system with no /tmp.
    """

    def __init__(self) -> None:
        # Not tempfile.gettempdir(): it probes for a writable directory, and fails on a read-only root.
        base = os.environ.get("TMPDIR") or "/tmp"
        self.path = os.path.join(base, f"kube-rollouts-login-{uuid.uuid4().hex}")
        atexit.register(shutil.rmtree, self.path, True)

    @contextmanager
    def emptied_after(self, *, needed: bool = True) -> Iterator[None]:
        if needed:
            os.makedirs(self.path, mode=0o700, exist_ok=True)
        try:
            yield
        finally:
            shutil.rmtree(self.path, ignore_errors=True)


_capture = threading.Lock()


@contextmanager
def _exec_errors() -> Iterator[list[str]]:
    """The loader logs an exec plugin's failure instead of raising it: catch those lines."""
    errors: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            errors.append(record.getMessage())

    handler = Collect(logging.ERROR)
    with _capture:
        root = logging.getLogger()
        root.addHandler(handler)
        try:
            yield errors
        finally:
            root.removeHandler(handler)
