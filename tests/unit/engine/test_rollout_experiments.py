"""The Experiment an experiment step starts: templates from the Rollout, args resolved, owned."""

from __future__ import annotations

from typing import Any

import pytest

from rollouts.engine.analysis_errors import AnalysisRunError
from rollouts.engine.experiment import template_hash
from rollouts.engine.rollout_experiments import build_experiment, observe_experiment
from tests.unit.engine.scenario import V1, V2, canary_rollout, mid, template

STEP: dict[str, Any] = {
    "experiment": {
        "duration": "5m",
        "templates": [
            {"name": "baseline", "specRef": "stable", "metadata": {"labels": {"role": "baseline"}}},
            {"name": "canary", "specRef": "canary", "replicas": 2},
        ],
        "analyses": [
            {
                "name": "judge",
                "templateName": "judge",
                "requiredForCompletion": True,
                "args": [
                    {"name": "baseline-hash", "value": "{{templates.baseline.podTemplateHash}}"},
                    {"name": "canary-hash", "value": "{{ templates.canary.podTemplateHash }}"},
                    {"name": "stable", "valueFrom": {"podTemplateHashValue": "Stable"}},
                    {"name": "latest", "valueFrom": {"podTemplateHashValue": "Latest"}},
                    {"name": "app", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                ],
            }
        ],
    }
}


def rollout(steps: list[dict[str, Any]] | None = None) -> Any:
    ro = canary_rollout(steps=steps or [{"setWeight": 20}, STEP], status=mid(1))
    meta = ro.metadata.model_copy(update={"uid": "uid-1", "namespace": "ns"})
    return ro.model_copy(update={"metadata": meta})


def stable_template() -> dict[str, Any]:
    pods = template("web:1")
    pods["metadata"]["labels"]["rollouts-pod-template-hash"] = V1
    return pods


def build(**kw: Any) -> Any:
    args = {"rollout": rollout(), "name": "web-x-1-1", "step_index": 1, "stable_template": stable_template()}
    return build_experiment(**{**args, "pod_template_hash": V2, "stable_hash": V1, **kw})


def test_templates_copy_the_stable_and_canary_pods_without_the_rollouts_hash() -> None:
    exp = build()
    baseline, canary = exp.spec.templates
    assert baseline.template["spec"]["containers"][0]["image"] == "web:1"
    assert canary.template["spec"]["containers"][0]["image"] == "web:2"
    assert "rollouts-pod-template-hash" not in baseline.template["metadata"]["labels"]
    assert baseline.template["metadata"]["labels"]["role"] == "baseline"
    assert canary.replicas == 2 and baseline.replicas == 1
    assert exp.spec.duration == "5m" and exp.spec.progress_deadline_seconds == 600


def test_args_are_resolved_against_the_rollout_and_the_experiments_own_hashes() -> None:
    exp = build()
    baseline, canary = exp.spec.templates
    args = {a.name: a.value for a in exp.spec.analyses[0].args or []}
    assert args == {
        "baseline-hash": template_hash("web-x-1-1", baseline),
        "canary-hash": template_hash("web-x-1-1", canary),
        "stable": V1,
        "latest": V2,
        "app": "web",
    }
    assert args["baseline-hash"] not in (V1, V2)
    assert exp.spec.analyses[0].required_for_completion


def test_owned_by_the_rollout_and_read_back_by_its_labels() -> None:
    exp = build()
    owner = exp.model_dump(by_alias=True)["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["uid"]) == ("Rollout", "uid-1")
    seen = observe_experiment(exp)
    assert seen is not None and (seen.pod_template_hash, seen.step_index, seen.name) == (V2, 1, "web-x-1-1")


def test_a_stable_template_is_needed_for_specref_stable() -> None:
    with pytest.raises(AnalysisRunError, match=r"steps\[1\].experiment.templates\[0\]: specRef is stable"):
        build(stable_template=None)


def test_a_selector_that_misses_the_pods_is_an_error_naming_the_template() -> None:
    step = {
        "experiment": {
            "duration": "1m",
            "templates": [{"name": "c", "specRef": "canary", "selector": {"matchLabels": {"app": "other"}}}],
        }
    }
    with pytest.raises(AnalysisRunError, match=r"templates\[0\]: .*does not match template.metadata.labels"):
        build(rollout=rollout([{"setWeight": 20}, step]))
