"""Shards: one instance label, disjoint selectors, children labelled like their owner."""

from __future__ import annotations

import pytest

from rollouts.engine.shards import (
    INSTANCE_LABEL,
    InvalidInstanceId,
    belongs,
    check_instance_id,
    instance_labels,
    instance_selector,
)
from rollouts.kube.selectors import selector_matches

LABELS = [None, {}, {"app": "web"}, {INSTANCE_LABEL: "a"}, {INSTANCE_LABEL: "b"}, {INSTANCE_LABEL: ""}]


@pytest.mark.parametrize("labels", LABELS)
def test_an_object_belongs_to_at_most_one_of_the_shards_and_belongs_is_the_selector(
    labels: dict[str, str] | None,
) -> None:
    shards = [None, "a", "b"]
    found = [shard for shard in shards if belongs(labels, shard)]
    assert len(found) <= 1
    for shard in shards:
        assert belongs(labels, shard) == selector_matches(instance_selector(shard), labels)


def test_an_empty_label_value_is_no_shards_and_the_unlabelled_shard_is_everything_else() -> None:
    assert not any(belongs({INSTANCE_LABEL: ""}, shard) for shard in (None, "a"))
    assert belongs({"app": "web"}, None) and not belongs({"app": "web"}, "a")
    assert instance_selector(None) == f"!{INSTANCE_LABEL}"
    assert instance_selector("a") == f"{INSTANCE_LABEL}=a"


def test_children_copy_only_the_instance_label() -> None:
    assert instance_labels({INSTANCE_LABEL: "a", "app": "web"}) == {INSTANCE_LABEL: "a"}
    assert instance_labels({"app": "web"}) == {} and instance_labels(None) == {}


@pytest.mark.parametrize("value", ["a", "shard-1", "team.payments_2", "x" * 63])
def test_a_label_value_is_an_instance_id(value: str) -> None:
    assert check_instance_id(value) == value


def test_no_instance_id_is_the_unlabelled_shard() -> None:
    assert check_instance_id(None) is None and check_instance_id("") is None


@pytest.mark.parametrize("value", ["-a", "a-", "a b", "a/b", "x" * 64])
def test_an_instance_id_that_is_no_label_value_is_refused_naming_the_flag_and_the_rule(value: str) -> None:
    with pytest.raises(InvalidInstanceId, match=r"--instance-id .* is not a label value: at most 63"):
        check_instance_id(value)
