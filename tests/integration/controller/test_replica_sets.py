"""ReplicaSets: a name taken by a foreign ReplicaSet is a hash collision; old ones beyond the
history limit are deleted."""

from __future__ import annotations

from rollouts.engine.hashing import pod_template_hash
from tests.integration.controller import scenario as sc
from tests.support import Kubectl, eventually

STRATEGY = {"canary": {"steps": [{"setWeight": 50}]}}


def test_a_foreign_replica_set_with_our_name_bumps_the_collision_count(controller, kubectl: Kubectl) -> None:
    manifest = sc.rollout("web", strategy=STRATEGY, replicas=1)
    taken = f"web-{pod_template_hash(manifest['spec']['template'])}"
    labels = {"app": "someone-else", sc.HASH: "notours"}
    squatter = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": taken, "labels": labels},
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "x", "image": "x"}]},
            },
        },
    }
    sc.apply(kubectl, squatter)
    sc.apply(kubectl, manifest)
    healthy = sc.wait_healthy(kubectl, "web")
    assert healthy["collisionCount"] == 1
    assert healthy["stableRS"] != taken.removeprefix("web-")
    assert sc.sizes(kubectl, "web") == {healthy["stableRS"]: 1}
    assert any(r == "HashCollision" and taken in m for r, m in sc.events(kubectl, "web"))
    assert (
        kubectl("get", "replicaset", taken, "-o", "jsonpath={.metadata.labels.app}").stdout == "someone-else"
    )


def test_old_replica_sets_beyond_revision_history_limit_are_deleted(controller, kubectl: Kubectl) -> None:
    sc.apply(kubectl, sc.rollout("web", strategy={"canary": {}}, replicas=1, revisionHistoryLimit=1))
    hashes = [sc.wait_healthy(kubectl, "web")["stableRS"]]
    for image in ("v2", "v3", "v4"):
        sc.set_image(kubectl, "web", image)
        hashes.append(
            sc.wait_status(
                kubectl,
                "web",
                f"Healthy at {image}",
                lambda st: st.get("phase") == "Healthy" and st.get("stableRS") not in hashes,
            )["stableRS"]
        )
    # The current revision and one old one remain; the two oldest are gone.
    eventually(
        lambda: set(sc.sizes(kubectl, "web")) == {hashes[-1], hashes[-2]},
        what="history trimmed to 1 old ReplicaSet",
    )
    assert sc.sizes(kubectl, "web")[hashes[-1]] == 1
