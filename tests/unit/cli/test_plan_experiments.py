"""`plan` on experiment steps: the engine starts each Experiment, the simulation runs it to its verdict."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from rollouts.cli.manifests import read_manifests
from rollouts.cli.plan import plan_manifests
from rollouts.engine import CreateExperiment, TerminateExperiment
from tests.unit.cli.cli import Result, cli

MANIFEST = Path(__file__).parent / "manifests" / "experiment-step.yaml"


def _docs() -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(MANIFEST.read_text()) if doc]


def _plan(tmp_path: Path, docs: list[dict[str, Any]], *args: str) -> Result:
    path = tmp_path / "shop.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    return cli("plan", "-f", str(path), "--no-color", *args)


def test_an_experiment_step_runs_its_duration_then_the_open_ended_one_waits_for_a_promote() -> None:
    result = cli("plan", "-f", str(MANIFEST), "--no-color")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    step1 = next(line for line in lines if line.startswith("  0s   1 "))
    assert (
        "experiment 10m: baseline (stable, 1 pod), canary (canary, 1 pod); analyses: compare (required)"
        in step1
    )
    assert step1.split()[-1] == "10m"  # WAITS: the duration (the analysis takes 2m)
    assert any(line.startswith("  10m  2     setWeight: 50") for line in lines), result.out
    step3 = next(line for line in lines if line.startswith("  10m  3 "))
    assert "experiment: soak (canary, 2 pods)" in step3 and "until promoted" in step3
    assert step3.endswith("runs until promoted (no duration, no required analysis)")
    assert (
        lines[-1]
        == "Shortest time to promotion: 10m, after 1 promotion by hand (kubectl rollouts promote shop)"
    )


def test_json_counts_the_experiment_and_the_promote() -> None:
    result = cli("plan", "-f", str(MANIFEST), "-o", "json")
    data = yaml.safe_load(result.out)["rollouts"][0]
    steps = {s["stepIndex"]: s for s in data["steps"] if s["stepIndex"] is not None}
    assert (steps[1]["waitSeconds"], steps[1]["untilPromoted"]) == (600, False)
    assert steps[3]["untilPromoted"] is True
    assert (data["promotedAfterSeconds"], data["manualPromotions"]) == (600, 1)


def test_the_engine_creates_each_experiment_and_terminates_the_open_ended_one_after_the_promote() -> None:
    (plan,) = plan_manifests(read_manifests([str(MANIFEST)]))
    actions = [a for m in plan.simulation.moments for a in m.plan.actions]
    created = [a for a in actions if isinstance(a, CreateExperiment)]
    assert [(a.step_index, a.stable_hash) for a in created] == [(1, "previous"), (3, "previous")]
    terminated = [a.name for a in actions if isinstance(a, TerminateExperiment)]
    assert terminated == [created[1].name]  # the first one succeeded by itself


def test_a_required_analysis_longer_than_the_duration_holds_the_step(tmp_path: Path) -> None:
    docs = _docs()
    docs[1]["spec"]["metrics"][0]["count"] = 21  # 20 minutes
    result = _plan(tmp_path, docs)
    assert result.code == 0, result.err
    step1 = next(line for line in result.out.splitlines() if line.startswith("  0s   1 "))
    assert "20m" in step1.split() and step1.endswith("waits for its analyses: compare (20m)"), result.out


def test_a_required_analysis_that_never_ends_blocks_the_delivery(tmp_path: Path) -> None:
    docs = _docs()
    del docs[1]["spec"]["metrics"][0]["count"]
    result = _plan(tmp_path, docs)
    assert result.code == 0, result.err
    assert "Never promoted: Experiment shop-" in result.out
    assert (
        "never finishes: its required analysis compare has a metric with an interval but no count"
        in result.out
    )


def test_an_argument_the_template_does_not_declare_stops_plan_with_the_engines_message(
    tmp_path: Path,
) -> None:
    docs = _docs()
    args = docs[0]["spec"]["strategy"]["canary"]["steps"][1]["experiment"]["analyses"][0]["args"]
    args[0]["name"] = "baselin-hash"
    result = _plan(tmp_path, docs)
    assert result.code == 1
    assert "'baselin-hash' is not an argument of the referenced templates" in result.err, result.err


def test_a_template_in_no_file_counts_as_instant_and_says_so(tmp_path: Path) -> None:
    result = _plan(tmp_path, _docs()[:1])
    assert result.code == 0, result.err
    step1 = next(line for line in result.out.splitlines() if line.startswith("  0s   1 "))
    assert step1.endswith("template compare not in the file: its duration is not counted"), result.out
