"""The ReplicaSets a Rollout runs: built from its pod template, labelled with the revision hash.

A ReplicaSet ``<rollout>-<hash>`` carries ``rollouts-pod-template-hash: <hash>`` on itself, its
selector and its pod template (so two revisions never select each other's pods), the revision
number in ``rollouts.dev/revision``, and a controller ownerReference to the Rollout. Creating one
that already exists is only fine when it is the same revision: ours, or an orphan with our labels
(adopted, e.g. after the Rollout was deleted with ``--cascade=orphan`` and applied again);
anything else is a hash collision.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from rollouts.controller.observe import ANTI_AFFINITY_ANNOTATION, POD_METADATA_ANNOTATION, REVISION_ANNOTATION
from rollouts.engine import CreateReplicaSet, InjectedAntiAffinity
from rollouts.engine.hashing import POD_TEMPLATE_HASH_LABEL
from rollouts.kube import KubeObject, controller_of, meta, owner_reference

__all__ = [
    "MANAGED_BY_ANNOTATION",
    "adoption_patch",
    "anti_affinity_removal",
    "desired_replica_set",
    "metadata_delta",
    "same_revision",
]

MANAGED_BY_ANNOTATION = "rollouts.dev/managed-by"
_HOST = "kubernetes.io/hostname"
_PREFERRED = "preferredDuringSchedulingIgnoredDuringExecution"
_REQUIRED = "requiredDuringSchedulingIgnoredDuringExecution"


def _avoid(stable_hash: str) -> dict[str, Any]:
    selector = {
        "matchExpressions": [{"key": POD_TEMPLATE_HASH_LABEL, "operator": "In", "values": [stable_hash]}]
    }
    return {"labelSelector": selector, "topologyKey": _HOST}


def _inject_anti_affinity(template: dict[str, Any], term: InjectedAntiAffinity) -> None:
    """Add the term beside the template's own affinity rules (which stay as they are)."""
    pod_spec = template.setdefault("spec", {})
    anti = pod_spec.setdefault("affinity", {}).setdefault("podAntiAffinity", {})
    if term.weight is None:
        anti.setdefault(_REQUIRED, []).append(_avoid(term.stable_hash))
    else:
        anti.setdefault(_PREFERRED, []).append(
            {"weight": term.weight, "podAffinityTerm": _avoid(term.stable_hash)}
        )


def metadata_delta(wanted: str | None, previous: str | None) -> dict[str, dict[str, str | None]]:
    """The merge patch of ``metadata`` that moves an object from the ephemeral metadata
    ``previous`` to ``wanted`` (JSON, see ``pod_metadata_key``): keys only ``previous`` had are
    removed, every key of ``wanted`` set, other labels and annotations untouched."""
    new, old = json.loads(wanted or "{}"), json.loads(previous or "{}")
    delta: dict[str, dict[str, str | None]] = {}
    for part in ("labels", "annotations"):
        changes: dict[str, str | None] = {
            key: None for key in old.get(part) or {} if key not in (new.get(part) or {})
        }
        changes.update(new.get(part) or {})
        if changes:
            delta[part] = changes
    return delta


def anti_affinity_removal(rs: KubeObject) -> dict[str, Any] | None:
    """The merge patch that takes the injected term off ``rs`` (guarded by its resourceVersion);
    ``None`` when it carries none. Only our term goes: the template's own rules stay."""
    m = meta(rs)
    stable_hash = (m.get("annotations") or {}).get(ANTI_AFFINITY_ANNOTATION)
    if not stable_hash:
        return None
    ours = _avoid(stable_hash)
    pod_spec = ((rs.get("spec") or {}).get("template") or {}).get("spec") or {}
    affinity = copy.deepcopy(pod_spec.get("affinity") or {})
    anti = affinity.get("podAntiAffinity") or {}
    for key in (_REQUIRED, _PREFERRED):
        kept = [t for t in anti.get(key) or [] if ours not in (t, t.get("podAffinityTerm"))]
        anti[key] = kept or None  # null deletes the key in a merge patch
    affinity["podAntiAffinity"] = anti if any(anti.values()) else None
    return {
        "metadata": {
            "annotations": {ANTI_AFFINITY_ANNOTATION: None},
            "resourceVersion": m.get("resourceVersion"),
        },
        "spec": {"template": {"spec": {"affinity": affinity if any(affinity.values()) else None}}},
    }


def desired_replica_set(rollout: KubeObject, action: CreateReplicaSet) -> KubeObject:
    """The ReplicaSet ``action`` asks for, from the Rollout object exactly as the API server holds it."""
    spec = rollout["spec"]
    template: dict[str, Any] = copy.deepcopy(spec["template"])
    template_meta = template.setdefault("metadata", {})
    template_meta["labels"] = {
        **(template_meta.get("labels") or {}),
        POD_TEMPLATE_HASH_LABEL: action.pod_template_hash,
    }
    labels = dict(template_meta["labels"])  # the ReplicaSet's own: without the side's labels
    annotations = {REVISION_ANNOTATION: str(action.revision), MANAGED_BY_ANNOTATION: "kube-rollouts"}
    if action.anti_affinity is not None:
        _inject_anti_affinity(template, action.anti_affinity)
        annotations[ANTI_AFFINITY_ANNOTATION] = action.anti_affinity.stable_hash
    if action.pod_metadata is not None:
        for part, values in metadata_delta(action.pod_metadata, None).items():
            template_meta[part] = {**(template_meta.get(part) or {}), **values}
        annotations[POD_METADATA_ANNOTATION] = action.pod_metadata
    selector: dict[str, Any] = copy.deepcopy(spec["selector"])
    selector["matchLabels"] = {
        **(selector.get("matchLabels") or {}),
        POD_TEMPLATE_HASH_LABEL: action.pod_template_hash,
    }
    m = meta(rollout)
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": action.name,
            "namespace": m["namespace"],
            "labels": labels,
            "annotations": annotations,
            "ownerReferences": [owner_reference(rollout)],
        },
        "spec": {
            "replicas": action.replicas,
            "minReadySeconds": int(spec.get("minReadySeconds") or 0),
            "selector": selector,
            "template": template,
        },
    }


def same_revision(existing: KubeObject, rollout: KubeObject, pod_hash: str) -> bool:
    """Whether ``existing`` may serve as this Rollout's ReplicaSet of revision ``pod_hash``.

    It must carry the revision's hash label and be controlled by this Rollout or by nobody (an
    orphan to adopt). Its template is not re-hashed: the API server fills defaults into a
    ReplicaSet's template, so it never hashes like the Rollout's own template.
    """
    if (meta(existing).get("labels") or {}).get(POD_TEMPLATE_HASH_LABEL) != pod_hash:
        return False
    owner = controller_of(existing)
    return owner is None or owner.get("uid") == meta(rollout).get("uid")


def adoption_patch(existing: KubeObject, rollout: KubeObject) -> dict[str, Any] | None:
    """The merge patch that makes the Rollout the controller of an orphan RS; ``None`` when it already is."""
    if controller_of(existing) is not None:
        return None
    refs = [*(meta(existing).get("ownerReferences") or []), owner_reference(rollout)]
    return {"metadata": {"ownerReferences": refs, "resourceVersion": meta(existing).get("resourceVersion")}}
