"""Reads the watched namespaces from the API server into `NamespaceObjects` (a short poll).

This is test infrastructure, so it talks to the Kubernetes API directly with the official client (the
`rollouts/kube` seam is the product's rule). Lists come back as raw JSON, the same dicts `kubectl get
-o json` prints, which is what the pure code reads. Istio's kinds are optional: without their CRDs a
namespace simply has no VirtualServices.
"""

from __future__ import annotations

import json
from typing import Any

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from e2e.simulator.backends import NamespaceObjects, Obj

ISTIO_GROUP = "networking.istio.io"
ISTIO_VERSION = "v1"


class Observer:
    """Lists what the simulator needs from each namespace; one instance per process."""

    def __init__(self, *, kubeconfig: str | None, namespaces: list[str]) -> None:
        self.api = config.new_client_from_config(config_file=kubeconfig)  # type: ignore[no-untyped-call]
        self.namespaces = namespaces
        self.core = client.CoreV1Api(self.api)
        self.apps = client.AppsV1Api(self.api)
        self.networking = client.NetworkingV1Api(self.api)
        self.custom = client.CustomObjectsApi(self.api)

    def observe(self) -> list[NamespaceObjects]:
        return [self._namespace(ns) for ns in self.namespaces]

    def _namespace(self, ns: str) -> NamespaceObjects:
        return NamespaceObjects(
            namespace=ns,
            services=_items(self.core.list_namespaced_service(ns, _preload_content=False)),
            pods=_items(self.core.list_namespaced_pod(ns, _preload_content=False)),
            replica_sets=_items(self.apps.list_namespaced_replica_set(ns, _preload_content=False)),
            ingresses=_items(self.networking.list_namespaced_ingress(ns, _preload_content=False)),
            virtual_services=self._istio(ns, "virtualservices"),
            destination_rules=self._istio(ns, "destinationrules"),
        )

    def _istio(self, ns: str, plural: str) -> tuple[Obj, ...]:
        try:
            response = self.custom.list_namespaced_custom_object(
                ISTIO_GROUP, ISTIO_VERSION, ns, plural, _preload_content=False
            )
        except ApiException as exc:
            if exc.status == 404:  # the Istio CRDs are not installed
                return ()
            raise
        return _items(response)

    def close(self) -> None:
        self.api.close()


def _items(response: Any) -> tuple[Obj, ...]:
    return tuple(json.loads(response.data).get("items") or [])
