"""Blue-green on the real controller: preview first, then the active Service switches at once."""

from __future__ import annotations

from typing import Any

from tests.integration.controller import scenario as sc
from tests.support import Kubectl, eventually


def _bluegreen(**extra: Any) -> dict[str, Any]:
    return {
        "blueGreen": {
            "activeService": "shop-active",
            "previewService": "shop-preview",
            "previewReplicaCount": 1,
            "scaleDownDelaySeconds": 1,
            **extra,
        }
    }


def _deploy(kubectl: Kubectl, strategy: dict[str, Any]) -> str:
    sc.apply(kubectl, sc.service("shop-active", "shop"), sc.service("shop-preview", "shop"))
    sc.apply(kubectl, sc.rollout("shop", strategy=strategy, replicas=3))
    v1 = sc.wait_healthy(kubectl, "shop")["stableRS"]
    eventually(lambda: sc.selector_hash(kubectl, "shop-active") == v1, what="active Service on v1")
    return v1


def test_manual_promotion_switches_the_active_service_after_promote(controller, kubectl: Kubectl) -> None:
    v1 = _deploy(kubectl, _bluegreen(autoPromotionEnabled=False))
    sc.set_image(kubectl, "shop", "v2")
    paused = sc.wait_status(
        kubectl, "shop", "paused before promotion", lambda st: st.get("phase") == "Paused"
    )
    v2 = paused["currentPodHash"]
    assert [c["reason"] for c in paused["pauseConditions"]] == ["BlueGreenPause"]
    eventually(lambda: sc.selector_hash(kubectl, "shop-preview") == v2, what="preview Service on v2")
    eventually(
        lambda: sc.sizes(kubectl, "shop") == {v1: 3, v2: 1}, what="v2 at previewReplicaCount beside v1"
    )
    rs = sc.replica_sets(kubectl, "shop")
    assert rs[v2]["available"] == 1, "preview pods are available before anyone looks at them"
    assert sc.selector_hash(kubectl, "shop-active") == v1, "active stays on v1 until promoted"

    sc.promote(kubectl, "shop")
    sc.wait_healthy(kubectl, "shop", v2)
    assert sc.selector_hash(kubectl, "shop-active") == v2
    eventually(lambda: sc.sizes(kubectl, "shop") == {v1: 0, v2: 3}, what="v1 scaled down after the delay")


def test_automatic_promotion_after_auto_promotion_seconds(controller, kubectl: Kubectl) -> None:
    v1 = _deploy(kubectl, _bluegreen(autoPromotionSeconds=2))
    sc.set_image(kubectl, "shop", "v2")
    status = sc.wait_status(kubectl, "shop", "on its new revision", lambda st: st.get("currentPodHash") != v1)
    v2 = status["currentPodHash"]
    sc.wait_healthy(kubectl, "shop", v2)
    assert sc.selector_hash(kubectl, "shop-active") == v2
    eventually(lambda: sc.sizes(kubectl, "shop") == {v1: 0, v2: 3}, what="v1 scaled down after the delay")
