"""Bearer credentials that stay valid: refreshed before they expire, and logged in again after a 401.

The `kubernetes` package's loaders resolve *what* the login is (a static token, a token file, an exec
credential plugin, the in-cluster ServiceAccount token) into a `kubernetes.client.Configuration`;
this module keeps that login alive for a long-running process: the loader's own refresh hook re-runs
an exec plugin when its `expirationTimestamp` has passed and re-reads a rotating in-cluster token, and
a 401 from the API server forces a fresh login once before the request is retried (a revoked or
rotated token, a plugin whose cache went stale).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator
from typing import Any

import httpx

__all__ = ["Credentials", "CredentialsAuth"]


class Credentials:
    """The current bearer token of one login, behind a lock (workers may ask at the same moment).

    ``configuration`` is the `kubernetes.client.Configuration` a loader filled; ``relogin`` runs that
    loader again (reads the token file again, runs the exec plugin again) into the same object.
    """

    def __init__(self, configuration: Any, relogin: Callable[[], None]) -> None:
        self._configuration = configuration
        self._relogin = relogin
        self._lock = threading.Lock()

    def token(self) -> str | None:
        with self._lock:
            hook = self._configuration.refresh_api_key_hook
            if hook is not None:
                hook(self._configuration)  # re-runs the plugin / re-reads the file when it is due
            return _bearer(self._configuration.api_key.get("BearerToken"))

    def refresh(self, rejected: str | None) -> str | None:
        """A fresh token after the API server refused ``rejected`` (unless another request already
        got one), or None when the new login gives the same token again."""
        with self._lock:
            current = _bearer(self._configuration.api_key.get("BearerToken"))
            if current == rejected:
                self._relogin()
                current = _bearer(self._configuration.api_key.get("BearerToken"))
            return None if current == rejected else current


def _bearer(value: str | None) -> str | None:
    """The token alone: the loaders store it as 'Bearer <token>' (or 'bearer <token>')."""
    if not value:
        return None
    scheme, _, token = value.partition(" ")
    return token if scheme.lower() == "bearer" and token else value


class CredentialsAuth(httpx.Auth):
    """httpx auth: the current token on every request, one fresh login and retry on a 401.

    ``sni_hostname`` is the kubeconfig's ``tls-server-name``: the name the server's certificate is
    checked against when it differs from the host in the URL (an API server behind an IP or a tunnel).
    """

    def __init__(self, credentials: Credentials | None, *, sni_hostname: str | None = None) -> None:
        self._credentials = credentials
        self._sni_hostname = sni_hostname

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self._sni_hostname:
            request.extensions = {**request.extensions, "sni_hostname": self._sni_hostname}
        if self._credentials is None:
            yield request
            return
        token = self._credentials.token()
        if token:
            request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code != 401:
            return
        fresh = self._credentials.refresh(token)
        if fresh:
            request.headers["Authorization"] = f"Bearer {fresh}"
            yield request
