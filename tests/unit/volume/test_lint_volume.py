"""Issue 10, bad input at volume: generated objects through ``lint`` (and, later, the webhook).

Valid objects must pass untouched, whole files too (every reference of a generated bundle
resolves, so one false problem is a defect); mutated ones must be answered with problems that
each name a field, never with an exception and never after a hang.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from rollouts.cli.lint import lint_manifest
from tests.unit.cli.cli import cli
from tests.unit.volume.bounds import VOLUME, bounded
from tests.unit.volume.broken import every_field_broken, mutated
from tests.unit.volume.rich import RICH
from tests.unit.volume.targets import LINT, OBJECT_TARGETS, Target, documents
from tests.unit.volume.valid import Bundle, bundles


def _ours(bundle: Bundle) -> list[dict[str, Any]]:
    return [bundle.rollout, *bundle.templates]


@pytest.mark.parametrize("target", OBJECT_TARGETS, ids=str)
@VOLUME
@given(bundle=bundles())
def test_valid_objects_are_accepted(target: Target, bundle: Bundle) -> None:
    for body in _ours(bundle):
        with bounded():
            assert target.problems(body) == [], body


@pytest.mark.parametrize("target", OBJECT_TARGETS, ids=str)
@settings(VOLUME, max_examples=200)
@given(data=st.data())
def test_mutated_objects_are_refused_by_field_never_crash(target: Target, data: st.DataObject) -> None:
    bundle = data.draw(bundles())
    body = data.draw(mutated(data.draw(st.sampled_from(_ours(bundle))), yaml=True, deep=True))
    with bounded():
        problems = target.problems(body)
    assert not target.misnamed(problems), problems


@settings(VOLUME, max_examples=40)
@given(bundle=bundles())
def test_a_valid_file_has_no_problem(bundle: Bundle) -> None:
    with bounded():
        results = lint_manifest(documents(*bundle.documents()))
    assert {result.document.kind: result.problems for result in results if result.problems} == {}


@settings(VOLUME, max_examples=100)
@given(data=st.data())
def test_a_file_with_a_mutated_object_never_crashes_and_names_fields(data: st.DataObject) -> None:
    """Any document may be the broken one, a neighbour too: the routers' and Services' offline
    checks read those as raw dicts."""
    docs = data.draw(bundles()).documents()
    index = data.draw(st.integers(0, len(docs) - 1))
    docs[index] = data.draw(mutated(docs[index], yaml=True, deep=True))
    with bounded():
        results = lint_manifest(documents(*docs))
    for result in results:
        assert not LINT.misnamed(result.problems), result.problems


@settings(VOLUME, max_examples=25)
@given(data=st.data())
def test_the_command_reads_a_generated_file_and_exits_by_its_problems(data: st.DataObject) -> None:
    """The whole command, YAML text included: exit 1 exactly when some document has a problem."""
    docs = data.draw(bundles()).documents()
    if data.draw(st.booleans()):
        index = data.draw(st.integers(0, len(docs) - 1))
        docs[index] = data.draw(mutated(docs[index], yaml=True))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "volume.yaml"
        path.write_text(yaml.safe_dump_all(docs, allow_unicode=True), encoding="utf-8")
        with bounded():
            result = cli("lint", "-f", str(path), "--no-color")
    errors = [line for line in result.out.splitlines() if line.startswith("error")]
    assert result.code == (1 if errors else 0), result.out + result.err
    assert not LINT.misnamed([line.split(": ", 1)[1] for line in errors]), errors


@pytest.mark.parametrize("target", OBJECT_TARGETS, ids=str)
@pytest.mark.parametrize("base", RICH, ids=str)
def test_every_field_broken_every_way_is_refused_by_field(target: Target, base: str) -> None:
    assert target.problems(RICH[base]) == []
    failures = []
    for path, value, body in every_field_broken(RICH[base], deep=True):
        try:
            with bounded():
                problems = target.problems(body)
        except Exception as exc:  # every failure is reported at once, not only the first
            failures.append((path, value, repr(exc)))
            continue
        if target.misnamed(problems):
            failures.append((path, value, target.misnamed(problems)))
    assert failures == []
