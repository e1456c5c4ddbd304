"""The entry points generated objects are pushed through, and what each must hold of its answer.

A *target* takes one object (a dict, as ``kubectl apply`` or a YAML file gives it) and returns the
problems it reports, one message each; an empty list means accepted. A target may raise nothing:
every documented failure is a reported problem.

``kubectl rollouts lint`` and the admission webhook's ``review`` are the targets; every test
parametrized over :data:`OBJECT_TARGETS` covers both.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rollouts.cli.lint import lint_manifest
from rollouts.cli.manifests import Document, Manifest
from rollouts.webhook.review import review
from tests.unit.volume.cluster import FakeApi

FIELD = re.compile(r"`[^`\s]+`")
"""A field path as every message writes it: `spec.strategy.canary.steps[2].setWeight`."""


@dataclass(frozen=True)
class Target:
    name: str
    problems: Callable[[Any], list[str]]
    field_first: bool = True
    """Each message starts with the field (``lint``: the line's location names the object). A
    target whose messages name the object themselves sets False."""

    def __str__(self) -> str:
        return self.name

    def misnamed(self, problems: list[str]) -> list[str]:
        """The messages that name no field path (or, with ``field_first``, do not start with it)."""
        if self.field_first:
            return [problem for problem in problems if not FIELD.match(problem)]
        return [problem for problem in problems if not FIELD.search(problem)]


def documents(*bodies: Any, source: str = "volume.yaml") -> Manifest:
    """One file holding ``bodies`` in order, as ``read_manifests`` would give it."""
    docs = tuple(
        Document(source=source, index=index, line=index * 10, body=body)
        for index, body in enumerate(bodies, 1)
    )
    return Manifest(source=source, documents=docs)


def _lint_one(body: Any) -> list[str]:
    (result,) = lint_manifest(documents(body))
    return result.problems


def _webhook_one(body: Any) -> list[str]:
    """The admission webhook's verdict on a CREATE of ``body`` (its ReplicaSet dry-run answered by
    the in-memory API, which admits it: the pod template's own checks are the API server's)."""
    if not isinstance(body, dict):
        return ["`(document)`: not an object"]  # the API server never sends the webhook a non-object
    verdict = asyncio.run(review(FakeApi(), body, operation="CREATE"))  # type: ignore[arg-type]
    return verdict.problems


LINT = Target("lint", _lint_one)
WEBHOOK = Target("webhook", _webhook_one)

OBJECT_TARGETS = [LINT, WEBHOOK]
"""Every entry point that checks one object on its own."""
