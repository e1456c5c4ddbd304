"""The controller: watches Rollouts and carries them through canary and blue-green delivery.

``kube-rollouts run`` (:mod:`rollouts.controller.__main__`) starts a :class:`Controller`:

- :mod:`~rollouts.controller.caches`: watch caches of the controller's own kinds
  (:mod:`~rollouts.controller.reads`) and of every kind a Rollout names (declared by the engine and
  the routers), and which change wakes which Rollout;
- :mod:`~rollouts.controller.runner` / :mod:`~rollouts.controller.queue`: one reconcile runner
  (workers, follow-up passes, backoff) over the work queue (coalescing, one pass at a time per key,
  timed wake-ups), for Rollouts and AnalysisRuns alike;
- :mod:`~rollouts.controller.reconciler`: one pass, observe -> decide (the engine) -> act -> status;
- :mod:`~rollouts.controller.observe` / :mod:`~rollouts.controller.act`: the declared objects to the
  engine's Snapshot, and the plan's actions to API calls (act only executes);
- :mod:`~rollouts.controller.analysisruns`: measures AnalysisRuns on the same caches;
- :mod:`~rollouts.controller.leader`: leader election on a Lease;
- :mod:`~rollouts.controller.metrics` / :mod:`~rollouts.controller.server`: ``/metrics``,
  ``/healthz``, ``/readyz``.
"""

from rollouts.controller.controller import Controller, ControllerOptions

__all__ = ["Controller", "ControllerOptions"]
