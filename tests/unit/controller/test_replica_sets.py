"""The ReplicaSet of a revision: labels on itself, its selector and template; owner; adoption."""

from __future__ import annotations

from rollouts.controller.replica_sets import adoption_patch, desired_replica_set, same_revision
from rollouts.engine import CreateReplicaSet

HASH = "rollouts-pod-template-hash"
ROLLOUT = {
    "apiVersion": "rollouts.dev/v1alpha1",
    "kind": "Rollout",
    "metadata": {"name": "web", "namespace": "shop", "uid": "u-1"},
    "spec": {
        "minReadySeconds": 5,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "i"}]},
        },
    },
}
ACTION = CreateReplicaSet(name="web-abc", pod_template_hash="abc", replicas=2, revision=7)


def test_the_hash_is_on_the_replica_set_its_selector_and_its_pods() -> None:
    rs = desired_replica_set(ROLLOUT, ACTION)
    assert rs["metadata"]["labels"] == {"app": "web", HASH: "abc"}
    assert rs["spec"]["selector"]["matchLabels"] == {"app": "web", HASH: "abc"}
    assert rs["spec"]["template"]["metadata"]["labels"] == {"app": "web", HASH: "abc"}
    assert rs["spec"]["replicas"] == 2 and rs["spec"]["minReadySeconds"] == 5
    assert rs["metadata"]["annotations"]["rollouts.dev/revision"] == "7"
    owner = rs["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["uid"], owner["controller"]) == ("Rollout", "u-1", True)
    assert ROLLOUT["spec"]["template"]["metadata"]["labels"] == {"app": "web"}, "the Rollout is not modified"


def test_an_existing_replica_set_is_ours_only_when_it_is_this_revision_and_nobody_elses() -> None:
    ours = desired_replica_set(ROLLOUT, ACTION)
    assert same_revision(ours, ROLLOUT, "abc")
    orphan = {**ours, "metadata": {**ours["metadata"], "ownerReferences": []}}
    assert same_revision(orphan, ROLLOUT, "abc")
    foreign_owner = [{"uid": "other", "controller": True, "kind": "Deployment", "name": "x"}]
    foreign = {**ours, "metadata": {**ours["metadata"], "ownerReferences": foreign_owner}}
    assert not same_revision(foreign, ROLLOUT, "abc")
    other_revision = {**ours, "metadata": {**ours["metadata"], "labels": {HASH: "zzz"}}}
    assert not same_revision(other_revision, ROLLOUT, "abc")


def test_adopting_an_orphan_adds_the_controller_reference_guarded_by_its_version() -> None:
    orphan = {"metadata": {"name": "web-abc", "resourceVersion": "9", "ownerReferences": []}}
    patch = adoption_patch(orphan, ROLLOUT)
    assert patch is not None and patch["metadata"]["resourceVersion"] == "9"
    assert patch["metadata"]["ownerReferences"][0]["uid"] == "u-1"
    assert adoption_patch(desired_replica_set(ROLLOUT, ACTION), ROLLOUT) is None
