"""Moving a Rollout's children into its shard, after the Rollout moved (``engine/shards.py``).

Relabelling a Rollout from instance ``a`` to ``b`` moves only the Rollout: its running
AnalysisRun or Experiment still carries ``a``, so ``b``'s caches do not see it and ``a``'s
controllers keep serving it. The shard that now holds the Rollout claims them: on the Rollout's
first pass in this process (after a start, or after it arrived from another shard), each child
its status names that the caches lack is read from the API server and, if the Rollout owns it,
relabelled to the Rollout's instance (:func:`claim`). The relabel takes it out of ``a``'s watch
and into ``b``'s, so one controller serves it at any moment. A child that already exists when
a create is planned (``AlreadyExists``) is claimed the same way.

The old shard does nothing: the Rollout left its watch with a DELETED event, which the
reconciler checks with a GET before treating it as a deletion (no router cleanup, no traffic
sent back to stable for a Rollout that was only relabelled).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from rollouts.controller import caches as kinds
from rollouts.controller.caches import Caches, Watched
from rollouts.engine.shards import INSTANCE_LABEL, belongs, instance_of
from rollouts.kube import KubeClient, KubeObject, controller_of, meta

__all__ = ["SHARDED", "claim", "claim_named_children", "named_children"]

log = logging.getLogger(__name__)

SHARDED: frozenset[Watched] = frozenset({kinds.ROLLOUT, kinds.ANALYSIS_RUN, kinds.EXPERIMENT})
"""The kinds whose informers select one shard (``Caches``); everything else is watched whole."""

_ANALYSIS_RUN_FIELDS = {
    "canary": ("currentStepAnalysisRunStatus", "currentBackgroundAnalysisRunStatus"),
    "blueGreen": ("prePromotionAnalysisRunStatus", "postPromotionAnalysisRunStatus"),
}


def named_children(status: Any) -> Iterator[tuple[Watched, str]]:
    """The AnalysisRuns and the Experiment a Rollout's status names as current."""
    if not isinstance(status, dict):
        return
    for strategy, fields in _ANALYSIS_RUN_FIELDS.items():
        part = status.get(strategy)
        if not isinstance(part, dict):
            continue
        for name in fields:
            ref = part.get(name)
            if isinstance(ref, dict) and ref.get("name"):
                yield kinds.ANALYSIS_RUN, str(ref["name"])
        experiment = part.get("currentExperiment") if strategy == "canary" else None
        if isinstance(experiment, dict) and experiment.get("name"):
            yield kinds.EXPERIMENT, str(experiment["name"])


async def claim(client: KubeClient, child: KubeObject, *, owner: KubeObject) -> KubeObject:
    """``child`` relabelled into ``owner``'s shard (unchanged when it is there already, is not of
    a sharded kind, or is not ``owner``'s: a stranger's object is not ours to move)."""
    wanted = instance_of(meta(owner).get("labels"))
    labels = meta(child).get("labels") or {}
    ref = controller_of(child)
    if (
        (str(child.get("apiVersion")), str(child.get("kind"))) not in SHARDED
        or ref is None
        or ref.get("uid") != meta(owner).get("uid")
        or belongs(labels, wanted)
    ):
        return child
    answer = await client.patch(
        str(child.get("apiVersion")),
        str(child.get("kind")),
        namespace=meta(child).get("namespace"),
        name=str(meta(child).get("name")),
        patch={"metadata": {"labels": {INSTANCE_LABEL: wanted}}},  # None removes the label
    )
    log.info(
        "%s %s/%s: moved from instance %s to %s with its owner %s %s",
        child.get("kind"),
        meta(child).get("namespace"),
        meta(child).get("name"),
        instance_of(labels) or "none",
        wanted or "none",
        owner.get("kind"),
        meta(owner).get("name"),
    )
    return answer


async def claim_named_children(client: KubeClient, caches: Caches, raw: KubeObject) -> int:
    """Claim each child the Rollout's status names that the caches lack; how many were moved."""
    namespace = str(meta(raw).get("namespace"))
    moved = 0
    for watched, name in named_children(raw.get("status")):
        if caches.get(watched, namespace, name) is not None:
            continue
        found = await client.get_or_none(*watched, namespace=namespace, name=name)
        if found is None:
            continue
        answer = await claim(client, found, owner=raw)
        if answer is not found:
            caches.remember(answer, notify=True)  # its controller (runs, experiments) starts on it
            moved += 1
    return moved
