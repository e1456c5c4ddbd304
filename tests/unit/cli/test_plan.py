"""`kubectl rollouts plan`: the engine's own delivery of each example, step by step, and its totals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from rollouts.api import parse_rollout
from rollouts.cli.simulation import simulate
from tests.unit.cli.cli import cli
from tests.unit.cli.golden import assert_golden

REPO = Path(__file__).resolve().parents[3]
EXAMPLES = REPO / "tests" / "golden" / "manifests"  # copies of examples/, so the goldens move only with us
TEMPLATE = str(EXAMPLES / "analysis-template-success-rate.yaml")


@pytest.mark.parametrize("name", ["canary-nginx", "canary-istio", "blue-green"])
def test_plan_text_matches_golden(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)  # the file names in the output are as given on the command line
    result = cli(
        "plan",
        "-f",
        f"tests/golden/manifests/{name}.yaml",
        "-f",
        "tests/golden/manifests/analysis-template-success-rate.yaml",
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
