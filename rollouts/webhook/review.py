"""What the webhook decides about one object: the problems to refuse it for, or none.

Every object gets :func:`~rollouts.engine.object_checks.check_object`, the checks ``lint`` runs on
a document (so an apply fails with the same line ``lint`` prints). A Rollout whose model is valid
then has its pod template checked by the API server itself: the ReplicaSet the controller would
create from it (:func:`~rollouts.controller.replica_sets.desired_replica_set`, same name, labels
and template) is created with ``dryRun=All``. The CRD keeps the pod template schemaless (a full
PodTemplateSpec schema would make the CRD huge and lag the cluster's version), so this is how a
``resources.requests.memory: invalid``, a ``restartPolicy: Never`` or an env name the kubelet
would refuse fails at apply time, with the server's own message, instead of as InvalidSpec later.

Only a 400/422 answer refuses the Rollout. A dry-run that cannot be made (no RBAC, the API
server busy, the namespace going away) lets the Rollout in with a warning: admission is a fast
first check, and the controller re-checks when it creates the ReplicaSet for real.

An UPDATE that leaves ``spec`` as it was (a label, an annotation, an ownerReference, the garbage
collector) is let through unchecked: the stored spec is the controller's to report on, and
refusing such an update would block metadata edits of an object stored before a rule existed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rollouts.api import Rollout
from rollouts.api.validation import object_name
from rollouts.controller.replica_sets import desired_replica_set
from rollouts.engine import CreateReplicaSet
from rollouts.engine.hashing import pod_template_hash, replica_set_name
from rollouts.engine.object_checks import check_object
from rollouts.kube import AlreadyExists, Invalid, KubeClient, KubeError

__all__ = ["Verdict", "review"]

log = logging.getLogger("kube-rollouts.webhook")


@dataclass(frozen=True, kw_only=True)
class Verdict:
    """``problems`` empty: admit. ``warnings`` go back to the user (kubectl prints them) either way."""

    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def allowed(self) -> bool:
        return not self.problems

    def message(self, body: Mapping[str, Any]) -> str:
        """One message naming the object, then each field and its fix (kubectl prints it as is)."""
        return f"{object_name(body)}: " + "; ".join(self.problems)


async def review(
    client: KubeClient, body: Mapping[str, Any], *, operation: str, old: Mapping[str, Any] | None = None
) -> Verdict:
    """The verdict on ``body`` (the object as the API server would store it) for ``operation``."""
    if operation == "UPDATE" and old is not None and old.get("spec") == body.get("spec"):
        return Verdict()
    check = check_object(body)
    if check.problems:
        return Verdict(problems=check.problems)
    if isinstance(check.parsed, Rollout):
        meta = body.get("metadata") or {}
        if not (body.get("apiVersion") and meta.get("name") and meta.get("namespace")):
            # The API server always sends all three; an object without them names no ReplicaSet.
            return Verdict(warnings=["spec.template not checked: the object has no name or namespace"])
        if check.parsed.spec.template is None:
            return Verdict()  # workloadRef: the Deployment's template passed the API server already
        return await _dry_run_replica_set(client, body)
    return Verdict()


async def _dry_run_replica_set(client: KubeClient, rollout: Mapping[str, Any]) -> Verdict:
    spec = rollout["spec"]
    collisions = (rollout.get("status") or {}).get("collisionCount")
    template_hash = pod_template_hash(spec["template"], collision_count=collisions)
    name = replica_set_name(rollout["metadata"].get("name"), template_hash)
    action = CreateReplicaSet(name=name, pod_template_hash=template_hash, replicas=0, revision=1)
    # The ownerReference is not the user's to fix, and not yet valid at admission: the Rollout is
    # not stored, so it would point at nothing (and the request's object need not carry a uid).
    metadata = {**rollout["metadata"], "uid": rollout["metadata"].get("uid") or "not-yet-stored"}
    replica_set = desired_replica_set({**rollout, "metadata": metadata}, action)
    replica_set["metadata"].pop("ownerReferences", None)
    try:
        await client.create(replica_set, dry_run=True)
    except Invalid as exc:
        detail = exc.message.split(": ", 1)[-1]  # drop our "dry-run create ReplicaSet ..." prefix
        return Verdict(
            problems=[
                f"`spec.template`: the API server refuses the ReplicaSet the controller would make from "
                f"it: {detail}; fix spec.template"
            ]
        )
    except AlreadyExists:
        pass  # the controller made this revision's ReplicaSet already: the template was accepted
    except KubeError as exc:
        log.warning("%s: pod template not checked: %s", object_name(rollout), exc)
        return Verdict(
            warnings=[
                f"kube-rollouts could not check spec.template with the API server ({exc.message}); "
                "the controller checks it when it creates the ReplicaSet"
            ]
        )
    return Verdict()
