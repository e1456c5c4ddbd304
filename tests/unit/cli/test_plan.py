"""`kubectl rollouts plan`: the engine's own delivery of each example, step by step, and its totals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from rollouts.api import AnalysisTemplate, parse_object, parse_rollout
from rollouts.cli.simulation import simulate
from rollouts.engine import CreateAnalysisRun
from tests.unit.cli.cli import cli
from tests.unit.cli.golden import assert_golden

REPO = Path(__file__).resolve().parents[3]
EXAMPLES = REPO / "tests" / "golden" / "manifests"  # copies of examples/, so the goldens move only with us
TEMPLATE = str(EXAMPLES / "analysis-template-success-rate.yaml")
MANIFESTS = Path(__file__).parent / "manifests"
# the NGINX template's args (namespace, ingress) are not blue-green's (service-name): see the file
TEMPLATE_OF = {"blue-green": "tests/unit/cli/manifests/preview-success-rate.yaml"}


@pytest.mark.parametrize("name", ["canary-nginx", "canary-istio", "blue-green"])
def test_plan_text_matches_golden(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)  # the file names in the output are as given on the command line
    result = cli(
        "plan",
        "-f",
        f"tests/golden/manifests/{name}.yaml",
        "-f",
        TEMPLATE_OF.get(name, "tests/golden/manifests/analysis-template-success-rate.yaml"),
        "--no-color",
    )
    assert result.code == 0, result.err
    assert_golden(f"plan-{name}.txt", result.out)


def test_plan_json_matches_golden_and_parses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    result = cli(
        "plan",
        "-f",
        "tests/golden/manifests/canary-nginx.yaml",
        "-f",
        "tests/golden/manifests/analysis-template-success-rate.yaml",
        "-o",
        "json",
    )
    assert result.code == 0
    assert_golden("plan-canary-nginx.json", result.out)
    (plan,) = json.loads(result.out)["rollouts"]
    assert (plan["name"], plan["promotedAfterSeconds"], plan["manualPromotions"]) == ("web", 400.0, 1)


def test_yaml_output_is_the_same_data() -> None:
    as_json = cli("plan", "-f", str(EXAMPLES / "blue-green.yaml"), "-o", "json").out
    as_yaml = cli("plan", "-f", str(EXAMPLES / "blue-green.yaml"), "-o", "yaml").out
    assert yaml.safe_load(as_yaml) == json.loads(as_json)


def test_nginx_canary_timeline_follows_the_steps() -> None:
    plan = json.loads(
        cli("plan", "-f", str(EXAMPLES / "canary-nginx.yaml"), "-f", TEMPLATE, "-o", "json").out
    )
    steps = plan["rollouts"][0]["steps"]
    by_index = {s["stepIndex"]: s for s in steps if s["stepIndex"] is not None}
    # setWeight 10 of 5 replicas: one canary pod beside the full stable, 10% of the traffic
    assert (by_index[0]["trafficWeight"], by_index[0]["newReplicas"], by_index[0]["oldReplicas"]) == (
        10,
        1,
        5,
    )
    assert by_index[1]["waitSeconds"] == 60  # pause 1m
    assert by_index[2]["waitSeconds"] == 40  # 5 measurements, 10s apart
    assert (by_index[3]["trafficWeight"], by_index[3]["newReplicas"]) == (50, 3)
    assert by_index[3]["atSeconds"] == 100
    assert by_index[6]["untilPromoted"] is True
    assert plan["rollouts"][0]["completedAfterSeconds"] == 430  # 30s scale-down delay after promotion


def test_without_the_template_the_analysis_counts_as_instant_and_says_so() -> None:
    plan = json.loads(cli("plan", "-f", str(EXAMPLES / "canary-nginx.yaml"), "-o", "json").out)
    analysis = next(s for s in plan["rollouts"][0]["steps"] if s["stepIndex"] == 2)
    assert analysis["waitSeconds"] == 0
    assert "not in the file" in analysis["note"]
    assert plan["rollouts"][0]["promotedAfterSeconds"] == 360


def _rollout(steps: list[dict[str, object]], **canary: object) -> dict[str, object]:
    return {
        "apiVersion": "rollouts.dev/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": "api"},
        "spec": {
            "replicas": 4,
            "selector": {"matchLabels": {"app": "api"}},
            "template": {
                "metadata": {"labels": {"app": "api"}},
                "spec": {"containers": [{"name": "a", "image": "a:2"}]},
            },
            "strategy": {"canary": {"steps": steps, **canary}},
        },
    }


def test_basic_canary_traffic_follows_pod_counts() -> None:
    sim = simulate(parse_rollout(_rollout([{"setWeight": 50}, {"pause": {"duration": 10}}])))
    assert not sim.blocked
    assert sim.promoted_at is not None and sim.promoted_at.total_seconds() == 10
    assert sim.manual_promotions == 0


def test_weights_out_of_max_traffic_weight_show_as_percent(tmp_path: Path) -> None:
    routing = {"nginx": {"stableIngress": "api"}, "maxTrafficWeight": 1000}
    doc = _rollout(
        [{"setWeight": 5}, {"pause": {"duration": 10}}, {"setWeight": 250}],
        canaryService="api-canary",
        stableService="api-stable",
        trafficRouting=routing,
    )
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(doc))
    steps = json.loads(cli("plan", "-f", str(path), "-o", "json").out)["rollouts"][0]["steps"]
    by_index = {s["stepIndex"]: s for s in steps if s["stepIndex"] is not None}
    assert (by_index[0]["action"], by_index[0]["trafficWeight"], by_index[0]["newReplicas"]) == (
        "setWeight: 5/1000",
        0.5,
        1,
    )
    assert (by_index[2]["trafficWeight"], by_index[2]["newReplicas"]) == (25, 1)
    text = cli("plan", "-f", str(path), "--no-color").out
    assert "0.5%" in text and "25%" in text


def test_no_steps_promotes_at_once(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(_rollout([])))
    result = cli("plan", "-f", str(path), "--no-color")
    assert result.code == 0
    assert "Shortest time to promotion: 0s, with no promotion by hand" in result.out


def test_a_step_analysis_that_never_ends_is_reported(tmp_path: Path) -> None:
    template = {
        "apiVersion": "rollouts.dev/v1alpha1",
        "kind": "AnalysisTemplate",
        "metadata": {"name": "forever"},
        "spec": {"metrics": [{"name": "m", "interval": "1m", "provider": {"web": {"url": "http://x"}}}]},
    }
    rollout = _rollout([{"setWeight": 20}, {"analysis": {"templates": [{"templateName": "forever"}]}}])
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump_all([rollout, template]))
    result = cli("plan", "-f", str(path), "--no-color")
    assert result.code == 0
    assert "Never promoted: AnalysisRun api-" in result.out
    assert "never finishes (a metric has an interval but no count)" in result.out


def test_invalid_rollout_points_at_lint(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(_rollout([{"setWeight": 150}])))
    result = cli("plan", "-f", str(path))
    assert result.code == 1
    assert result.err.startswith(f"error: {path}:1 (document 1, Rollout api) is invalid: Rollout api: ")
    assert f"run `kubectl rollouts lint -f {path}`" in result.err


def test_a_file_without_rollouts_is_an_error() -> None:
    result = cli("plan", "-f", TEMPLATE)
    assert result.code == 1
    assert "no Rollout in" in result.err


# --- the runs the controller would refuse -----------------------------------------------------------

REFUSED = [
    (
        "analysis-arg-typo.yaml",
        "(document 1, Rollout api): Rollout 'api' spec.strategy.canary.steps[1].analysis.args[0]: "
        "'sevice' is not an argument of the referenced templates (they declare: service)",
    ),
    (
        "analysis-duplicate-metric.yaml",
        "(document 1, Rollout api): Rollout 'api' spec.strategy.canary.steps[1].analysis: metric "
        "'error-rate' is defined by both AnalysisTemplate 'error-rate' and AnalysisTemplate 'latency'",
    ),
    (
        "analysis-field-ref-typo.yaml",
        "(document 1, Rollout api): Rollout 'api' spec.strategy.canary.steps[1].analysis.args[1]"
        ".valueFrom.fieldRef.fieldPath: fieldPath 'spec.template.spec.containers[0].imag': "
        "spec.template.spec.containers[0] has no field 'imag'",
    ),
]


@pytest.mark.parametrize(("name", "expected"), REFUSED, ids=[r[0] for r in REFUSED])
def test_a_run_the_controller_would_refuse_is_an_error_not_a_plan(name: str, expected: str) -> None:
    path = MANIFESTS / name
    result = cli("plan", "-f", str(path), "--no-color")
    assert (result.code, result.out) == (1, "")
    assert result.err.startswith(f"error: {path}:"), result.err
    assert expected in result.err
    assert len(result.err.splitlines()) == 1


def test_templates_from_another_file_are_checked_too(tmp_path: Path) -> None:
    docs = list(yaml.safe_load_all((MANIFESTS / "analysis-arg-typo.yaml").read_text()))
    rollout, template = tmp_path / "rollout.yaml", tmp_path / "template.yaml"
    rollout.write_text(yaml.safe_dump(docs[0]))
    template.write_text(yaml.safe_dump(docs[1]))
    result = cli("plan", "-f", str(rollout), "-f", str(template))
    assert result.code == 1
    assert f"error: {rollout}:1 (document 1, Rollout api): " in result.err
    assert "'sevice' is not an argument" in result.err


def test_valid_runs_plan_with_fields_only_the_cluster_knows_unchecked() -> None:
    # metadata.namespace, a label a tool adds, status.observedGeneration and the Stable hash
    result = cli("plan", "-f", str(MANIFESTS / "analysis-valid.yaml"), "-o", "json")
    assert result.code == 0, result.err
    (plan,) = json.loads(result.out)["rollouts"]
    assert plan["promotedAfterSeconds"] == 50  # the slower template: 6 measurements, 10s apart
    assert plan["blocked"] is None


def test_the_simulation_builds_each_run_the_controller_would_create() -> None:
    docs = list(yaml.safe_load_all((MANIFESTS / "analysis-valid.yaml").read_text()))
    templates = [t for t in map(parse_object, docs[1:]) if isinstance(t, AnalysisTemplate)]
    sim = simulate(parse_rollout(docs[0]), analysis_templates=templates)
    runs = [a.run for m in sim.moments for a in m.plan.actions if isinstance(a, CreateAnalysisRun)]
    assert len(runs) == 2 and all(run is not None for run in runs)
    step_run = next(run for run in runs if run is not None and len(run.spec.metrics) == 2)
    args = {arg.name: arg.value for arg in step_run.spec.args or []}
    assert args["image"] == "api:2"  # read from the spec, as the controller reads it
    assert args["stable"] == sim.desired_hash  # Latest: the revision being delivered


def _with_cluster_template(rollout: Any) -> Any:
    canary = rollout["spec"]["strategy"]["canary"]
    canary["analysis"] = {"templates": [{"templateName": "shared", "clusterScope": True}]}
    return rollout


def test_a_kind_the_files_do_not_hold_is_applied_from_elsewhere(tmp_path: Path) -> None:
    # a ClusterAnalysisTemplate the platform team applies: no ClusterAnalysisTemplate in the files
    docs = list(yaml.safe_load_all((MANIFESTS / "analysis-valid.yaml").read_text()))
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump_all([_with_cluster_template(docs[0]), *docs[1:]]))
    result = cli("plan", "-f", str(path), "-o", "json")
    assert result.code == 0, result.err


def test_blocks_of_kinds_the_files_hold_are_checked_beside_one_applied_from_elsewhere(
    tmp_path: Path,
) -> None:
    docs = list(yaml.safe_load_all((MANIFESTS / "analysis-arg-typo.yaml").read_text()))
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump_all([_with_cluster_template(docs[0]), *docs[1:]]))
    result = cli("plan", "-f", str(path))
    assert result.code == 1
    assert "spec.strategy.canary.steps[1].analysis.args[0]: 'sevice' is not an argument" in result.err


def test_a_template_name_missing_from_the_files_is_an_error(tmp_path: Path) -> None:
    docs = list(yaml.safe_load_all((MANIFESTS / "analysis-valid.yaml").read_text()))
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump_all(docs[:2]))  # latency is not there, error-rate is
    result = cli("plan", "-f", str(path))
    assert result.code == 1
    missing = "steps[1].analysis.templates[1]: AnalysisTemplate 'latency' does not exist"
    assert missing in result.err


def test_an_invalid_template_the_rollout_names_points_at_lint(tmp_path: Path) -> None:
    docs = list(yaml.safe_load_all((MANIFESTS / "analysis-arg-typo.yaml").read_text()))
    docs[1]["spec"]["metrics"] = []
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    result = cli("plan", "-f", str(path))
    assert result.code == 1
    assert result.err.startswith(f"error: {path}:")
    assert "(document 2, AnalysisTemplate error-rate) is invalid: " in result.err
    assert f"run `kubectl rollouts lint -f {path}`" in result.err


@pytest.mark.parametrize("by_subset", [False, True], ids=["by-host", "by-subset"])
def test_a_ping_pong_canary_is_planned_through_the_swap(by_subset: bool) -> None:
    """By host the swap itself moves the weight back (no router write); by subset the stable
    subset takes it back with one more write."""
    docs = list(yaml.safe_load_all((Path("examples") / "canary-istio-ping-pong.yaml").read_text()))
    doc = docs[-1]
    doc["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.28"
    doc["spec"]["strategy"]["canary"]["steps"] = [{"setWeight": 10}, {"pause": {"duration": "1m"}}]
    if by_subset:
        istio = doc["spec"]["strategy"]["canary"]["trafficRouting"]["istio"]
        istio["destinationRule"] = {
            "name": "cart",
            "canarySubsetName": "canary",
            "stableSubsetName": "stable",
        }
    sim = simulate(parse_rollout(doc))
    assert sim.promoted_at is not None
    weights = [
        a.canary_weight for m in sim.moments for a in m.plan.actions if type(a).__name__ == "SetWeight"
    ]
    assert weights == ([10, 100, 0] if by_subset else [10, 100])
    final = sim.moments[-1].status.canary
    assert final is not None and final.stable_ping_pong == "pong"
