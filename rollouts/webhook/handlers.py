"""The kopf registry of the webhook process: one login handler and three validating handlers.

A registry of its own (not kopf's default one), so importing this module registers nothing
globally and the handlers close over the client they use. Each validating handler is one
webhook in the configuration kopf writes:

* ``operations=["CREATE", "UPDATE"]``: a delete needs no check;
* no ``subresource``: kopf's rule then names ``rollouts`` and not ``rollouts/status``, so the
  controller's status writes never pass through the webhook (it could not write InvalidSpec on
  a Rollout that got in while the webhook was down otherwise);
* ``ignore_failures=True``: ``failurePolicy: Ignore``, see ``docs/design.md`` (while the webhook is
  down applies go through and the controller reports the problem as InvalidSpec); a failure of
  the check itself admits too, with a warning, for the same reason;
* no ``side_effects``: ``sideEffects: None``, true since the only call made is itself a dry-run, so
  the API server asks the webhook about ``kubectl apply --dry-run=server`` too.

kopf only reads here: validating handlers cannot patch, there are no change handlers (so no
progress annotations) and no daemons or timers (so no finalizers), and ``__main__`` turns off
kopf's Events and peering: nothing kopf-specific is ever written onto an object.
"""

from __future__ import annotations

import logging
from typing import Any

import kopf

from rollouts.api.validation import object_name
from rollouts.kube import ClusterConfig, KubeClient
from rollouts.webhook.login import kopf_session
from rollouts.webhook.review import Verdict, review

__all__ = ["VALIDATED", "build_registry", "verdict_or_admit"]

log = logging.getLogger("kube-rollouts.webhook")

GROUP, VERSION = "rollouts.dev", "v1alpha1"
VALIDATED = ("rollouts", "analysistemplates", "clusteranalysistemplates", "experiments")
"""The plurals admission checks; AnalysisRuns are the controller's own, built from checked templates."""


async def verdict_or_admit(
    client: KubeClient, body: dict[str, Any], *, operation: str, old: dict[str, Any] | None
) -> Verdict:
    """``review``'s verdict, or admission with a warning when the check itself fails.

    kopf answers any exception of a handler with ``allowed: false``, so a bug of ours would refuse
    applies; a check that fails must do what the failure policy does when the webhook is down.
    """
    try:
        return await review(client, body, operation=operation, old=old)
    except Exception:
        log.exception("%s: not checked, the webhook failed", object_name(body))
        return Verdict(
            warnings=["kube-rollouts' webhook failed to check this object; the controller checks it"]
        )


def build_registry(client: KubeClient, config: ClusterConfig) -> kopf.OperatorRegistry:
    registry = kopf.OperatorRegistry()

    @kopf.on.login(registry=registry)
    async def login(**_: Any) -> kopf.AiohttpSession:
        return kopf_session(config)  # async: kopf runs sync handlers in a thread, without a loop

    async def validate(body: kopf.Body, warnings: list[str], **kwargs: Any) -> None:
        # old and operation are kopf's admission kwargs too, but not in its WebhookFn protocol.
        raw, old = dict(body), kwargs.get("old")
        old_raw = dict(old) if old is not None else None
        verdict = await verdict_or_admit(client, raw, operation=kwargs.get("operation") or "", old=old_raw)
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
