"""`get experiment`, `list experiments`, and the experiment in `get rollout`: pure renders of the objects."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rollouts.cli.experiment_view import render_experiment, render_experiment_table
from rollouts.cli.facts import ExperimentObjects, RolloutFacts, RolloutObjects
from rollouts.cli.get import render_rollout
from rollouts.cli.header import render_header
from tests.unit.cli import experiment_objects as eo

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def _objects(**status: Any) -> ExperimentObjects:
    return ExperimentObjects(
        experiment=eo.experiment(**status),
        replica_sets=[
            eo.replica_set("baseline", "b1", replicas=1, available=1),
            eo.replica_set("canary", "c2", replicas=2, available=2),
        ],
        pods=[eo.pod("baseline", "b1", "x1"), eo.pod("canary", "c2", "y1"), eo.pod("canary", "c2", "y2")],
        analysis_runs=[eo.analysis_run("judge", "Running", successful=2)],
    )


def test_get_experiment_shows_time_left_templates_and_analyses() -> None:
    assert render_experiment(_objects(), now=NOW) == (
        "Name:       web-6f9c7d-1-1\n"
        "Namespace:  shop\n"
        "Status:     ◌ Running\n"
        "Message:    running until 2024-05-01T12:06:00Z\n"
        "Started by: Rollout web, step 1\n"
        "Duration:   10m (6m left)\n"
        "Available:  4m ago\n"
        "\n"
        "Templates:\n"
        "  NAME      REPLICASET               HASH  AVAILABLE  STATUS     SERVICE\n"
        "  baseline  web-6f9c7d-1-1-baseline  b1    1/1        ◌ Running  -\n"
        "  canary    web-6f9c7d-1-1-canary    c2    2/2        ◌ Running  web-6f9c7d-1-1-canary\n"
        "\n"
        "Analyses:\n"
        "  NAME   TEMPLATE  REQUIRED  ANALYSISRUN           STATUS     INFO\n"
        "  judge  judge     yes       web-6f9c7d-1-1-judge  ◌ Running  ✔ 2\n"
        "  smoke  smoke     no        -                     ◌ Pending\n"
    )


def test_the_live_objects_win_over_the_status_copy_of_them() -> None:
    objects = _objects()
    canary = eo.replica_set("canary", "c2", replicas=2, available=1)  # a pod went away since
    failed = eo.analysis_run("judge", "Failed", failed=1)
    objects = ExperimentObjects(
        experiment=objects.experiment,
        replica_sets=[objects.replica_sets[0], canary],
        analysis_runs=[failed],
    )
    text = render_experiment(objects, now=NOW)
    assert "  canary    web-6f9c7d-1-1-canary    c2    1/2        ◌ Progressing" in text, text
    assert "web-6f9c7d-1-1-judge  ✖ Failed" in text and "✖ 1" in text, text


def test_the_duration_line_follows_the_lifecycle() -> None:
    pending = _objects(phase="Pending", availableAt=None)
    assert "Duration:   10m (counts once every template is available)\n" in render_experiment(
        pending, now=NOW
    )
    over = render_experiment(_objects(), now=datetime(2024, 5, 1, 12, 7, tzinfo=UTC))
    assert "Duration:   10m (over; waiting for judge)\n" in over, over
    done = render_experiment(_objects(phase="Successful", completedAt="2024-05-01T11:59:00Z"), now=NOW)
    assert (
        "Duration:   10m\n" in done and "Completed:  1m0s ago\n" not in done and "Completed:  60s ago" in done
    )
    open_ended = eo.experiment()
    open_ended["spec"] = {**open_ended["spec"], "duration": None, "analyses": None}
    text = render_experiment(ExperimentObjects(experiment=open_ended), now=NOW)
    assert "Duration:   none: runs until terminated (or, started by a Rollout, until promoted)\n" in text
    assert "Analyses:\n  none\n" in text


def test_an_argo_style_integer_duration_reads_as_seconds() -> None:
    experiment = eo.experiment()
    experiment["spec"] = {**experiment["spec"], "duration": 1200}
    assert "Duration:   20m (16m left)\n" in render_experiment(
        ExperimentObjects(experiment=experiment), now=NOW
    )


def test_list_experiments_table() -> None:
    other = {"metadata": {"name": "load", "namespace": "perf", "creationTimestamp": "2024-05-01T09:00:00Z"},
             "spec": {"templates": [{"name": "a"}]}, "status": {"phase": "Successful"}}  # fmt: skip
    rows = [_objects(), ExperimentObjects(experiment=other)]
    assert render_experiment_table(rows, now=NOW) == (
        "NAME            STATUS        AGE  DURATION  TEMPLATES\n"
        "load            ✔ Successful  3h   -         a\n"
        "web-6f9c7d-1-1  ◌ Running     5m   10m       baseline,canary\n"
    )
    wide = render_experiment_table(rows, now=NOW, all_namespaces=True).splitlines()
    assert wide[0].split() == ["NAMESPACE", "NAME", "STATUS", "AGE", "DURATION", "TEMPLATES"]
    assert wide[1].startswith("perf       load ")


def _rollout_at_experiment_step(index: int) -> dict[str, Any]:
    steps = [{"setWeight": 20}, {"experiment": {"templates": [{"name": "baseline", "specRef": "stable"}]}}]
    return {
        "apiVersion": "rollouts.dev/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": "web", "namespace": "shop", "uid": eo.ROLLOUT_UID,
                     "creationTimestamp": "2024-05-01T11:00:00Z"},
        "spec": {"replicas": 2, "strategy": {"canary": {"steps": steps}}},
        "status": {
            "phase": "Progressing",
            "currentStepIndex": index,
            "stableRS": "aaa",
            "currentPodHash": "6f9c7d",
            "canary": {"currentExperiment": {"name": eo.NAME, "status": "Running"}},
        },
    }  # fmt: skip


def test_get_rollout_names_the_current_experiment_and_shows_it_in_the_tree() -> None:
    canary = {
        "metadata": {"name": "web-6f9c7d", "creationTimestamp": "2024-05-01T11:50:00Z",
                     "labels": {"rollouts-pod-template-hash": "6f9c7d"},
                     "annotations": {"rollouts.dev/revision": "2"}},
        "spec": {"replicas": 1}, "status": {"availableReplicas": 1},
    }  # fmt: skip
    objects = RolloutObjects(
        rollout=_rollout_at_experiment_step(1), replica_sets=[canary], experiments=[_objects()]
    )
    text = render_rollout(objects, now=NOW)
    assert f"  Experiment:   {eo.NAME} (◌ Running)\n" in text, text
    tree = [line.split() for line in text.split("\n\n", 1)[1].splitlines()]
    assert tree[2:5] == [
        ["└──#", "revision:2"],
        ["├──⧉", "web-6f9c7d", "ReplicaSet", "✔", "Healthy", "10m", "canary"],
        ["└──Σ", eo.NAME, "Experiment", "◌", "Running", "5m"],
    ], text
    assert ["├──⧉", f"{eo.NAME}-baseline", "ReplicaSet", "✔", "Healthy", "4m59s", "baseline"] in tree
    assert ["│", "└──□", f"{eo.NAME}-baseline-x1", "Pod", "✔", "Running", "4m58s", "ready:1/1"] in tree
    assert tree[-1] == ["└──α", f"{eo.NAME}-judge", "AnalysisRun", "◌", "Running", "4m", "✔", "2"]  # noqa: RUF001


def test_the_experiment_line_only_at_an_experiment_step() -> None:
    past = RolloutFacts.of(_rollout_at_experiment_step(0))
    assert past.experiment is None
    assert "Experiment" not in render_header(past)
