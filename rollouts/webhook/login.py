"""kopf logs in with our login, so the webhook works wherever kubectl (and the controller) does.

kopf talks to the API server for itself (discovery, and writing the webhook configuration). Its
own login handlers would read the kubeconfig a second way, and its ``ConnectionInfo`` writes an
inline client key to a temporary file to build its TLS context. Instead the ``@kopf.on.login``
handler hands kopf an aiohttp session (:class:`kopf.AiohttpSession`) built from the same
:class:`~rollouts.kube.ClusterConfig` our httpx client uses: its TLS context already holds the CA
and any client certificate in memory, and a client middleware puts the current bearer token of
:class:`~rollouts.kube.credentials.Credentials` on every request (refreshed as it expires, one
fresh login and one retry after a 401), the same rules as ``CredentialsAuth`` on the httpx side.
"""

from __future__ import annotations

import aiohttp
import kopf

from rollouts.kube import ClusterConfig

__all__ = ["kopf_session"]


def _bearer_middleware(config: ClusterConfig) -> aiohttp.ClientMiddlewareType:
    credentials = config.credentials

    async def authorize(
        request: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
    ) -> aiohttp.ClientResponse:
        token = credentials.token() if credentials is not None else config.token
        if token:
            request.headers["Authorization"] = f"Bearer {token}"
        response = await handler(request)
        if response.status != 401 or credentials is None:
            return response
        fresh = credentials.refresh(token)
        if not fresh:
            return response
        response.release()
        request.headers["Authorization"] = f"Bearer {fresh}"
        return await handler(request)

    return authorize


def kopf_session(config: ClusterConfig) -> kopf.AiohttpSession:
    """What the login handler returns: a session to ``config.server`` with our TLS and tokens."""
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0, ssl=config.ssl_context),
        middlewares=(_bearer_middleware(config),),
        proxy=config.proxy,
        headers={"User-Agent": "kube-rollouts-webhook"},
    )
    return kopf.AiohttpSession(
        aiohttp_session=session, server=config.server, default_namespace=config.namespace
    )
