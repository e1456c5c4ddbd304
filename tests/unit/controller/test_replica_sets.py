"""The ReplicaSet of a revision: labels on itself, its selector and template; owner; adoption."""

from __future__ import annotations

import copy
from dataclasses import replace

import pytest

from rollouts.controller.replica_sets import (
    adoption_patch,
    anti_affinity_removal,
    desired_replica_set,
    metadata_delta,
    same_revision,
)
from rollouts.engine import CreateReplicaSet, InjectedAntiAffinity

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


def _with_own_affinity() -> dict[str, object]:
    """The Rollout with an anti-affinity rule of its own, which must survive ours coming and going."""
    rollout = copy.deepcopy(ROLLOUT)
    own = {"labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": "topology.kubernetes.io/zone"}
    rollout["spec"]["template"]["spec"]["affinity"] = {  # type: ignore[index]
        "nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": []},
        "podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [own]},
    }
    return rollout


@pytest.mark.parametrize("weight", [None, 40])
def test_anti_affinity_is_added_beside_the_templates_rules_and_taken_off_again(weight: int | None) -> None:
    action = replace(ACTION, anti_affinity=InjectedAntiAffinity(stable_hash="old", weight=weight))
    rollout = _with_own_affinity()
    rs = desired_replica_set(rollout, action)
    assert rs["metadata"]["annotations"]["rollouts.dev/anti-affinity-to"] == "old"
    anti = rs["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]
    ours = {
        "labelSelector": {"matchExpressions": [{"key": HASH, "operator": "In", "values": ["old"]}]},
        "topologyKey": "kubernetes.io/hostname",
    }
    if weight is None:
        assert anti["requiredDuringSchedulingIgnoredDuringExecution"][-1] == ours
    else:
        assert anti["preferredDuringSchedulingIgnoredDuringExecution"] == [
            {"weight": 40, "podAffinityTerm": ours}
        ]
    rs["metadata"]["resourceVersion"] = "12"
    patch = anti_affinity_removal(rs)
    assert patch is not None and patch["metadata"] == {
        "annotations": {"rollouts.dev/anti-affinity-to": None},
        "resourceVersion": "12",
    }
    own = rollout["spec"]["template"]["spec"]["affinity"]  # type: ignore[index]
    assert patch["spec"]["template"]["spec"]["affinity"] == {
        "nodeAffinity": own["nodeAffinity"],
        "podAntiAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": own["podAntiAffinity"][
                "requiredDuringSchedulingIgnoredDuringExecution"
            ],
            "preferredDuringSchedulingIgnoredDuringExecution": None,
        },
    }


def test_removing_our_only_rule_removes_the_affinity_and_a_plain_replica_set_needs_nothing() -> None:
    action = replace(ACTION, anti_affinity=InjectedAntiAffinity(stable_hash="old", weight=None))
    rs = desired_replica_set(ROLLOUT, action)
    patch = anti_affinity_removal(rs)
    assert patch is not None and patch["spec"]["template"]["spec"]["affinity"] is None
    assert anti_affinity_removal(desired_replica_set(ROLLOUT, ACTION)) is None


def test_side_metadata_is_on_the_pods_only_and_a_move_removes_what_the_old_side_had() -> None:
    key = '{"annotations":{"team":"pay"},"labels":{"role":"canary"}}'
    rs = desired_replica_set(ROLLOUT, replace(ACTION, pod_metadata=key))
    assert rs["spec"]["template"]["metadata"]["labels"] == {"app": "web", HASH: "abc", "role": "canary"}
    assert rs["spec"]["template"]["metadata"]["annotations"] == {"team": "pay"}
    assert rs["metadata"]["labels"] == {"app": "web", HASH: "abc"}  # the ReplicaSet's own: no side
    assert rs["metadata"]["annotations"]["rollouts.dev/pod-metadata"] == key
    assert metadata_delta('{"labels":{"role":"stable"}}', key) == {
        "labels": {"role": "stable"},
        "annotations": {"team": None},
    }
    assert metadata_delta(None, '{"labels":{"role":"canary"}}') == {"labels": {"role": None}}
