"""Two shards on one cluster: `--instance-id blue` and a controller without one.

Two real `kube-rollouts run --leader-elect` processes watch the same namespace. Each leads its own
Lease and carries only its own Rollout through an NGINX canary (the API server's audit log shows
which process wrote which object). Then the blue Rollout is relabelled into the other shard while
paused mid-delivery: the blue controller lets go without treating it as deleted (its canary weight
stays where it was), the other one carries on from its status and promotes it. And what the new
shard does with a moved Rollout's running AnalysisRun (`claim`), on the real API server.
"""

from __future__ import annotations

import json
import signal
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from e2e.cluster import Cluster
from e2e.cluster.control_plane import audit_log
from rollouts.controller.shards import claim
from rollouts.engine.shards import INSTANCE_LABEL
from rollouts.kube import KubeClient, KubeObject, meta
from tests.integration.controller import scenario as sc
from tests.integration.controller.conftest import ControllerProcess, lease_holder
from tests.integration.controller.test_routing import _ingress
from tests.support import Kubectl, eventually

WEIGHT = "nginx.ingress.kubernetes.io/canary-weight"
STEPS = [{"setWeight": 20}, {"pause": {}}, {"setWeight": 60}, {"pause": {"duration": "1s"}}]


def _stack(name: str, labels: dict[str, str]) -> list[dict[str, Any]]:
    ingress = _ingress(name, f"{name}-stable", host=f"{name}.example.com")
    strategy = {
        "canary": {
            "canaryService": f"{name}-canary",
            "stableService": f"{name}-stable",
            "trafficRouting": {"nginx": {"stableIngress": name}},
            "steps": STEPS,
        }
    }
    rollout = sc.rollout(name, strategy=strategy, replicas=2)
    rollout["metadata"]["labels"] = labels
    return [sc.service(f"{name}-stable", name), sc.service(f"{name}-canary", name), ingress, rollout]


def _weight(kubectl: Kubectl, name: str) -> str | None:
    found = kubectl("get", "ingress", f"{name}-{name}-canary", "-o", "json", check=False)
    if found.returncode != 0:
        return None
    return (json.loads(found.stdout)["metadata"].get("annotations") or {}).get(WEIGHT)


def _writes(
    cluster: Cluster, namespace: str, identities: dict[str, str], *, since: str = ""
) -> dict[str, set[str]]:
    """Which of the processes (by the name in ``identities``) wrote objects of each Rollout at or
    after ``since`` (an audit timestamp), read from the audit log: the Rollout, its ReplicaSets, its
    canary Ingress, its Events (all named after it)."""
    agents = {f"kube-rollouts ({identity})": who for who, identity in identities.items()}
    found: dict[str, set[str]] = {"web": set(), "api": set()}
    for line in audit_log(cluster).read_text().splitlines():
        event = json.loads(line)
        ref = event.get("objectRef") or {}
        who = agents.get(str(event.get("userAgent") or ""))
        if (
            who is None
            or ref.get("namespace") != namespace
            or event.get("verb") in ("get", "list", "watch")
            or event["requestReceivedTimestamp"] < since
        ):
            continue
        for name in found:
            if str(ref.get("name") or "").startswith(name):
                found[name].add(who)
    return found


def test_two_shards_each_carry_their_own_rollouts_and_a_relabelled_one_moves_over(
    cluster: Cluster, namespace: str, kubectl: Kubectl, rollout_crds: None, tmp_path: Path
) -> None:
    elect = ["--leader-elect", "--leader-election-namespace", namespace]
    (tmp_path / "plain").mkdir()
    (tmp_path / "blue").mkdir()
    plain = ControllerProcess(
        cluster=cluster, namespace=namespace, log_dir=tmp_path / "plain", extra_args=elect
    )
    blue = ControllerProcess(
        cluster=cluster,
        namespace=namespace,
        log_dir=tmp_path / "blue",
        extra_args=[*elect, "--instance-id", "blue"],
    )
    try:
        plain.start()
        blue.start()  # its own Lease: it leads at once beside the other
        assert lease_holder(kubectl, "kube-rollouts") == plain.identity()
        assert lease_holder(kubectl, "kube-rollouts-blue") == blue.identity()

        sc.apply(kubectl, *_stack("web", {"app": "web"}), *_stack("api", {INSTANCE_LABEL: "blue"}))
        for name in ("web", "api"):
            sc.wait_healthy(kubectl, name, timeout=60)
            sc.set_image(kubectl, name, "v2")
        for name in ("web", "api"):
            sc.wait_status(kubectl, name, "paused at 20%", lambda st: st.get("phase") == "Paused", timeout=60)
            eventually(lambda n=name: _weight(kubectl, n) == "20", timeout=30, what=f"{name} at 20%")
        identities = {"plain": plain.identity(), "blue": blue.identity()}
        assert _writes(cluster, namespace, identities) == {"web": {"plain"}, "api": {"blue"}}
        assert f"rollout {namespace}/api" not in plain.logs()
        assert f"rollout {namespace}/web" not in blue.logs()

        # Moved while paused: the blue controller sees it leave its watch, which is no deletion.
        moved = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        kubectl("label", "rollout.rollouts.dev", "api", f"{INSTANCE_LABEL}-")
        eventually(
            lambda: "left this controller's shard" in blue.logs(), timeout=30, what="blue to let go of api"
        )
        taken = f"rollout {namespace}/api"
        eventually(lambda: taken in plain.logs(), timeout=30, what="the plain shard to take api")
        assert _weight(kubectl, "api") == "20", "the canary keeps its traffic when its Rollout moves"
        assert sc.status(kubectl, "api").get("phase") == "Paused"

        sc.promote(kubectl, "api")
        sc.wait_healthy(kubectl, "api", timeout=60)
        assert _weight(kubectl, "api") in (None, "0")
        assert _writes(cluster, namespace, identities, since=moved) == {"web": set(), "api": {"plain"}}
    finally:
        plain.kill(signal.SIGTERM)
        blue.kill(signal.SIGTERM)


async def test_a_moved_rollout_claims_its_own_running_analysis_run_and_no_strangers(
    cluster: Cluster, namespace: str, rollout_crds: None
) -> None:
    metric = {"name": "m", "provider": {"web": {"url": "http://127.0.0.1:1/"}}, "successCondition": "true"}

    def run(name: str, owner: KubeObject) -> KubeObject:
        ref = {"apiVersion": "rollouts.dev/v1alpha1", "kind": "Rollout", "controller": True}
        ref |= {"name": meta(owner)["name"], "uid": meta(owner)["uid"]}
        labels = {INSTANCE_LABEL: "blue"}
        return {
            "apiVersion": "rollouts.dev/v1alpha1",
            "kind": "AnalysisRun",
            "metadata": {"name": name, "namespace": namespace, "labels": labels, "ownerReferences": [ref]},
            "spec": {"metrics": [metric]},
        }

    async with KubeClient.from_config(kubeconfig=cluster.kubeconfig) as client:
        body = sc.rollout("api", strategy={"canary": {"steps": [{"pause": {}}]}}, replicas=0)
        body["metadata"] |= {"namespace": namespace, "labels": {INSTANCE_LABEL: "green"}}
        moved = await client.create(body)
        stranger = await client.create({**body, "metadata": {**body["metadata"], "name": "other"}})
        ours = await client.create(run("api-run", moved))
        theirs = await client.create(run("other-run", stranger))

        claimed = await claim(client, ours, owner=moved)
        assert meta(claimed)["labels"][INSTANCE_LABEL] == "green"
        assert await claim(client, theirs, owner=moved) is theirs  # another Rollout's: left alone
        assert await claim(client, claimed, owner=moved) is claimed  # in its shard already: no write

        unlabelled = await client.patch(
            "rollouts.dev/v1alpha1", "Rollout", namespace=namespace, name="api",
            patch={"metadata": {"labels": {INSTANCE_LABEL: None}}},
        )  # fmt: skip
        back = await claim(client, claimed, owner=unlabelled)
        assert INSTANCE_LABEL not in (meta(back).get("labels") or {})
        fresh = await client.get(
            "rollouts.dev/v1alpha1", "AnalysisRun", namespace=namespace, name="other-run"
        )
        assert meta(fresh)["labels"][INSTANCE_LABEL] == "blue"
