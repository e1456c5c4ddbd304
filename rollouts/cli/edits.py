"""Spec edits of ``set image`` and ``undo``: new pod templates, as JSON patches guarded by ``test``.

Both replace part of ``spec.template``. A JSON patch with a ``test`` of what was read first (the
container's name at its index; for undo, the whole current template) makes the change atomic:
when someone else edited the template in between, the API server refuses the patch instead of
silently mixing two edits, and the user runs the command again.

``undo`` takes the template back from the old revision's ReplicaSet. The API server filled its
defaults into that copy (``imagePullPolicy``, ``terminationMessagePath``, ``dnsPolicy``, ...),
which the Rollout's own template never had; left in, they would give the template a new hash, so
the controller would start a new revision instead of going back to the old one (and would not skip
the steps on a rollback to stable). :func:`without_defaults` removes the defaults and the result
is checked against the revision's hash label.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from rollouts.cli.errors import CliError
from rollouts.cli.facts import POD_TEMPLATE_HASH_LABEL, dig, labels_of, revision_of
from rollouts.cli.steering import Patch, Steer
from rollouts.engine.hashing import pod_template_hash

__all__ = ["parse_assignments", "set_image", "undo", "without_defaults"]

_POD_DEFAULTS = {
    "restartPolicy": "Always",
    "terminationGracePeriodSeconds": 30,
    "dnsPolicy": "ClusterFirst",
    "securityContext": {},
    "schedulerName": "default-scheduler",
    "enableServiceLinks": True,
}
_CONTAINER_DEFAULTS = {
    "terminationMessagePath": "/dev/termination-log",
    "terminationMessagePolicy": "File",
    "resources": {},
}

_CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")


def parse_assignments(pairs: list[str]) -> list[tuple[str, str]]:
    """``CONTAINER=IMAGE`` arguments as pairs; ``*`` as container means every container."""
    parsed = []
    for pair in pairs:
        container, sep, image = pair.partition("=")
        if not sep or not container or not image:
            raise CliError(
                f"set image: {pair!r} is not CONTAINER=IMAGE; "
                "write e.g. web=nginx:1.27 (or *=nginx:1.27 for every container)"
            )
        parsed.append((container, image))
    return parsed


def _own_template(rollout: Mapping[str, Any], fix: str) -> None:
    """A Rollout with ``spec.workloadRef`` has no template to edit: the Deployment holds it."""
    deployment = dig(rollout, "spec", "workloadRef", "name")
    if deployment:
        raise CliError(
            f"Rollout {dig(rollout, 'metadata', 'name')} takes its pod template from Deployment "
            f"{deployment} (spec.workloadRef): change it there ({fix.format(deployment=deployment)})"
        )


def set_image(rollout: dict[str, Any], assignments: list[tuple[str, str]]) -> Steer:
    """Set the image of the named containers (all of them for ``*``) in the Rollout's pod template."""
    name = str(dig(rollout, "metadata", "name"))
    _own_template(rollout, "kubectl set image deployment/{deployment} CONTAINER=IMAGE")
    spec = dig(rollout, "spec", "template", "spec") or {}
    ops: list[dict[str, Any]] = []
    known: list[str] = []
    changed: list[str] = []
    for container, image in assignments:
        matched = False
        for field in _CONTAINER_LISTS:
            for index, entry in enumerate(spec.get(field) or []):
                if not isinstance(entry, Mapping):
                    continue
                known.append(str(entry.get("name")))
                if container not in ("*", entry.get("name")):
                    continue
                matched = True
                base = f"/spec/template/spec/{field}/{index}"
                ops.append({"op": "test", "path": f"{base}/name", "value": entry.get("name")})
                ops.append(
                    {"op": "replace" if "image" in entry else "add", "path": f"{base}/image", "value": image}
                )
                changed.append(f"{entry.get('name')}={image}")
        if not matched:
            names = ", ".join(dict.fromkeys(known)) or "none"
            raise CliError(
                f"rollout {name} has no container named {container!r} (its containers: {names}); "
                "use one of those names, or * for every container"
            )
    return Steer(
        patches=(Patch(body=ops, type="json"),),
        message=f"rollout '{name}' image updated: {', '.join(dict.fromkeys(changed))}",
    )


def _pull_policy(image: Any) -> str:
    """The imagePullPolicy Kubernetes defaults for ``image``: Always for ``:latest`` or no tag."""
    text = str(image or "")
    tag = text.rsplit("/", 1)[-1]
    return "Always" if "@" not in text and (":" not in tag or tag.endswith(":latest")) else "IfNotPresent"


def _strip(entry: dict[str, Any], defaults: Mapping[str, Any]) -> None:
    for key, value in defaults.items():
        if entry.get(key) == value:
            entry.pop(key)


def without_defaults(template: Mapping[str, Any]) -> dict[str, Any]:
    """A ReplicaSet's pod template without the hash label and the values the API server defaulted."""
    result: dict[str, Any] = copy.deepcopy(dict(template))
    metadata = result.get("metadata")
    if isinstance(metadata, dict):
        if isinstance(metadata.get("labels"), dict):
            metadata["labels"].pop(POD_TEMPLATE_HASH_LABEL, None)
        if metadata.get("creationTimestamp") is None:
            metadata.pop("creationTimestamp", None)
    spec = result.get("spec")
    if not isinstance(spec, dict):
        return result
    _strip(spec, _POD_DEFAULTS)
    for field in _CONTAINER_LISTS:
        for container in spec.get(field) or []:
            if not isinstance(container, dict):
                continue
            _strip(
                container, {**_CONTAINER_DEFAULTS, "imagePullPolicy": _pull_policy(container.get("image"))}
            )
            for port in container.get("ports") or []:
                if isinstance(port, dict) and port.get("protocol") == "TCP":
                    port.pop("protocol")
    return result


def undo(rollout: dict[str, Any], replica_sets: list[dict[str, Any]], *, to_revision: int | None) -> Steer:
    """Put the pod template of an earlier revision back (the previous one unless ``to_revision``)."""
    name = str(dig(rollout, "metadata", "name"))
    _own_template(rollout, "kubectl rollout undo deployment/{deployment}, or revert its template in Git")
    current_hash = dig(rollout, "status", "currentPodHash")
    by_revision = {revision_of(rs): rs for rs in replica_sets if revision_of(rs) > 0}
    current = next(
        (r for r, rs in by_revision.items() if labels_of(rs).get(POD_TEMPLATE_HASH_LABEL) == current_hash),
        None,
    )
    if to_revision is None:
        earlier = [r for r in by_revision if current is None or r < current]
        if not earlier:
            raise CliError(f"rollout {name} has no earlier revision to go back to")
        to_revision = max(earlier)
    target = by_revision.get(to_revision)
    if target is None:
        known = ", ".join(str(r) for r in sorted(by_revision)) or "none"
        raise CliError(
            f"rollout {name} has no revision {to_revision} (revisions kept: {known}); "
            "pick one of those with --to-revision"
        )
    if to_revision == current:
        raise CliError(f"rollout {name} already runs revision {to_revision}; pick another with --to-revision")
    template = without_defaults(dig(target, "spec", "template") or {})
    message = f"rollout '{name}' rolled back to revision {to_revision}"
    if pod_template_hash(template) != labels_of(target).get(POD_TEMPLATE_HASH_LABEL):
        message += " (its template differs from the original in server defaults: it runs as a new revision)"
    ops = [
        {"op": "test", "path": "/spec/template", "value": dig(rollout, "spec", "template")},
        {"op": "replace", "path": "/spec/template", "value": template},
    ]
    return Steer(patches=(Patch(body=ops, type="json"),), message=message)
