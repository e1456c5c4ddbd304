"""The router table: the Rollout's trafficRouting key picks the router; unknown names never fall back."""

from __future__ import annotations

import pytest

from rollouts.traffic import ROUTERS, IstioRouter, NginxRouter, UnknownRouterError, router_for, router_named
from rollouts.traffic.istio_routes import istio_settings
from rollouts.traffic.router import InvalidRoutingError
from tests.unit.traffic.manifests import istio_rollout, nginx_rollout, rollout


def test_every_api_router_has_a_registry_line() -> None:
    from rollouts.api import RolloutTrafficRouting

    api_keys = {field.alias or name for name, field in RolloutTrafficRouting.model_fields.items()}
    assert set(ROUTERS) == set(RolloutTrafficRouting.ROUTER_FIELDS)
    assert api_keys - set(ROUTERS) == {"maxTrafficWeight", "managedRoutes"}  # settings of any router


def test_the_rollout_picks_its_router() -> None:
    assert isinstance(router_for(nginx_rollout()), NginxRouter)
    assert isinstance(router_for(istio_rollout()), IstioRouter)


def test_no_traffic_routing_means_no_router() -> None:
    ro = nginx_rollout()
    canary = ro.spec.strategy.canary
    assert canary is not None
    plain = ro.model_copy(
        update={
            "spec": ro.spec.model_copy(
                update={
                    "strategy": ro.spec.strategy.model_copy(
                        update={"canary": canary.model_copy(update={"traffic_routing": None})}
                    )
                }
            )
        }
    )
    assert router_for(plain) is None


@pytest.mark.parametrize("name", ["prometheus", "Nginx", "", "alb"])
def test_unknown_router_names_raise_and_list_the_known_ones(name: str) -> None:
    with pytest.raises(UnknownRouterError) as err:
        router_named(name)
    assert f"trafficRouting.{name} " in str(err.value)
    assert "istio, nginx" in str(err.value)
    assert err.value.reason == "UnknownTrafficRouter"


def test_same_subset_for_canary_and_stable_is_rejected() -> None:
    ro = rollout(
        {
            "istio": {
                "virtualService": {"name": "vs"},
                "destinationRule": {"name": "dr", "canarySubsetName": "v", "stableSubsetName": "v"},
            }
        }
    )
    with pytest.raises(InvalidRoutingError, match="both 'v'"):
        istio_settings(ro)
