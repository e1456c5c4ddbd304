"""The kopf registry of the webhook process: one login handler and three validating handlers.

A registry of its own (not kopf's default one), so importing this module registers nothing
globally and the handlers close over the client they use. Each validating handler is one
webhook in the configuration kopf writes:

* ``operations=["CREATE", "UPDATE"]``: a delete needs no check;
* no ``subresource``: kopf's rule then names ``rollouts`` and not ``rollouts/status``, so the
  controller's status writes never pass through the webhook (it could not write InvalidSpec on
  a Rollout that got in while the webhook was down otherwise);
* ``ignore_failures=True``: ``failurePolicy: Ignore``, see ``docs/design.md`` (while the webhook is
  down applies go through and the controller reports the problem as InvalidSpec);
* no ``side_effects``: ``sideEffects: None``, true since the only call made is itself a dry-run, so
  the API server asks the webhook about ``kubectl apply --dry-run=server`` too.

kopf only reads here: validating handlers cannot patch, there are no change handlers (so no
progress annotations) and no daemons or timers (so no finalizers), and ``__main__`` turns off
kopf's Events and peering: nothing kopf-specific is ever written onto an object.
"""

from __future__ import annotations

from typing import Any

import kopf

from rollouts.kube import ClusterConfig, KubeClient
from rollouts.webhook.login import kopf_session
from rollouts.webhook.review import review

__all__ = ["VALIDATED", "build_registry"]

GROUP, VERSION = "rollouts.dev", "v1alpha1"
VALIDATED = ("rollouts", "analysistemplates", "clusteranalysistemplates")
"""The plurals admission checks; AnalysisRuns are the controller's own, built from checked templates."""


def build_registry(client: KubeClient, config: ClusterConfig) -> kopf.OperatorRegistry:
    registry = kopf.OperatorRegistry()

    @kopf.on.login(registry=registry)
    async def login(**_: Any) -> kopf.AiohttpSession:
        return kopf_session(config)  # async: kopf runs sync handlers in a thread, without a loop

    async def validate(
        body: kopf.Body, old: kopf.Body | None, operation: str | None, warnings: list[str], **_: Any
    ) -> None:
        raw = dict(body)
        verdict = await review(
            client, raw, operation=operation or "", old=dict(old) if old is not None else None
        )
        warnings.extend(verdict.warnings)
        if not verdict.allowed:
            raise kopf.AdmissionError(verdict.message(raw), code=422)

    for plural in VALIDATED:
        kopf.on.validate(
            GROUP,
            VERSION,
            plural,
            id=f"validate-{plural}",
            operations=["CREATE", "UPDATE"],
            ignore_failures=True,
            registry=registry,
        )(validate)
    return registry
