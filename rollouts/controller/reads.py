"""The kinds the controller watches for itself: Rollouts and what it creates for them.

Every other kind (Services, templates, each router's) is declared where it belongs and gathered
by :func:`rollouts.traffic.declared_kinds`; what one Rollout reads is
:func:`rollouts.traffic.references_of`.
"""

from __future__ import annotations

from rollouts.engine.references import Kind

__all__ = ["ANALYSIS_RUN", "EXPERIMENT", "POD", "REPLICA_SET", "ROLLOUT"]

ROLLOUT = Kind(api_version="rollouts.dev/v1alpha1", kind="Rollout")
REPLICA_SET = Kind(api_version="apps/v1", kind="ReplicaSet", owned=True)
POD = Kind(api_version="v1", kind="Pod")
ANALYSIS_RUN = Kind(api_version="rollouts.dev/v1alpha1", kind="AnalysisRun", optional=True, owned=True)
EXPERIMENT = Kind(api_version="rollouts.dev/v1alpha1", kind="Experiment", optional=True, owned=True)
