"""``spec.restartAt`` (set by ``kubectl rollouts restart``): every pod replaced, a few at a time."""

from __future__ import annotations

import time
from typing import Any

import pytest

from e2e.cluster import Cluster
from tests.integration.cli.conftest import run_plugin
from tests.integration.controller import scenario as sc
from tests.integration.controller.pods import PodWatch
from tests.support import Kubectl, eventually, kubectl_json

REPLICAS = 4
CANARY = {"canary": {"steps": [{"setWeight": 50}]}}
BLUE_GREEN = {"blueGreen": {"activeService": "web-active", "maxUnavailable": 2}}


def _pod_names(kubectl: Kubectl) -> dict[str, str]:
    """uid -> name of the serving pods, read through kubectl."""
    found = {}
    for pod in kubectl_json(kubectl, "get", "pods", "-l", "app=web")["items"]:
        conditions = (pod.get("status") or {}).get("conditions") or []
        ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
        if ready and not pod["metadata"].get("deletionTimestamp"):
            found[pod["metadata"]["uid"]] = pod["metadata"]["name"]
    return found


@pytest.mark.parametrize(
    ("strategy", "max_unavailable"),
    [(CANARY, 1), (BLUE_GREEN, 2)],  # canary: the default 25% of 4 pods
    ids=["canary-default", "bluegreen-maxUnavailable-2"],
)
def test_restart_replaces_every_pod_max_unavailable_at_a_time_and_records_restarted_at(
    controller: Any,
    cluster: Cluster,
    namespace: str,
    kubectl: Kubectl,
    strategy: dict[str, Any],
    max_unavailable: int,
) -> None:
    sc.apply(kubectl, sc.service("web-active", "web"))
    sc.apply(kubectl, sc.rollout("web", strategy=strategy, replicas=REPLICAS))
    stable = sc.wait_healthy(kubectl, "web", timeout=60)["stableRS"]
    before = eventually(
        lambda: len(names := _pod_names(kubectl)) == REPLICAS and names,
        timeout=30,
        what=f"{REPLICAS} Ready pods",
    )
    time.sleep(1.1)  # restartAt has second precision: the pods must be created strictly before it

    pods = PodWatch(cluster, namespace)
    pods.start()
    try:
        done = run_plugin(cluster, "restart", "web", "-n", namespace)
        assert done.returncode == 0, done.stdout + done.stderr
        restart_at = sc.get_rollout(kubectl, "web")["spec"]["restartAt"]

        def all_replaced() -> dict[str, str] | None:
            names = _pod_names(kubectl)
            fresh = len(names) == REPLICAS and not set(names) & set(before)
            return names if fresh and len(pods.pods) == REPLICAS else None

        after = eventually(all_replaced, timeout=60, what="every pod replaced by a new Ready one")
        final = sc.wait_status(
            kubectl,
            "web",
            f"Healthy with restartedAt {restart_at}",
            lambda st: st.get("phase") == "Healthy" and st.get("restartedAt") == restart_at,
            timeout=30,
        )
    finally:
        pods.stop.set()
        pods.join(timeout=10)

    assert not set(after.values()) & set(before.values()), (before, after)
    assert final["stableRS"] == stable, "a restart is not a new revision"
    assert sc.sizes(kubectl, "web") == {stable: REPLICAS}
    # Each replacement is at least: deleted, created, scheduled, Ready.
    assert pods.changes >= 4 * REPLICAS, pods.changes
    # Never more than maxUnavailable pods missing. (Exactly that many is a race on KWOK: the first
    # replacement can be Ready before the second deletion lands.) The batches the controller
    # took are in its Events.
    assert pods.fewest_serving >= REPLICAS - max_unavailable, pods.fewest_serving
    restarting = [
        batch
        for r, m in sc.events(kubectl, "web")
        if r == "RestartingPods"
        for batch in m.split("; ")  # the batches of one pass share its Event
    ]
    assert len(restarting) >= REPLICAS // max_unavailable, restarting
    assert restarting[0].startswith(f"Restarting {max_unavailable} of {REPLICAS} pods"), restarting
