"""The generated CRDs on the real API server: accepted, enforced, and useful to kubectl users."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.support import Kubectl, kubectl_json

EXAMPLES = sorted((REPO / "examples").glob("*.yaml"))
INVALID = sorted((REPO / "examples" / "invalid").glob("*.yaml"))


def _expected_error(path: Path) -> str:
    for line in path.read_text().splitlines():
        if line.startswith("# expect-error:"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"{path} has no '# expect-error:' line")


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_valid_examples_are_accepted(rollout_crds: None, kubectl: Kubectl, example: Path) -> None:
    res = kubectl("apply", "-f", str(example))
    assert "created" in res.stdout


ARGO_TEMPLATED = REPO / "tests" / "unit" / "cli" / "manifests" / "argo-templated-args.yaml"


def _templated(kind: str, name: str = "t", **fields: object) -> str:
    metric = {"name": "m", "provider": {"prometheus": {"query": "up"}}, **fields}
    spec: dict[str, object] = {"args": [{"name": "n"}], "metrics": [metric]}
    body = {"apiVersion": "rollouts.dev/v1alpha1", "kind": kind, "metadata": {"name": name}, "spec": spec}
    return json.dumps(body)


def test_templates_with_placeholders_in_counts_and_durations_are_accepted(
    rollout_crds: None, kubectl: Kubectl
) -> None:
    migrated = ARGO_TEMPLATED.read_text().replace("argoproj.io/v1alpha1", "rollouts.dev/v1alpha1")
    assert "created" in kubectl("apply", "-f", "-", stdin=migrated).stdout
    stored = kubectl_json(kubectl, "get", "analysistemplates.rollouts.dev", "error-budget")
    metric = stored["spec"]["metrics"][0]
    assert (metric["count"], metric["interval"]) == ("{{args.count}}", "{{args.interval}}")
    assert (metric["initialDelay"], metric["failureLimit"]) == (
        "{{args.warmup-seconds}}s",
        "{{args.failure-limit}}",
    )
    name = f"templated-{uuid.uuid4().hex[:8]}"  # cluster-scoped: not removed with the test's namespace
    cluster_wide = _templated("ClusterAnalysisTemplate", name, count="{{ args.n }}", interval="{{args.n}}m")
    try:
        assert "created" in kubectl("apply", "-f", "-", stdin=cluster_wide).stdout
    finally:
        kubectl("delete", "clusteranalysistemplates.rollouts.dev", name, "--ignore-not-found", check=False)


@pytest.mark.parametrize(
    ("kind", "fields", "expected"),
    [
        ("AnalysisTemplate", {"count": "5"}, "spec.metrics[0].count in body should match '^\\{\\{"),
        (
            "AnalysisTemplate",
            {"failureLimit": "x{{args.n}}"},
            "spec.metrics[0].failureLimit in body should match",
        ),
        (
            "AnalysisTemplate",
            {"consecutiveErrorLimit": -1},
            "consecutiveErrorLimit in body should be greater than",
        ),
        (
            "AnalysisTemplate",
            {"interval": "often"},
            "spec.metrics[0].interval in body should match '^([0-9]|",
        ),
        ("AnalysisRun", {"count": "{{args.n}}"}, "spec.metrics[0].count in body must be of type integer"),
    ],
    ids=["quoted-number", "text-around-placeholder", "negative", "bad-duration", "placeholder-in-a-run"],
)
def test_what_is_no_number_no_duration_and_no_placeholder_is_rejected(
    rollout_crds: None, kubectl: Kubectl, kind: str, fields: dict[str, object], expected: str
) -> None:
    res = kubectl("apply", "-f", "-", stdin=_templated(kind, **fields), check=False)
    assert res.returncode != 0, f"the server accepted {fields}"
    assert expected in res.stderr


@pytest.mark.parametrize("example", INVALID, ids=[p.name for p in INVALID])
def test_invalid_examples_are_rejected_by_the_server(
    rollout_crds: None, kubectl: Kubectl, example: Path
) -> None:
    res = kubectl("apply", "-f", str(example), check=False)
    assert res.returncode != 0, f"the server accepted {example.name}"
    assert _expected_error(example) in res.stderr


def test_printer_columns_scale_subresource_and_explain(rollout_crds: None, kubectl: Kubectl) -> None:
    kubectl("apply", "-f", str(REPO / "examples" / "canary-nginx.yaml"))
    header = kubectl("get", "rollouts.rollouts.dev").stdout.splitlines()[0].split()
    assert header == [
        "NAME",
        "DESIRED",
        "CURRENT",
        "UP-TO-DATE",
        "AVAILABLE",
        "PHASE",
        "STEP",
        "WEIGHT",
        "AGE",
    ]
    # The scale subresource is what an HPA (and `kubectl scale`) uses.
    kubectl("scale", "rollout.rollouts.dev", "web", "--replicas=7")
    assert kubectl_json(kubectl, "get", "rollout.rollouts.dev", "web")["spec"]["replicas"] == 7
    explained = kubectl(
        "explain", "rollout.spec.strategy.canary.steps.setWeight", "--api-version=rollouts.dev/v1alpha1"
    ).stdout
    assert "DESCRIPTION" in explained and len(explained.split("DESCRIPTION:", 1)[1].strip()) > 20


def test_selector_is_immutable(rollout_crds: None, kubectl: Kubectl) -> None:
    kubectl("apply", "-f", str(REPO / "examples" / "canary-nginx.yaml"))
    patch = '{"spec": {"selector": {"matchLabels": {"app": "other"}}}}'
    res = kubectl("patch", "rollout.rollouts.dev", "web", "--type=merge", "-p", patch, check=False)
    assert res.returncode != 0
    assert "spec.selector" in res.stderr
    assert kubectl_json(kubectl, "get", "rollout.rollouts.dev", "web")["spec"]["selector"]["matchLabels"] == {
        "app": "web"
    }


def _judge_template(name: str, judge: dict[str, object], **metric: object) -> str:
    spec = {"canaryQuery": "vector(0)", "baselineQuery": "vector(0)", "direction": "HigherIsWorse", **judge}
    body = {
        "apiVersion": "rollouts.dev/v1alpha1",
        "kind": "AnalysisTemplate",
        "metadata": {"name": name},
        "spec": {"metrics": [{"name": "m", "provider": {"judge": spec}, **metric}]},
    }
    return json.dumps(body)


def test_a_judge_metric_stores_its_floats_and_defaults(rollout_crds: None, kubectl: Kubectl) -> None:
    # crdgen writes a float's gt=0 as minimum + exclusiveMinimum: true, which the server accepts
    kubectl("apply", "-f", "-", stdin=_judge_template("judge", {"alpha": 0.01, "minEffect": 0.005}))
    stored = kubectl_json(kubectl, "get", "analysistemplates.rollouts.dev", "judge")["spec"]["metrics"][0]
    judge = stored["provider"]["judge"]
    assert (judge["alpha"], judge["minEffect"]) == (0.01, 0.005)
    assert (judge["window"], judge["step"], judge["minSamples"]) == ("5m", "30s", 10)


@pytest.mark.parametrize(
    ("judge", "metric", "expected"),
    [
        ({"alpha": 0}, {}, "spec.metrics[0].provider.judge.alpha in body should be greater than 0"),
        (
            {"alpha": 0.7},
            {},
            "spec.metrics[0].provider.judge.alpha in body should be less than or equal to 0.5",
        ),
        ({"window": "10s", "step": "20s"}, {}, "window must be longer than step"),
        ({}, {"successCondition": "result > 0"}, "a metric with provider.judge is decided by the judge"),
    ],
    ids=["alpha-0", "alpha-high", "window-shorter-than-step", "condition"],
)
def test_the_server_refuses_a_bad_judge_metric(
    rollout_crds: None, kubectl: Kubectl, judge: dict[str, object], metric: dict[str, object], expected: str
) -> None:
    res = kubectl("apply", "-f", "-", stdin=_judge_template("bad-judge", judge, **metric), check=False)
    assert res.returncode != 0, f"the server accepted {judge} {metric}"
    assert expected in res.stderr
