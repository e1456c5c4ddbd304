"""`lint` on Experiments and experiment steps: Argo-style manifests pass once migrated; what the
controllers would refuse (a missing template, an unknown argument, a weight it cannot carry) fails,
naming the field; an experiment nobody ends is a note."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.unit.cli.cli import Result, cli

ARGO = Path(__file__).parent / "manifests" / "argo" / "experiments.yaml"


def _migrated() -> list[dict[str, Any]]:
    docs = [doc for doc in yaml.safe_load_all(ARGO.read_text()) if doc]
    for doc in docs:
        doc["apiVersion"] = "rollouts.dev/v1alpha1"
    return docs


def _lint(tmp_path: Path, docs: list[dict[str, Any]]) -> Result:
    path = tmp_path / "checkout.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    return cli("lint", "-f", str(path), "--no-color")


def _errors(result: Result) -> list[str]:
    return [line for line in result.out.splitlines() if line.startswith("error")]


def _step(docs: list[dict[str, Any]]) -> dict[str, Any]:
    experiment: dict[str, Any] = docs[2]["spec"]["strategy"]["canary"]["steps"][1]["experiment"]
    return experiment


def test_argo_experiments_pass_after_the_api_version_change(tmp_path: Path) -> None:
    result = _lint(tmp_path, _migrated())
    assert result.code == 0, result.out
    assert result.out.splitlines()[-1] == "3 documents, no problems"
    assert "(document 2, Experiment checkout-trial)" in result.out


def test_a_duration_written_as_a_go_duration_passes_too(tmp_path: Path) -> None:
    docs = _migrated()
    docs[1]["spec"]["duration"] = "20m"
    assert _lint(tmp_path, docs).code == 0


def test_unchanged_argo_manifests_are_told_to_change_their_api_version() -> None:
    result = cli("lint", "-f", str(ARGO), "--no-color")
    assert result.code == 1
    errors = _errors(result)
    assert len(errors) == 3 and all("change it to rollouts.dev/v1alpha1" in e for e in errors), result.out


def test_a_template_weight_the_canary_cannot_carry_is_refused(tmp_path: Path) -> None:
    docs = _migrated()
    _step(docs)["templates"][1]["weight"] = 10  # this canary has no traffic router
    result = _lint(tmp_path, docs)
    assert result.code == 1
    (error,) = _errors(result)
    assert "(document 3, Rollout checkout): `spec.strategy.canary.steps[1].experiment.templates" in error
    # named (in the path or the message) whether weights are not supported or need NGINX routing
    assert "weight" in error.split("(document 3, Rollout checkout): ", 1)[1], error


def test_a_template_missing_from_the_file_is_named_on_the_analysis(tmp_path: Path) -> None:
    docs = _migrated()
    _step(docs)["analyses"][0]["templateName"] = "compare-latncy"
    docs[1]["spec"]["analyses"][0]["templateName"] = "compare-latncy"
    result = _lint(tmp_path, docs)
    assert result.code == 1
    expected = (
        "AnalysisTemplate 'compare-latncy' is not in this file (AnalysisTemplates in it: compare-latency); "
        "fix the name or add the AnalysisTemplate (or set clusterScope: true if it is the other kind)"
    )
    assert [error.split(" ", 3)[3] for error in _errors(result)] == [
        f"(document 2, Experiment checkout-trial): `spec.analyses[0].templateName`: {expected}",
        "(document 3, Rollout checkout): "
        f"`spec.strategy.canary.steps[1].experiment.analyses[0].templateName`: {expected}",
    ], result.out


def test_a_template_applied_from_elsewhere_is_not_checked(tmp_path: Path) -> None:
    docs = _migrated()
    _step(docs)["analyses"][0]["templateName"] = "shared-elsewhere"
    assert _lint(tmp_path, docs[1:]).code == 0  # the file holds no AnalysisTemplate


def test_the_runs_are_built_as_the_controllers_build_them(tmp_path: Path) -> None:
    docs = _migrated()
    _step(docs)["analyses"][0]["args"][1]["name"] = "canary-hsh"
    del docs[1]["spec"]["analyses"][0]["args"][0]  # baseline-hash has no default
    result = _lint(tmp_path, docs)
    assert result.code == 1
    experiment, step = _errors(result)
    assert "(document 2, Experiment checkout-trial): `spec.analyses[0]`: " in experiment
    assert "'baseline-hash'" in experiment and "no value" in experiment, experiment
    assert "`spec.strategy.canary.steps[1].experiment.analyses[0]`: " in step
    assert "'canary-hsh' is not an argument of the referenced templates" in step, step


def test_an_experiment_nobody_ends_is_a_note(tmp_path: Path) -> None:
    docs = _migrated()
    del _step(docs)["duration"]
    _step(docs)["analyses"][0]["requiredForCompletion"] = False
    del docs[1]["spec"]["duration"]
    docs[1]["spec"]["analyses"][0]["requiredForCompletion"] = False
    result = _lint(tmp_path, docs)
    assert result.code == 0, result.out
    notes = [line for line in result.out.splitlines() if line.startswith("note")]
    assert len(notes) == 2, result.out
    assert "(document 2, Experiment checkout-trial): `spec`: " in notes[0]
    assert "runs until someone sets spec.terminate: true" in notes[0]
    assert "(document 3, Rollout checkout): `spec.strategy.canary.steps[1].experiment`: " in notes[1]
    assert "runs until someone promotes" in notes[1] and "kubectl rollouts promote checkout" in notes[1]
