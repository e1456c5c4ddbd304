"""Fixtures for the router tests: an async KubeClient on the local cluster and a real Rollout to own things.

The Rollout is created on the API server (no controller runs here) so that ownerReferences point at a
live object: the garbage collector would otherwise delete a canary Ingress owned by an unknown uid.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from e2e.cluster import Cluster
from rollouts.api import Rollout, parse_rollout
from rollouts.kube import KubeClient
from rollouts.traffic import RouterContext
from tests.support import Kubectl
from tests.unit.traffic.manifests import rollout_manifest

MakeContext = Callable[[dict[str, Any]], Awaitable[RouterContext]]


@pytest.fixture
async def client(cluster: Cluster) -> AsyncIterator[KubeClient]:
    kube = KubeClient.from_config(kubeconfig=cluster.kubeconfig)
    try:
        yield kube
    finally:
        await kube.close()


def create(kubectl: Kubectl, obj: dict[str, Any]) -> dict[str, Any]:
    """Create ``obj`` with the real kubectl and return it as the server stored it."""
    stored: dict[str, Any] = json.loads(
        kubectl("create", "-f", "-", "-o", "json", stdin=json.dumps(obj)).stdout
    )
    return stored


@pytest.fixture
def make_context(rollout_crds: None, kubectl: Kubectl, namespace: str, client: KubeClient) -> MakeContext:
    """``await make_context(routing)``: create a Rollout routing that way; return its RouterContext."""

    async def make(routing: dict[str, Any], **kw: Any) -> RouterContext:
        stored = create(kubectl, rollout_manifest(routing, namespace=None, uid=None, **kw))
        ro: Rollout = parse_rollout(stored)
        assert ro.metadata.namespace == namespace and ro.metadata.uid
        return RouterContext(rollout=ro, client=client)

    return make
