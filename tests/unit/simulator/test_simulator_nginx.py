"""NGINX canary Ingresses: the canary takes its weight of the stable location's requests, only ready
pods serve, and the series carry the labels ingress-nginx gives them."""

from __future__ import annotations

import pytest

from e2e.simulator import NamespaceObjects, Simulation
from e2e.simulator.nginx import canary_share, nginx_streams
from tests.unit.simulator.objects import canary_ingress, ingress, pods, replica_set, service

NS = "shop"


def _objects(
    *, weight: int | str = 20, canary_image: str = "web:2", canary_ready: int = 1, **extra: object
) -> NamespaceObjects:
    return NamespaceObjects(
        namespace=NS,
        services=(
            service("web-stable", app="web", **{"rollouts-pod-template-hash": "aaa"}),
            service("web-canary", app="web", **{"rollouts-pod-template-hash": "bbb"}),
        ),
        pods=(
            *pods("web", "aaa", image="web:1", ready=4),
            *pods("web", "bbb", image=canary_image, ready=canary_ready),
        ),
        replica_sets=(
            replica_set("web-aaa", owner="web", pod_hash="aaa"),
            replica_set("web-bbb", owner="web", pod_hash="bbb"),
        ),
        ingresses=(
            ingress("web", service_name="web-stable"),
            canary_ingress("web-web-canary", service_name="web-canary", weight=weight),
        ),
    )


def _rate(
    objects: NamespaceObjects, *, canary: bool, status: str | None = None, seconds: float = 100.0
) -> float:
    sim = Simulation(rate=50)
    sim.observe([objects])
    sim.tick(0.0)
    sim.tick(seconds)
    match = {"status": status} if status else {}
    total = sum(
        int(v)
        for (fam, ls), v in sim.counters.requests.items()
        if fam == "nginx"
        and (dict(ls)["canary"] != "") == canary
        and all(dict(ls).get(k) == want for k, want in match.items())
    )
    return total / seconds


def test_canary_ingress_takes_its_weight_of_the_stable_ingress_requests() -> None:
    objects = _objects(weight=20)
    assert _rate(objects, canary=True) == pytest.approx(10, abs=0.02)
    assert _rate(objects, canary=False) == pytest.approx(40, abs=0.02)


def test_series_are_labelled_as_ingress_nginx_labels_them() -> None:
    streams = nginx_streams(_objects(weight=20), rate=50)
    canary = next(s for s in streams if s.label("canary"))
    stable = next(s for s in streams if not s.label("canary"))
    # nginx labels by location: both halves carry the stable Ingress and its Service.
    assert dict(stable.labels) == {
        "namespace": NS, "ingress": "web", "service": "web-stable", "canary": "",
        "host": "web.example.com", "path": "/", "method": "GET",
    }  # fmt: skip
    assert canary.label("ingress") == "web" and canary.label("service") == "web-stable"
    assert canary.label("canary") == f"{NS}-web-canary-80"


def test_a_bad_image_fails_thirty_percent_and_a_good_one_almost_nothing() -> None:
    objects = _objects(weight=50, canary_image="example.com/web:2.0-bad")
    canary_errors = _rate(objects, canary=True, status="500") / _rate(objects, canary=True)
    stable_errors = _rate(objects, canary=False, status="500") / _rate(objects, canary=False)
    assert canary_errors == pytest.approx(0.30, abs=0.005)
    assert stable_errors == pytest.approx(0.001, abs=0.001)


def test_weight_on_a_version_without_ready_pods_is_answered_with_503() -> None:
    objects = _objects(weight=20, canary_ready=0)
    assert _rate(objects, canary=True, status="503") == pytest.approx(10, abs=0.02)
    assert _rate(objects, canary=True, status="200") == 0


def test_not_ready_and_terminating_pods_get_no_traffic() -> None:
    base = _objects(weight=100)
    unready = [p for p in base.pods if "bbb" not in p["metadata"]["name"]]
    unready += pods("web", "bbb", image="web:2", ready=0, not_ready=2)
    objects = NamespaceObjects(
        namespace=NS, services=base.services, pods=tuple(unready), ingresses=base.ingresses
    )
    assert _rate(objects, canary=True, status="503") == pytest.approx(50, abs=0.02)


def test_a_service_selecting_two_versions_splits_by_ready_pods() -> None:
    """Before the controller pins the Services to a hash, `app=web` selects both versions."""
    objects = NamespaceObjects(
        namespace=NS,
        services=(service("web-stable", app="web"),),
        pods=(*pods("web", "aaa", image="web:1", ready=3), *pods("web", "bbb", image="web:2-bad", ready=1)),
        ingresses=(ingress("web", service_name="web-stable"),),
    )
    streams = [s for s in nginx_streams(objects, rate=40) if s.family == "nginx"]
    assert sorted((s.rate, s.profile.name) for s in streams) == [(10.0, "bad"), (30.0, "healthy")]


@pytest.mark.parametrize(
    ("notes", "share"),
    [
        (
            {"nginx.ingress.kubernetes.io/canary": "true", "nginx.ingress.kubernetes.io/canary-weight": "30"},
            0.30,
        ),
        (
            {
                "custom.io/canary": "true",
                "custom.io/canary-weight": "5",
                "custom.io/canary-weight-total": "10",
            },
            0.5,
        ),
        ({"nginx.ingress.kubernetes.io/canary": "true"}, 0.0),
        (
            {"nginx.ingress.kubernetes.io/canary": "true", "nginx.ingress.kubernetes.io/canary-weight": "x"},
            0.0,
        ),
        (
            {
                "nginx.ingress.kubernetes.io/canary": "false",
                "nginx.ingress.kubernetes.io/canary-weight": "30",
            },
            0.0,
        ),
        (
            {
                "nginx.ingress.kubernetes.io/canary": "true",
                "nginx.ingress.kubernetes.io/canary-weight": "150",
            },
            1.0,
        ),
    ],
)
def test_canary_share_reads_weight_and_total_under_any_prefix(notes: dict[str, str], share: float) -> None:
    assert canary_share({"metadata": {"annotations": notes}}) == pytest.approx(share)


def test_a_canary_without_a_matching_stable_location_gets_nothing() -> None:
    objects = NamespaceObjects(
        namespace=NS,
        services=(service("web-stable", app="web"), service("web-canary", app="web")),
        pods=tuple(pods("web", "aaa", image="web:1", ready=2)),
        ingresses=(
            ingress("web", service_name="web-stable", host="a.example.com"),
            canary_ingress("other-canary", service_name="web-canary", weight=50),  # host web.example.com
        ),
    )
    streams = [s for s in nginx_streams(objects, rate=50) if s.family == "nginx"]
    assert [s.label("canary") for s in streams] == [""]
    assert sum(s.rate for s in streams) == 50
