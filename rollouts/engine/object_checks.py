"""Every check of one rollouts.dev object on its own: what ``lint`` reports on a document and what
the admission webhook refuses an apply for, from one function so the two cannot disagree.

One object alone is checked here: the API models (every field and cross-field rule, the pod
template's quantities, names and ports: :mod:`rollouts.api.validation`), the success and failure
conditions compiled by the measurements' own compiler (:mod:`rollouts.engine.conditions`), and a
template's ``{{args.NAME}}`` in counts and durations against its own args
(:mod:`rollouts.engine.template_checks`). What needs other objects (the Services and routes a
Rollout names, the run its templates build) is ``lint``'s cross-file check: at admission the
objects of one apply arrive one by one, in any order, so a reference cannot be judged there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rollouts.api import (
    AnalysisRun,
    AnalysisTemplate,
    ClusterAnalysisTemplate,
    InvalidObjectError,
    parse_object,
)
from rollouts.api.common import TopLevelObject
from rollouts.api.validation import object_name
from rollouts.engine.conditions import condition_problems
from rollouts.engine.template_checks import check_template

__all__ = ["ARGO_GROUP", "ObjectCheck", "check_object"]

ARGO_GROUP = "argoproj.io/"
"""Argo Rollouts' API group: the same kinds and fields, so a migrated manifest differs only here."""


@dataclass(frozen=True, kw_only=True)
class ObjectCheck:
    """The problems of one object (each "`field.path`: what to do", without the object's name,
    which the caller's location says) and the parsed model when the object is valid as a whole."""

    problems: list[str] = field(default_factory=list)
    parsed: TopLevelObject | None = None


def check_object(body: Mapping[str, Any]) -> ObjectCheck:
    """Check one object as written (a YAML document, or the object of an admission request)."""
    api_version = str(body.get("apiVersion") or "")
    if api_version.startswith(ARGO_GROUP):
        return ObjectCheck(
            problems=[
                f"`apiVersion` is {api_version}, Argo Rollouts' group; change it to rollouts.dev/v1alpha1 "
                "(the field names are the same)"
            ]
        )
    try:
        parsed = parse_object(body)
    except InvalidObjectError as exc:
        prefix = f"{object_name(body)}: "
        return ObjectCheck(problems=[line.removeprefix(prefix) for line in exc.errors])
    problems: list[str] = []
    if isinstance(parsed, AnalysisTemplate | ClusterAnalysisTemplate | AnalysisRun):
        problems += [f"`{p.path}`: {p.message}" for p in condition_problems(parsed.spec.metrics)]
    if isinstance(parsed, AnalysisTemplate | ClusterAnalysisTemplate):
        problems += [f"`{p.path}`: {p.message}" for p in check_template(parsed)]
    return ObjectCheck(problems=problems, parsed=parsed)
