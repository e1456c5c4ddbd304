"""A Rollout with ``spec.workloadRef``, offline: its pod template is the Deployment's in the files.

``lint`` and ``plan`` work on the Rollout the controller would run, so both take the Deployment's
template from the documents beside the Rollout, with the controller's own check
(``RolloutSpec.with_template``).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from rollouts.api import Rollout
from rollouts.cli.manifests import Document, find_document

__all__ = ["WorkloadTemplate", "workload_template"]


@dataclass(frozen=True)
class WorkloadTemplate:
    """What the files say about a Rollout's workloadRef: the resolved Rollout (``None`` when it
    cannot be resolved), the Deployment's document, and why not when it cannot."""

    rollout: Rollout | None
    deployment: Document | None
    problem: str | None


def workload_template(rollout: Rollout, documents: Iterable[Document]) -> WorkloadTemplate:
    """``rollout`` running the template of the Deployment its workloadRef names, if that is among
    ``documents`` (in the Rollout's namespace, or with none); ``rollout`` itself without a workloadRef."""
    ref = rollout.spec.workload_ref
    if ref is None:
        return WorkloadTemplate(rollout, None, None)
    deployment = find_document(documents, "Deployment", ref.name, namespace=rollout.metadata.namespace)
    if deployment is None:
        return WorkloadTemplate(None, None, f"Deployment {ref.name!r} (spec.workloadRef) is not in the files")
    spec = deployment.body.get("spec") if isinstance(deployment.body, Mapping) else None
    template = spec.get("template") if isinstance(spec, Mapping) else None
    try:
        resolved = rollout.spec.with_template(copy.deepcopy(dict(template or {})))
    except ValueError as exc:
        return WorkloadTemplate(
            None, deployment, f"its spec.template cannot run as Rollout {rollout.metadata.name}: {exc}"
        )
    return WorkloadTemplate(rollout.model_copy(update={"spec": resolved}), deployment, None)
