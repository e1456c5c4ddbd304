"""What the controller watches and what each Rollout reads: the declarations, gathered in one place.

Nothing here knows a router or a field: the kinds and references come from
:mod:`rollouts.engine.references` (the strategy's Services, analysis templates) and from each
router in :data:`rollouts.traffic.ROUTERS` (its ``kinds`` and ``references``). The caches watch
:func:`watched_kinds`, index :func:`references_of`, and the observe step reads the same list, so
the three cannot disagree.
"""

from __future__ import annotations

from rollouts.api import Rollout
from rollouts.engine.references import (
    ANALYSIS_TEMPLATE,
    CLUSTER_ANALYSIS_TEMPLATE,
    SERVICE,
    Kind,
    Reference,
    strategy_references,
    template_references,
)
from rollouts.traffic import RouterError, TrafficRouter, router_for
from rollouts.traffic import watched_kinds as router_kinds

__all__ = ["ANALYSIS_RUN", "POD", "REPLICA_SET", "ROLLOUT", "declared_kinds", "references_of"]

ROLLOUT = Kind(api_version="rollouts.dev/v1alpha1", kind="Rollout")
REPLICA_SET = Kind(api_version="apps/v1", kind="ReplicaSet", owned=True)
POD = Kind(api_version="v1", kind="Pod")
ANALYSIS_RUN = Kind(api_version="rollouts.dev/v1alpha1", kind="AnalysisRun", optional=True, owned=True)


def declared_kinds() -> list[Kind]:
    """The kinds Rollouts name objects of: Services, templates, and every router's kinds."""
    return list(dict.fromkeys([SERVICE, ANALYSIS_TEMPLATE, CLUSTER_ANALYSIS_TEMPLATE, *router_kinds()]))


def references_of(rollout: Rollout, router: TrafficRouter | None = None) -> list[Reference]:
    """Every object ``rollout`` reads: its Services, its router's objects, its templates.

    ``router``: the Rollout's router when the caller has it already (else looked up; a routing
    the registry does not know reads nothing, and the pass reports it).
    """
    if router is None:
        try:
            router = router_for(rollout)
        except RouterError:
            router = None
    routed = router.references(rollout) if router is not None else []
    return [*strategy_references(rollout), *routed, *template_references(rollout)]
