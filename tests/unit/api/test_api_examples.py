"""The manifests in examples/: valid ones parse, round-trip and pass the CRDs; invalid ones fail both."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from rollouts.api import Rollout, parse_object, validation_errors
from tests.unit.api.crd_check import REPO, crd_schemas, server_errors

EXAMPLES = REPO / "examples"


def _ours(path: Path) -> list[dict[str, Any]]:
    docs = yaml.safe_load_all(path.read_text(encoding="utf-8"))
    return [doc for doc in docs if doc and str(doc.get("apiVersion", "")).startswith("rollouts.dev/")]


def _header(path: Path, key: str) -> str:
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith(f"# {key}:"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"{path.name} has no '# {key}:' comment")


VALID = sorted(EXAMPLES.glob("*.yaml"))
INVALID = sorted((EXAMPLES / "invalid").glob("*.yaml"))


def _subset(small: Any, big: Any) -> bool:
    """Every key and value of `small` is in `big` (the dump may add defaults, but must drop nothing)."""
    if isinstance(small, dict):
        return isinstance(big, dict) and all(k in big and _subset(v, big[k]) for k, v in small.items())
    if isinstance(small, list):
        return isinstance(big, list) and len(small) == len(big) and all(map(_subset, small, big))
    return bool(small == big)


def test_there_are_examples_of_each_shape() -> None:
    kinds = {doc["kind"] for path in VALID for doc in _ours(path)}
    assert kinds == {"Rollout", "AnalysisTemplate", "Experiment"}
    assert len(INVALID) >= 5


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_valid_example_parses_and_round_trips(path: Path) -> None:
    docs = _ours(path)
    assert docs, f"{path.name} holds no rollouts.dev object"
    for doc in docs:
        assert validation_errors(doc) == []
        parsed = parse_object(doc)
        dumped = parsed.model_dump(by_alias=True, exclude_none=True, mode="json")
        assert _subset(doc, dumped), "dumping dropped or changed a field the user wrote"
        assert type(parsed).model_validate(dumped) == parsed


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_valid_example_passes_the_crd_schema_and_cel_rules(path: Path) -> None:
    schemas = crd_schemas()
    for doc in _ours(path):
        assert server_errors(doc, schemas) == []


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.name)
def test_invalid_example_is_rejected_by_the_models_and_by_the_crd(path: Path) -> None:
    expected = _header(path, "expect-error")
    assert _header(path, "invalid")
    (doc,) = _ours(path)
    assert len(validation_errors(doc)) == 1
    server = server_errors(doc, crd_schemas())
    assert server, f"{path.name} would be accepted by the API server"
    assert any(expected in line for line in server), server


def test_examples_give_the_engine_what_it_reads() -> None:
    (rollout,) = [parse_object(doc) for doc in _ours(EXAMPLES / "canary-nginx.yaml")]
    assert isinstance(rollout, Rollout)
    canary = rollout.spec.strategy.canary
    assert canary is not None and canary.steps is not None
    assert [step.set_weight for step in canary.steps if step.set_weight is not None] == [10, 50, 100]
    pauses = [step.pause.seconds for step in canary.steps if step.pause is not None]
    assert pauses == [60.0, 300.0, None]
