"""Kinds by (apiVersion, kind): their REST plural and scope, and the URL of an object of each.

The kinds kube-rollouts works with are listed here so no discovery round-trip is needed; any other
kind is resolved once through the API server's discovery document (see ``KubeClient.resource``).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

__all__ = ["KNOWN", "Resource", "known_resource"]


@dataclass(frozen=True, kw_only=True)
class Resource:
    """One REST resource: ``api_version`` (``v1`` or ``group/version``), ``kind``, ``plural``."""

    api_version: str
    kind: str
    plural: str
    namespaced: bool = True

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    def path(
        self, *, namespace: str | None = None, name: str | None = None, subresource: str | None = None
    ) -> str:
        """The URL path of the collection (``name=None``) or of one object, optionally a subresource.

        ``namespace=None`` on a namespaced kind addresses all namespaces (lists and watches).
        """
        root = "/api/v1" if self.api_version == "v1" else f"/apis/{self.api_version}"
        parts = [root]
        if self.namespaced and namespace:
            parts.append(f"namespaces/{quote(namespace, safe='')}")
        parts.append(self.plural)
        if name:
            parts.append(quote(name, safe=""))
            if subresource:
                parts.append(subresource)
        return "/".join(parts)


def _r(api_version: str, kind: str, plural: str, *, namespaced: bool = True) -> Resource:
    return Resource(api_version=api_version, kind=kind, plural=plural, namespaced=namespaced)


KNOWN: dict[tuple[str, str], Resource] = {
    (r.api_version, r.kind): r
    for r in (
        _r("v1", "Pod", "pods"),
        _r("v1", "Service", "services"),
        _r("v1", "Event", "events"),
        _r("v1", "Namespace", "namespaces", namespaced=False),
        _r("v1", "ConfigMap", "configmaps"),
        _r("v1", "Secret", "secrets"),
        _r("apps/v1", "ReplicaSet", "replicasets"),
        _r("apps/v1", "Deployment", "deployments"),
        _r("events.k8s.io/v1", "Event", "events"),
        _r("networking.k8s.io/v1", "Ingress", "ingresses"),
        _r("networking.istio.io/v1", "VirtualService", "virtualservices"),
        _r("networking.istio.io/v1", "DestinationRule", "destinationrules"),
        _r("networking.istio.io/v1beta1", "VirtualService", "virtualservices"),
        _r("networking.istio.io/v1beta1", "DestinationRule", "destinationrules"),
        _r("networking.istio.io/v1alpha3", "VirtualService", "virtualservices"),
        _r("networking.istio.io/v1alpha3", "DestinationRule", "destinationrules"),
        _r("rollouts.dev/v1alpha1", "Rollout", "rollouts"),
        _r("rollouts.dev/v1alpha1", "AnalysisRun", "analysisruns"),
        _r("rollouts.dev/v1alpha1", "AnalysisTemplate", "analysistemplates"),
        _r("rollouts.dev/v1alpha1", "ClusterAnalysisTemplate", "clusteranalysistemplates", namespaced=False),
        _r(
            "apiextensions.k8s.io/v1",
            "CustomResourceDefinition",
            "customresourcedefinitions",
            namespaced=False,
        ),
        _r("coordination.k8s.io/v1", "Lease", "leases"),
    )
}


def known_resource(api_version: str, kind: str) -> Resource | None:
    return KNOWN.get((api_version, kind))
