"""Each version of an object is parsed once: the pass reuses what the watch handler parsed."""

from __future__ import annotations

from typing import Any

import pytest

from rollouts.api import InvalidObjectError
from rollouts.controller.caches import Caches, ParsedByVersion
from tests.unit.volume.broken import nested_lists


def _obj(uid: str, version: str) -> dict[str, Any]:
    return {"metadata": {"uid": uid, "resourceVersion": version}}


def test_a_version_is_parsed_once_and_a_new_one_again() -> None:
    calls: list[str] = []
    cache = ParsedByVersion(lambda raw: calls.append(raw["metadata"]["resourceVersion"]) or object())
    first = cache.parse(_obj("u1", "1"))
    assert cache.parse(_obj("u1", "1")) is first and calls == ["1"]
    assert cache.parse(_obj("u1", "2")) is not first and calls == ["1", "2"]
    cache.forget("u1")
    cache.parse(_obj("u1", "2"))
    assert calls == ["1", "2", "2"]


def test_one_entry_per_uid_within_the_limit_and_failures_are_not_kept() -> None:
    cache: ParsedByVersion[object] = ParsedByVersion(lambda raw: object(), limit=2)
    kept = cache.parse(_obj("a", "1"))
    cache.parse(_obj("b", "1"))
    cache.parse(_obj("c", "1"))  # evicts the least recently used: a
    assert cache.parse(_obj("a", "1")) is not kept

    def broken(raw: dict[str, Any]) -> object:
        raise ValueError("bad")

    failing: ParsedByVersion[object] = ParsedByVersion(broken)
    for _ in range(2):
        with pytest.raises(ValueError):
            failing.parse(_obj("x", "1"))


def test_a_template_nested_thousands_deep_is_invalid_not_a_recursion_error() -> None:
    # found by tests/unit/volume: observe treats a template that does not parse (a ValueError) as
    # missing, but the model's errors on junk that deep raised RecursionError out of the pass
    caches = Caches(object(), namespaces=["ns"], wake=lambda key: None)  # type: ignore[arg-type]
    raw = {"apiVersion": "rollouts.dev/v1alpha1", "kind": "AnalysisTemplate", "metadata": {"name": "t"}}
    with pytest.raises(InvalidObjectError, match="nests more than 100 levels"):
        caches.parsed_templates.parse(
            {**raw, "spec": {"metrics": [{"name": "m", "count": nested_lists(5000)}]}}
        )
