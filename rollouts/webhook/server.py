"""Where the API server reaches the webhook: a Service in a cluster, a url outside one.

kopf's :class:`kopf.WebhookServer` serves HTTPS and yields the ``clientConfig`` kopf writes into
the ValidatingWebhookConfiguration, always as a ``url``. In a cluster that is the wrong form: the
API server resolves a url's host with its own resolver, which often cannot resolve ``*.svc``
names (it runs on the host network), while a ``service`` reference is resolved by the API server
from the Service's endpoints. So :class:`AdmissionServer` rewrites the yielded config into a
``service`` reference when it is given one; without one (the local test cluster, whose API server
runs on the same host) the url stays.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import kopf

__all__ = ["AdmissionServer", "ServiceReference"]


@dataclass(frozen=True, kw_only=True)
class ServiceReference:
    """The Service in front of the webhook pods, as the API server should call it."""

    namespace: str
    name: str
    port: int = 443

    @property
    def hostnames(self) -> list[str]:
        """The names the API server checks the certificate against (it dials ``name.namespace.svc``)."""
        return [f"{self.name}.{self.namespace}.svc", f"{self.name}.{self.namespace}.svc.cluster.local"]


class AdmissionServer(kopf.WebhookServer):
    """kopf's HTTPS server, announced as a Service reference when ``service`` is set."""

    def __init__(self, *, service: ServiceReference | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.service = service

    async def __call__(self, fn: Any) -> AsyncIterator[Any]:
        async for config in super().__call__(fn):
            if self.service is not None:
                config = {
                    "service": {
                        "namespace": self.service.namespace,
                        "name": self.service.name,
                        "port": self.service.port,
                        "path": (self.path or "").rstrip("/"),
                    },
                    **({"caBundle": config["caBundle"]} if "caBundle" in config else {}),
                }
            yield config
