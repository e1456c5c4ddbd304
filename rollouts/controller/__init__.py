"""The controller: watches Rollouts and carries them through canary and blue-green delivery.

``kube-rollouts run`` (:mod:`rollouts.controller.__main__`) starts a :class:`Controller`:

- :mod:`~rollouts.controller.caches`: watch caches of Rollouts, ReplicaSets, pods, Services,
  AnalysisRuns/templates and router objects, and which change wakes which Rollout;
- :mod:`~rollouts.controller.queue`: the work queue (coalescing, one pass at a time per Rollout,
  timed wake-ups, backoff);
- :mod:`~rollouts.controller.reconciler`: one pass, observe -> decide (the engine) -> act -> status;
- :mod:`~rollouts.controller.observe` / :mod:`~rollouts.controller.act`: cache objects to the
  engine's Snapshot, and the plan's actions to API calls;
- :mod:`~rollouts.controller.metrics` / :mod:`~rollouts.controller.server`: ``/metrics``,
  ``/healthz``, ``/readyz``.
"""

from rollouts.controller.controller import Controller, ControllerOptions

__all__ = ["Controller", "ControllerOptions"]
