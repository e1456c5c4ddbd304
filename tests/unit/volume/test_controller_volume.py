"""Issue 10, bad input at volume: generated Rollouts and templates through the controller's pass.

The real :class:`~rollouts.controller.reconciler.Reconciler` runs over the real watch caches
(:class:`~rollouts.controller.caches.Caches`: its parse cache ``ParsedByVersion`` and reverse
index), ``observe``, the engine's ``decide`` and ``act``, against :class:`FakeApi`, an in-memory
API server that plays the ReplicaSet controller between passes. No cluster.

A valid bundle must reconcile without an error. A bundle broken mid-delivery (the Rollout edited
into a bad spec, or a template it names) must end its pass with a user error whose message names
the object and the field (the InvalidSpec status, as the rule "bad input gets a clear error that
names the object, the field and the fix" says), keep every bit of the delivery's progress in the
status ("loses nothing"), and take up the delivery again once the spec is fixed. No pass may raise
(the runner would log it as a bug) or hang.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rollouts.controller.outcome import Outcome
from tests.unit.volume.bounds import VOLUME
from tests.unit.volume.broken import every_field_broken, mutated
from tests.unit.volume.harness import Controller
from tests.unit.volume.rich import RICH, RICH_TEMPLATE
from tests.unit.volume.valid import NAME, NAMESPACE, Bundle, bundles, ingress, service

FIELD = re.compile(r"`[^`\s]+`|\b(spec|metadata|status)\.[A-Za-z]")
"""A field path, as the controller's messages write it (backticked, or spelled out from spec.)."""

PROGRESS = ("stableRS", "currentPodHash", "currentStepIndex", "currentStepHash", "pauseConditions", "abort")
"""Status fields that say how far a delivery is: an invalid spec must keep every one."""


def served(body: Any, *, original: dict[str, Any]) -> dict[str, Any]:
    """``body`` as the API server hands it to the controller: JSON, under the type and metadata the
    server routed and wrote (a manifest with another kind or no name never reaches this controller)."""
    data = json.loads(json.dumps(body, default=str))
    data = data if isinstance(data, dict) else {}
    return {
        **data,
        "apiVersion": original["apiVersion"],
        "kind": original["kind"],
        "metadata": original["metadata"],
    }


def _key(obj: dict[str, Any]) -> tuple[str, str, str, str]:
    namespace = "" if obj["kind"] == "ClusterAnalysisTemplate" else NAMESPACE
    return (obj["apiVersion"], obj["kind"], namespace, obj["metadata"]["name"])


@VOLUME
@given(bundle=bundles(), passes=st.integers(1, 8))
def test_a_valid_bundle_delivers_without_an_error(bundle: Bundle, passes: int) -> None:
    controller = Controller(bundle.documents())
    controller.deliver(bundle.rollout, passes)
    assert [o.error for o in controller.outcomes if o.error] == [], controller.recorder.events
    assert controller.status.get("phase") != "Degraded", controller.status


@settings(VOLUME, max_examples=120)
@given(data=st.data())
def test_a_bad_edit_mid_delivery_names_the_field_and_loses_nothing(data: st.DataObject) -> None:
    bundle = data.draw(bundles())
    controller = Controller(bundle.documents())
    update = controller.deliver(bundle.rollout, data.draw(st.integers(0, 5)))
    before = controller.status
    target = data.draw(st.sampled_from([update, update, *bundle.templates]))
    key = _key(target)
    original = copy.deepcopy(controller.api.objects[key])
    controller.edit(key, served(data.draw(mutated(target)), original=original))

    (outcome,) = controller.reconcile()
    assert _problem(outcome, before, controller.status) is None

    controller.edit(key, served(target, original=original))
    assert _resumed(controller.reconcile(2))


NEIGHBOURS = {
    "canary": [service("web-canary"), service("web-stable"), ingress("web-stable")],
    "blue-green": [service("web-active"), service("web-preview")],
}


@pytest.mark.parametrize("base", ["canary", "blue-green", "template"])
def test_every_field_broken_every_way_mid_delivery_names_the_field_and_loses_nothing(base: str) -> None:
    """Exhaustive where the test above samples: each place of a known field given each bad value
    (and each place removed), one after another on one delivery in progress."""
    strategy = "canary" if base == "template" else base
    controller = Controller([*NEIGHBOURS[strategy], RICH_TEMPLATE, RICH[strategy]])
    update = controller.deliver(RICH[strategy], 4)
    assert [o.error for o in controller.outcomes if o.error] == []
    target = RICH_TEMPLATE if base == "template" else update
    key = _key(target)
    original = copy.deepcopy(controller.api.objects[key])
    failures: list[tuple[Any, ...]] = []
    for path, value, body in every_field_broken(target):
        before = controller.status
        controller.edit(key, served(body, original=original))
        try:
            (outcome,) = controller.reconcile()
        except Exception as exc:  # every failure is reported at once, not only the first
            failures.append((path, value, repr(exc)))
            continue
        problem = _problem(outcome, before, controller.status)
        if problem:
            failures.append((path, value, problem))
    controller.edit(key, served(target, original=original))
    assert _resumed(controller.reconcile(2))
    assert failures == []


def _resumed(outcomes: list[Outcome]) -> bool:
    """Whether the passes after the fix end without an error (a conflicted status write, which the
    next pass redoes, aside)."""
    last = outcomes[-1].error
    return last is None or last.startswith("status write conflicted")


def _problem(outcome: Outcome, before: dict[str, Any], after: dict[str, Any]) -> str | None:
    """What is wrong with how a pass ended on a (possibly) broken spec; ``None`` when all is right."""
    if outcome.error is None or outcome.error.startswith("status write conflicted"):
        return None
    conditions = {c.get("type"): c for c in after.get("conditions") or []}
    invalid = conditions.get("InvalidSpec", {}).get("message", "")
    if after.get("phase") != "Degraded" or not (FIELD.search(invalid) and NAME in invalid):
        return f"no field or object named: {outcome.error}; status {after}"
    lost = {k: (before.get(k), after.get(k)) for k in PROGRESS if before.get(k) != after.get(k)}
    return f"progress lost: {lost}" if lost else None
