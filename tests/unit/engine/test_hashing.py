"""The pod-template hash names revisions: it must be stable, order-blind and collision-aware."""

from __future__ import annotations

import json
import random
import re
import subprocess
import sys
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rollouts.engine.hashing import (
    HASH_LENGTH,
    POD_TEMPLATE_HASH_LABEL,
    canonical_template,
    pod_template_hash,
    replica_set_name,
    steps_hash,
)

TEMPLATE: dict[str, Any] = {
    "metadata": {"labels": {"app": "shop", "tier": "web"}, "annotations": {"team": "payments"}},
    "spec": {
        "containers": [
            {
                "name": "shop",
                "image": "registry.example/shop:1.4.2",
                "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                "env": [{"name": "MODE", "value": "prod"}, {"name": "RATIO", "value": "0.5"}],
                "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}},
            }
        ],
        "terminationGracePeriodSeconds": 30,
    },
}

# Kubernetes' safe alphabet: no vowels, no 0/1/3; a valid label value and DNS-1123 name suffix.
SAFE = re.compile(rf"^[bcdfghjklmnpqrstvwxz2456789]{{{HASH_LENGTH}}}$")


def _shuffled(value: Any, rng: random.Random) -> Any:
    """Same data, every mapping's keys in a random order (lists keep their order: it matters)."""
    if isinstance(value, dict):
        items = list(value.items())
        rng.shuffle(items)
        return {key: _shuffled(item, rng) for key, item in items}
    if isinstance(value, list):
        return [_shuffled(item, rng) for item in value]
    return value


def test_hash_is_short_and_label_safe() -> None:
    assert SAFE.match(pod_template_hash(TEMPLATE))


def test_hash_is_pinned_across_releases() -> None:
    """Changing the hash renames every ReplicaSet in every cluster on upgrade: never by accident."""
    assert pod_template_hash(TEMPLATE) == pod_template_hash(TEMPLATE)
    assert pod_template_hash({}) == "lw8hfmp9cz"


def test_hash_is_the_same_in_a_fresh_interpreter() -> None:
    """Python salts str hashes per process; our hash must not depend on that."""
    code = (
        "import json,sys; from rollouts.engine.hashing import pod_template_hash;"
        "print(pod_template_hash(json.loads(sys.argv[1]), collision_count=2))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, json.dumps(TEMPLATE)],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "12345", "PATH": ""},
    )
    assert out.stdout.strip() == pod_template_hash(TEMPLATE, collision_count=2)


@given(seed=st.integers(0, 2**32))
def test_hash_ignores_key_order(seed: int) -> None:
    assert pod_template_hash(_shuffled(TEMPLATE, random.Random(seed))) == pod_template_hash(TEMPLATE)


def test_own_label_does_not_feed_the_hash() -> None:
    labelled = _shuffled(TEMPLATE, random.Random(0))
    labelled["metadata"]["labels"][POD_TEMPLATE_HASH_LABEL] = pod_template_hash(TEMPLATE)
    assert pod_template_hash(labelled) == pod_template_hash(TEMPLATE)
    assert TEMPLATE["metadata"]["labels"].get(POD_TEMPLATE_HASH_LABEL) is None  # input not mutated


def test_nulls_hash_like_absent_fields() -> None:
    with_nulls = {**TEMPLATE, "spec": {**TEMPLATE["spec"], "nodeSelector": None}}
    assert pod_template_hash(with_nulls) == pod_template_hash(TEMPLATE)


@pytest.mark.parametrize(
    "change",
    [
        lambda t: t["spec"]["containers"][0].__setitem__("image", "registry.example/shop:1.4.3"),
        lambda t: t["metadata"]["labels"].__setitem__("tier", "api"),
        lambda t: t["metadata"]["annotations"].__setitem__("restartedAt", "now"),
        lambda t: t["spec"]["containers"][0]["env"].reverse(),  # list order is meaningful
        lambda t: t["spec"].__setitem__("terminationGracePeriodSeconds", "30"),  # 30 != "30"
    ],
)
def test_any_real_change_changes_the_hash(change: Any) -> None:
    changed = _shuffled(TEMPLATE, random.Random(1))
    change(changed)
    assert pod_template_hash(changed) != pod_template_hash(TEMPLATE)


def test_collision_count_gives_a_new_name() -> None:
    names = {pod_template_hash(TEMPLATE, collision_count=n) for n in range(1, 50)}
    assert len(names) == 49
    assert pod_template_hash(TEMPLATE) not in names
    assert all(SAFE.match(name) for name in names)


def test_collision_count_zero_is_the_same_as_none() -> None:
    """A status going from absent to an explicit 0 must not rename the live ReplicaSet."""
    assert pod_template_hash(TEMPLATE, collision_count=0) == pod_template_hash(TEMPLATE)


def test_negative_collision_count_is_rejected() -> None:
    with pytest.raises(ValueError, match="collision_count"):
        pod_template_hash(TEMPLATE, collision_count=-1)


def test_non_json_template_is_a_clear_error() -> None:
    with pytest.raises(TypeError, match="plain JSON"):
        canonical_template({"spec": {"when": object()}})


def test_hashes_are_well_distributed() -> None:
    """10k templates differing only in one image tag: no collisions, every character used evenly
    enough that no position is stuck."""
    hashes = [
        pod_template_hash({"spec": {"containers": [{"name": "a", "image": f"app:{i}"}]}})
        for i in range(10_000)
    ]
    assert len(set(hashes)) == len(hashes)
    for position in range(HASH_LENGTH):
        seen = {h[position] for h in hashes}
        assert len(seen) == 27
    first_chars = [h[0] for h in hashes]
    counts = [first_chars.count(c) for c in set(first_chars)]
    assert max(counts) < 2 * min(counts)  # expected ~370 each; a skewed encoding fails this


def test_steps_hash_follows_the_steps_not_their_spelling() -> None:
    steps = [{"setWeight": 20}, {"pause": {"duration": "1m"}}]
    reordered = [{"setWeight": 20}, {"pause": {"duration": "1m"}, "analysis": None}]
    assert steps_hash(steps) == steps_hash(reordered)
    assert steps_hash(steps) != steps_hash([{"setWeight": 30}, {"pause": {"duration": "1m"}}])
    assert steps_hash(steps) != steps_hash(list(reversed(steps)))
    assert len(steps_hash([])) == 10 and steps_hash([]) != steps_hash(steps)


def test_a_revision_replica_set_is_named_after_its_rollout_and_hash() -> None:
    hashed = pod_template_hash(TEMPLATE)
    assert replica_set_name("shop", hashed) == f"shop-{hashed}"
    assert replica_set_name(None, hashed) == f"rollout-{hashed}"
