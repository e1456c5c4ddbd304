"""The Argo CD health check, run by a real Lua interpreter on recorded Rollout objects.

Fixtures in ``fixtures/`` are Rollouts with the status the engine computes (see record_fixtures.py);
each test asks the script for its verdict the way Argo CD does: ``obj`` in, ``hs`` out.
"""

from __future__ import annotations

import copy
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.unit.argocd.lua_table import lua_string, to_lua

REPO = Path(__file__).resolve().parents[3]
SCRIPT = REPO / "charts" / "kube-rollouts" / "health" / "rollouts.dev_Rollout.lua"
FIXTURES = Path(__file__).parent / "fixtures"

RUNNER = """obj = {obj}
local check = assert(loadfile({script}))
local hs = check()
assert(type(hs) == "table", "the script must return hs")
io.write(tostring(hs.status), "\\n", tostring(hs.message))
"""


@pytest.fixture(scope="module")
def lua() -> str:
    found = shutil.which("lua5.4") or shutil.which("lua")
    if found is None:
        pytest.fail(
            "no Lua interpreter: install it with `apt-get install -y lua5.4` (the Makefile should do this; "
            "the Argo CD health check cannot be tested without it)"
        )
    return found


def health(lua: str, obj: dict[str, Any]) -> tuple[str, str]:
    program = RUNNER.format(obj=to_lua(obj), script=lua_string(str(SCRIPT)))
    res = subprocess.run([lua, "-"], input=program, capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, f"the health script failed: {res.stderr}"
    status, _, message = res.stdout.partition("\n")
    return status, message


def fixture(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((FIXTURES / f"{name}.yaml").read_text())
    return loaded


CASES = [
    ("healthy", "Healthy", "Rollout is healthy"),
    ("progressing", "Progressing", "at step 1 of 2 (setWeight: 20)"),
    ("paused-step", "Suspended", "Rollout is paused (CanaryPauseStep)"),
    ("paused-by-user", "Suspended", "Rollout is paused by the user (spec.paused)"),
    ("bluegreen-awaiting-promotion", "Suspended", "Rollout is paused (BlueGreenPause)"),
    ("aborted", "Degraded", "RolloutAborted: Rollout aborted"),
    ("progress-deadline-exceeded", "Degraded", "ProgressDeadlineExceeded: at step 1 of 2 (setWeight: 20)"),
    (
        "invalid-spec",
        "Degraded",
        "InvalidSpec: Rollout default/web: `spec.strategy.canary.steps[0].setWeight` must be at most 100 "
        "(got 120)",
    ),
    (
        "spec-changed-not-yet-observed",
        "Progressing",
        "Waiting for the controller to observe the latest spec (generation 3, observed 2)",
    ),
    (
        "just-created",
        "Progressing",
        "Waiting for the kube-rollouts controller to report the Rollout's status",
    ),
]


@pytest.mark.parametrize(("name", "status", "message"), CASES, ids=[c[0] for c in CASES])
def test_verdicts_on_recorded_rollouts(lua: str, name: str, status: str, message: str) -> None:
    assert health(lua, fixture(name)) == (status, message)


def test_every_fixture_has_a_verdict_test() -> None:
    assert {p.stem for p in FIXTURES.glob("*.yaml")} == {c[0] for c in CASES}


def test_invalid_spec_wins_even_when_the_generation_was_not_recorded(lua: str) -> None:
    obj = fixture("invalid-spec")
    obj["metadata"]["generation"] = obj["status"]["observedGeneration"] + 1
    assert health(lua, obj)[0] == "Degraded"


def test_a_stale_status_is_not_trusted_whatever_it_says(lua: str) -> None:
    for name in ("aborted", "paused-step", "progress-deadline-exceeded"):
        obj = fixture(name)
        obj["metadata"]["generation"] = obj["status"]["observedGeneration"] + 1
        assert health(lua, obj)[0] == "Progressing", name


def test_abort_is_degraded_even_before_the_phase_says_so(lua: str) -> None:
    obj = fixture("progressing")
    obj["status"]["abort"] = True
    assert health(lua, obj)[0] == "Degraded"


def test_pause_conditions_without_a_phase_are_suspended(lua: str) -> None:
    obj = copy.deepcopy(fixture("paused-step"))
    del obj["status"]["phase"]
    assert health(lua, obj) == ("Suspended", "Rollout is paused (CanaryPauseStep)")


def test_an_unknown_phase_is_reported_not_guessed(lua: str) -> None:
    obj = fixture("healthy")
    obj["status"]["phase"] = "Hibernating"
    status, message = health(lua, obj)
    assert status == "Unknown"
    assert "Hibernating" in message


def test_messages_with_quotes_and_non_ascii_survive(lua: str) -> None:
    obj = fixture("progressing")
    obj["status"]["message"] = 'waiting for "web" — 2/5 pods'
    assert health(lua, obj) == ("Progressing", 'waiting for "web" — 2/5 pods')


def test_the_encoder_writes_what_lua_reads_back(lua: str) -> None:
    value: dict[str, Any] = {"a": [1, 2.5, True, "x\\y"], "b": {"c": {}}, "n": None}
    program = (
        f"local v = {to_lua(value)}\n"
        'io.write(#v.a, " ", v.a[2], " ", tostring(v.a[3]), " ", v.a[4], " ", '
        'tostring(v.n), " ", type(v.b.c))'
    )
    res = subprocess.run([lua, "-"], input=program, capture_output=True, text=True, timeout=30)
    assert res.stdout == "4 2.5 true x\\y nil table", res.stderr
