"""Error classes by HTTP answer, and REST paths by kind."""

from __future__ import annotations

import pytest

from rollouts.kube import AlreadyExists, Conflict, Invalid, KubeError, NotFound, Unavailable
from rollouts.kube.errors import error_for
from rollouts.kube.resources import known_resource


@pytest.mark.parametrize(
    ("code", "reason", "cls", "retryable"),
    [
        (404, "NotFound", NotFound, False),
        (409, "Conflict", Conflict, True),
        (409, "AlreadyExists", AlreadyExists, False),
        (422, "Invalid", Invalid, False),
        (500, "InternalError", Unavailable, True),
        (418, "Teapot", KubeError, False),
    ],
)
def test_error_for(code: int, reason: str, cls: type[KubeError], retryable: bool) -> None:
    error = error_for(code, {"reason": reason, "message": "why"}, what="get Thing a/b")
    assert type(error) is cls and error.retryable is retryable
    assert str(error) == "get Thing a/b: why" and error.status == code


def test_paths_of_core_group_cluster_scoped_and_subresources() -> None:
    svc = known_resource("v1", "Service")
    assert svc is not None and svc.path(namespace="n", name="s") == "/api/v1/namespaces/n/services/s"
    rollout = known_resource("rollouts.dev/v1alpha1", "Rollout")
    assert rollout is not None
    assert (
        rollout.path(namespace="n", name="r", subresource="status")
        == "/apis/rollouts.dev/v1alpha1/namespaces/n/rollouts/r/status"
    )
    assert rollout.path() == "/apis/rollouts.dev/v1alpha1/rollouts"
    cat = known_resource("rollouts.dev/v1alpha1", "ClusterAnalysisTemplate")
    assert (
        cat is not None
        and cat.path(namespace="ignored", name="x")
        == "/apis/rollouts.dev/v1alpha1/clusteranalysistemplates/x"
    )
