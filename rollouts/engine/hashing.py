"""The pod-template hash: the name of a revision.

Each ReplicaSet the controller creates is named ``<rollout>-<hash>`` and carries the label
``rollouts-pod-template-hash: <hash>`` on itself, its selector and its pod template. The hash is
how the controller recognises "this template already has a ReplicaSet", so it must be:

* **deterministic** across processes, Python versions and machines (Python's ``hash()`` is salted
  per process, so it is not used), and independent of dict key order (templates come from YAML,
  JSON and pydantic dumps with different orders);
* **blind to its own label**: the label is written into the template it names, so it is removed
  before hashing, otherwise a ReplicaSet's template would never hash to its own label;
* **collision-aware**: when a ReplicaSet with the computed name exists but holds a different
  template, the controller bumps ``status.collisionCount`` and the count is folded into the
  hash, which gives a new name. ``None`` and ``0`` give the same hash on purpose: a status that
  goes from "absent" to an explicit ``0`` must not rename every revision;
* **short and safe** as a label value and a name suffix: 10 characters from the alphabet
  Kubernetes uses for generated names (no vowels, so no accidental words; no ``0``/``1``/``3``,
  which read like ``o``/``l``/``e``).

The digest is BLAKE2b over a canonical JSON encoding (sorted keys, no whitespace, ``null`` values
dropped because Kubernetes treats a null field as an absent one). Ten base-27 characters hold
about 47 bits, far more than the handful of revisions a Rollout keeps. The value is not meant to
equal Argo Rollouts' hash: a migrated Rollout gets new ReplicaSet names once, by design.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any, Final

__all__ = [
    "HASH_LENGTH",
    "POD_TEMPLATE_HASH_LABEL",
    "canonical_template",
    "pod_template_hash",
    "replica_set_name",
    "steps_hash",
]

POD_TEMPLATE_HASH_LABEL: Final = "rollouts-pod-template-hash"
"""Label key carrying the hash; the same key as Argo Rollouts so dashboards keep working."""

HASH_LENGTH: Final = 10
"""Characters in a hash: long enough to make collisions rare, short enough for a name suffix."""

_ALPHABET: Final = "bcdfghjklmnpqrstvwxz2456789"


def _without_nulls(value: Any) -> Any:
    """Return ``value`` with every ``None`` mapping entry removed, recursively.

    Kubernetes treats ``field: null`` and an absent field alike, and a pydantic ``model_dump()``
    without ``exclude_none`` writes nulls a raw manifest does not have; both must hash the same.
    """
    if isinstance(value, Mapping):
        return {str(key): _without_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list | tuple):
        return [_without_nulls(item) for item in value]
    return value


def _strip_own_label(template: Mapping[str, Any]) -> dict[str, Any]:
    """Copy ``template`` without the pod-template-hash label (the hash must not feed on itself)."""
    result = dict(template)
    metadata = template.get("metadata")
    if isinstance(metadata, Mapping):
        labels = metadata.get("labels")
        if isinstance(labels, Mapping) and POD_TEMPLATE_HASH_LABEL in labels:
            new_labels = {k: v for k, v in labels.items() if k != POD_TEMPLATE_HASH_LABEL}
            result["metadata"] = {**metadata, "labels": new_labels}
    return result


def canonical_template(template: Mapping[str, Any]) -> bytes:
    """Encode a pod template as canonical JSON bytes: the exact input of the hash.

    Exposed so a caller (or a test) can see what two templates were compared on. Raises
    ``TypeError`` naming the offending value when the template holds something JSON cannot
    encode (a template is plain data; anything else is a caller bug).
    """
    return _canonical(_strip_own_label(template), what="pod template")


def _canonical(data: Any, *, what: str) -> bytes:
    cleaned = _without_nulls(data)
    try:
        text = json.dumps(cleaned, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{what} is not plain JSON data: {exc}") from exc
    return text.encode("ascii")


def _encode(number: int, length: int) -> str:
    """Write ``number`` in base 27 over the safe alphabet, ``length`` characters, fixed width."""
    chars = []
    base = len(_ALPHABET)
    for _ in range(length):
        number, digit = divmod(number, base)
        chars.append(_ALPHABET[digit])
    return "".join(chars)


def pod_template_hash(template: Mapping[str, Any], *, collision_count: int | None = None) -> str:
    """Return the 10-character hash naming the revision of ``template`` (a PodTemplateSpec dict).

    ``collision_count`` is ``status.collisionCount``; a positive count yields a different hash
    for the same template, which is how a name clash with a foreign ReplicaSet is escaped.
    """
    if collision_count is not None and collision_count < 0:
        raise ValueError(f"collision_count must be >= 0, got {collision_count}")
    digest = hashlib.blake2b(canonical_template(template), digest_size=8, person=b"kube-rollouts")
    if collision_count:
        digest.update(b"\x00collision:" + str(collision_count).encode("ascii"))
    return _encode(int.from_bytes(digest.digest(), "big"), HASH_LENGTH)


def steps_hash(steps: Sequence[Mapping[str, Any]]) -> str:
    """Return the 10-character hash of a canary's ``steps`` (each step as plain JSON data).

    The status records it as ``currentStepHash``; when the user edits the steps in the middle
    of an update, the hash changes and the canary starts its steps again from the first, as
    Argo Rollouts does (the old step index would point into a different list).
    """
    digest = hashlib.blake2b(_canonical(list(steps), what="canary steps"), digest_size=8, person=b"ro-steps")
    return _encode(int.from_bytes(digest.digest(), "big"), HASH_LENGTH)


def replica_set_name(rollout_name: str | None, pod_template_hash: str) -> str:
    """The name of a revision's ReplicaSet: ``<rollout>-<hash>`` (``rollout`` for a nameless Rollout)."""
    return f"{rollout_name or 'rollout'}-{pod_template_hash}"
