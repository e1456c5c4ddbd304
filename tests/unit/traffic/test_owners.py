"""Ownership: only an object whose controller reference is this Rollout's uid counts as ours."""

from __future__ import annotations

from typing import Any

import pytest

from rollouts.traffic.owners import describe_owner, is_controlled_by, owner_reference
from tests.unit.traffic.manifests import nginx_rollout

ROLLOUT = nginx_rollout()
OURS = owner_reference(ROLLOUT)


def obj(*refs: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"name": "x", "ownerReferences": list(refs)}}


@pytest.mark.parametrize(
    ("candidate", "ours"),
    [
        (obj(OURS), True),
        (obj({**OURS, "uid": "uid-of-an-earlier-web"}), False),
        (obj({**OURS, "controller": False}), False),
        (obj({**OURS, "apiVersion": "argoproj.io/v1alpha1"}), False),
        (obj({**OURS, "apiVersion": "rollouts.dev/v1beta1"}), True),
        (
            obj(
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "name": "web",
                    "uid": "d1",
                    "controller": True,
                }
            ),
            False,
        ),
        (obj(), False),
        ({"metadata": {"name": "x"}}, False),
    ],
    ids=[
        "ours",
        "same name other uid",
        "not controller",
        "argo rollout",
        "ours from a later API version",
        "deployment",
        "empty refs",
        "no refs",
    ],
)
def test_is_controlled_by(candidate: dict[str, Any], ours: bool) -> None:
    assert is_controlled_by(candidate, ROLLOUT) is ours


def test_describe_owner_says_who_or_that_nobody() -> None:
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "legacy",
        "uid": "d1",
        "controller": True,
    }
    assert describe_owner(obj(deployment)) == "Deployment legacy (uid d1)"
    assert "created by hand or by another tool" in describe_owner({"metadata": {}})
    assert "Deployment legacy" in describe_owner(obj({**deployment, "controller": False}))


def test_owner_reference_needs_a_uid() -> None:
    ro = ROLLOUT.model_copy(update={"metadata": ROLLOUT.metadata.model_copy(update={"uid": None})})
    with pytest.raises(ValueError, match=r"metadata\.uid"):
        owner_reference(ro)
