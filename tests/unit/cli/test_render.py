"""`get`, `list`, `status` output: pure functions of the objects and "now", against golden files."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from rollouts.cli.ages import age
from rollouts.cli.facts import RolloutFacts, RolloutObjects
from rollouts.cli.get import render_rollout
from rollouts.cli.header import render_header
from rollouts.cli.status import exit_code_for, render_status
from rollouts.cli.style import Style
from rollouts.cli.table import render_table
from tests.unit.cli.golden import GOLDEN, assert_golden

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def objects(name: str) -> RolloutObjects:
    data: dict[str, Any] = yaml.safe_load((GOLDEN / "objects" / f"{name}.yaml").read_text())
    return RolloutObjects(
        rollout=data["rollout"],
        replica_sets=data.get("replicaSets", []),
        pods=data.get("pods", []),
        analysis_runs=data.get("analysisRuns", []),
    )


def test_get_paused_canary_matches_golden() -> None:
    assert_golden("get-canary-paused.txt", render_rollout(objects("canary-paused"), now=NOW))


def test_get_header_says_where_the_canary_stands() -> None:
    facts = RolloutFacts.of(objects("canary-paused").rollout, objects("canary-paused").replica_sets)
    assert (facts.phase, facts.step, facts.set_weight, facts.actual_weight) == ("Paused", "1/4", "10", "10")
    assert (facts.stable_images, facts.canary_images) == (["nginx:1.27"], ["nginx:1.28"])
    assert (facts.desired, facts.current, facts.updated, facts.ready, facts.available) == (5, 6, 1, 6, 6)


def test_a_status_written_before_the_latest_spec_reads_as_progressing() -> None:
    rollout = objects("canary-paused").rollout
    stale = {**rollout, "metadata": {**rollout["metadata"], "generation": 3}}
    assert RolloutFacts.of(stale).phase == "Progressing"


def test_unverified_weight_is_flagged() -> None:
    rollout = objects("canary-paused").rollout
    weights = {**rollout["status"]["canary"]["weights"], "verified": False}
    status = {**rollout["status"], "canary": {"weights": weights}}
    assert RolloutFacts.of({**rollout, "status": status}).actual_weight == "10 (not yet verified)"


def test_weights_out_of_max_traffic_weight_say_their_total() -> None:
    rollout = objects("canary-paused").rollout
    canary = rollout["spec"]["strategy"]["canary"]
    routing = {**canary["trafficRouting"], "maxTrafficWeight": 1000}
    spec = {**rollout["spec"], "strategy": {"canary": {**canary, "trafficRouting": routing}}}
    facts = RolloutFacts.of({**rollout, "spec": spec})
    assert (facts.set_weight, facts.actual_weight) == ("10/1000", "10/1000")


def test_a_ping_pong_canary_says_which_service_is_stable() -> None:
    rollout = objects("canary-paused").rollout
    canary = {**rollout["spec"]["strategy"]["canary"], "pingPong": {"pingService": "a", "pongService": "b"}}
    spec = {**rollout["spec"], "strategy": {"canary": canary}}
    status = {**rollout["status"], "canary": {**rollout["status"]["canary"], "stablePingPong": "pong"}}
    header = render_header(RolloutFacts.of({**rollout, "spec": spec, "status": status}))
    assert "  PingPong:     b (pong) is stable, a (ping) takes the canary\n" in header, header
    assert "PingPong" not in render_header(RolloutFacts.of(rollout))


def test_color_only_when_asked() -> None:
    plain = render_rollout(objects("canary-paused"), now=NOW)
    colored = render_rollout(objects("canary-paused"), now=NOW, style=Style(color=True))
    assert "\033[" not in plain
    assert "\033[" in colored
    assert "॥ Paused" in plain


def test_list_table_matches_golden() -> None:
    rollout = objects("canary-paused").rollout
    other = {
        "metadata": {"name": "checkout", "namespace": "pay"},
        "spec": {"replicas": 3, "strategy": {"blueGreen": {"activeService": "a"}}},
        "status": {
            "phase": "Healthy",
            "replicas": 3,
            "updatedReplicas": 3,
            "readyReplicas": 3,
            "availableReplicas": 3,
        },
    }
    rows = [RolloutFacts.of(rollout), RolloutFacts.of(other)]
    assert_golden("list-rollouts.txt", render_table(rows))
    assert_golden("list-rollouts-all-namespaces.txt", render_table(rows, all_namespaces=True))


def test_status_line_and_exit_codes() -> None:
    rollout = objects("canary-paused").rollout
    assert render_status(rollout) == "॥ Paused - CanaryPauseStep\n"
    phases = ("Healthy", "Degraded", "Progressing", "Paused", "SomethingNew")
    assert [exit_code_for(p) for p in phases] == [0, 3, 4, 5, 4]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (59, "59s"),
        (119, "119s"),
        (150, "2m30s"),
        (600, "10m"),
        (7200, "120m"),
        (4 * 3600 + 60, "4h1m"),
        (30 * 3600, "30h"),
        (3 * 86400 + 3600, "3d1h"),
        (10 * 86400, "10d"),
    ],
)
def test_ages_read_like_kubectl(seconds: int, text: str) -> None:
    assert age(datetime.fromtimestamp(NOW.timestamp() - seconds, UTC), NOW) == text


def test_unknown_age() -> None:
    assert age(None, NOW) == "<unknown>"


def test_golden_directory_is_documented() -> None:
    assert (Path(GOLDEN) / "README.md").exists()


def test_a_canary_with_managed_routes_shows_the_routes_its_steps_have_set() -> None:
    rollout = objects("canary-paused").rollout
    canary = rollout["spec"]["strategy"]["canary"]
    routing = {**canary["trafficRouting"], "managedRoutes": [{"name": "beta"}, {"name": "copy"}]}
    header = {"name": "beta", "match": [{"headerName": "x-beta", "headerValue": {"exact": "1"}}]}
    mirror = {"name": "copy", "match": [{"method": {"exact": "GET"}}]}
    steps = [{"setHeaderRoute": header}, {"setMirrorRoute": mirror}, {"setHeaderRoute": {"name": "beta"}}]

    def facts_at(index: int, **status: Any) -> RolloutFacts:
        spec = {
            **rollout["spec"],
            "strategy": {"canary": {**canary, "trafficRouting": routing, "steps": steps}},
        }
        return RolloutFacts.of(
            {**rollout, "spec": spec, "status": {**rollout["status"], "currentStepIndex": index, **status}}
        )

    assert [facts_at(i).routes for i in range(4)] == [
        "beta (header)",
        "beta (header), copy (mirror)",
        "copy (mirror)",
        "none",
    ]
    assert facts_at(1, abort=True).routes == "none"
    assert "  Routes:       beta (header)\n" in render_header(facts_at(0)), render_header(facts_at(0))
    assert RolloutFacts.of(rollout).routes == "" and "Routes:" not in render_header(RolloutFacts.of(rollout))
