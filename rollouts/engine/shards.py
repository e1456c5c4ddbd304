"""Shards: several controller processes split one cluster by an instance label.

A controller started with ``--instance-id ID`` serves only the Rollouts, AnalysisRuns and
Experiments labelled ``rollouts.dev/instance=ID``; one started without serves only those without
the label. The selectors are disjoint by construction, so no object is served by two shards.
What a Rollout creates (its AnalysisRuns and Experiments, an Experiment's AnalysisRuns) carries
its owner's label (:func:`instance_labels`), so it is served by the same shard.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

__all__ = [
    "INSTANCE_LABEL",
    "InvalidInstanceId",
    "belongs",
    "check_instance_id",
    "instance_labels",
    "instance_of",
    "instance_selector",
]

INSTANCE_LABEL: Final = "rollouts.dev/instance"
"""The label that assigns a Rollout (and what it creates) to the controller of that instance id."""

_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?)?$")


class InvalidInstanceId(ValueError):
    """An instance id that is not a label value; the message names the flag and the rule."""


def check_instance_id(value: str | None, *, flag: str = "--instance-id") -> str | None:
    """``value`` if it is a valid label value (``None`` or empty: no instance id, ``None``)."""
    if not value:
        return None
    if len(value) > 63 or not _LABEL_VALUE.match(value):
        raise InvalidInstanceId(
            f"{flag} {value!r} is not a label value: at most 63 characters of A-Z, a-z, 0-9, '.', '_' "
            f"and '-', starting and ending with a letter or digit (it is matched against the "
            f"{INSTANCE_LABEL} label)"
        )
    return value


def instance_selector(instance_id: str | None) -> str:
    """The label selector of one shard's objects: ``rollouts.dev/instance=ID``, or, without an id,
    ``!rollouts.dev/instance`` (every object that no instance claims)."""
    return f"{INSTANCE_LABEL}={instance_id}" if instance_id else f"!{INSTANCE_LABEL}"


def instance_of(labels: Mapping[str, str] | None) -> str | None:
    """The instance label's value in ``labels`` (``None``: no label, the unlabelled shard's). An
    empty value is returned as is: it matches neither selector, as on the API server."""
    return (labels or {}).get(INSTANCE_LABEL)


def belongs(labels: Mapping[str, str] | None, instance_id: str | None) -> bool:
    """Whether an object with ``labels`` is in the shard of ``instance_id`` (what
    :func:`instance_selector` selects)."""
    found = instance_of(labels)
    return found is None if not instance_id else found == instance_id


def instance_labels(owner_labels: Mapping[str, str] | None) -> dict[str, str]:
    """The instance label a child copies from its owner's labels (empty when the owner has none)."""
    instance = instance_of(owner_labels)
    return {} if instance is None else {INSTANCE_LABEL: instance}
