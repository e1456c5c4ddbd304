"""The whole selector a switch applies, and the warning when a GitOps agent shares it.

A Service's ``spec.selector`` is one atomic field under server-side apply: whoever applies it owns
all of it. The controller therefore plans the complete selector it writes, and says (a Warning
Event) when another server-side applier owns it too, since each of that agent's re-applies takes
the revision label away again.
"""

from __future__ import annotations

from rollouts.engine import canary
from rollouts.engine.hashing import POD_TEMPLATE_HASH_LABEL as HASH
from rollouts.engine.plan import EventType, Plan, SetWeight, SwitchServiceSelector
from rollouts.engine.references import SERVICE
from rollouts.engine.revisions import revision_selector
from rollouts.engine.shared_fields import SHARED_FIELD_REASON, SharedField, WrittenField
from rollouts.engine.snapshot import ObservedService
from tests.unit.engine.scenario import SERVICES_V1, V1, V2, canary_rollout, mid, of_type, rs, snapshot


def test_a_service_keeps_its_own_labels_and_gains_the_revision() -> None:
    assert revision_selector({"app": "web", "tier": "front"}, {"app": "web"}, V2) == {
        "app": "web",
        "tier": "front",
        HASH: V2,
    }


def test_the_previous_revision_label_is_replaced_not_kept() -> None:
    assert revision_selector({"app": "web", HASH: V1}, {"app": "web"}, V2) == {"app": "web", HASH: V2}


def test_a_service_without_a_selector_gets_the_rollouts_match_labels() -> None:
    # The GitOps form: the manifest leaves spec.selector to the controller.
    assert revision_selector({}, {"app": "web"}, V2) == {"app": "web", HASH: V2}
    # Once written, the next switch reads the labels back and keeps them.
    assert revision_selector({"app": "web", HASH: V1}, {"app": "web"}, V2) == {"app": "web", HASH: V2}


def _switch_plan(canary_service: ObservedService, *shared: SharedField) -> Plan:
    snap = snapshot(
        canary_rollout(status=mid(0)),
        replica_sets=(rs(V1, 10), rs(V2, 2, revision=2)),
        services=(SERVICES_V1[0], canary_service),
        router_canary_weight=0,
        shared=shared,
    )
    return canary.decide(snap)


def test_the_switch_carries_the_selector_it_applies() -> None:
    plan = _switch_plan(ObservedService(name="web-canary"))
    [switch] = of_type(plan, SwitchServiceSelector)
    assert switch.service == "web-canary" and dict(switch.selector) == {"app": "web", HASH: V2}
    assert not [e for e in plan.events if e.reason == SHARED_FIELD_REASON]


def test_a_selector_another_applier_owns_is_a_warning_naming_it_and_the_fix() -> None:
    assert SERVICE.writes is not None
    shared = SharedField(
        kind="Service", name="web-canary", field=SERVICE.writes, appliers=("kustomize-controller",)
    )
    plan = _switch_plan(ObservedService(name="web-canary", selector={"app": "web"}), shared)
    [warning] = [e for e in plan.events if e.reason == SHARED_FIELD_REASON]
    assert warning.type is EventType.WARNING
    assert warning.message.startswith(
        "Service web-canary: spec.selector is also applied by kustomize-controller;"
    )
    assert "leave spec.selector out of the Service's manifest" in warning.message


def test_a_router_object_another_applier_owns_is_a_warning_when_the_weight_is_written() -> None:
    vs = SharedField(
        kind="VirtualService",
        name="web",
        field=WrittenField(path="spec.http", fix="give the canary weight 0 in the manifest"),
        appliers=("kustomize-controller",),
    )
    plan = _switch_plan(ObservedService(name="web-canary"), vs)
    [warning] = [e for e in plan.events if e.reason == SHARED_FIELD_REASON]
    assert of_type(plan, SetWeight) and warning.message.startswith(
        "VirtualService web: spec.http is also applied"
    )
