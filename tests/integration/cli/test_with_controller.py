"""The plugin steering a real delivery: the controller (`kube-rollouts run`) reacts to each command."""

from __future__ import annotations

from typing import Any

from tests.integration.cli.conftest import Plugin, apply, get, rollout
from tests.support import Kubectl, eventually

STEPS = [{"setWeight": 34}, {"pause": {}}, {"setWeight": 67}, {"pause": {"duration": "1s"}}]


def _status(kubectl: Kubectl) -> dict[str, Any]:
    return get(kubectl, "rollout.rollouts.dev", "web").get("status") or {}


def _paused_canary(plugin: Plugin, kubectl: Kubectl) -> dict[str, Any]:
    """Deploy v1 (Healthy), then `set image` to v2 and wait until the canary pauses at step 1."""
    apply(kubectl, rollout("web", steps=STEPS))
    healthy = plugin("status", "web", "-w", "--timeout", "60s", timeout=90)
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    assert healthy.stdout.endswith("✔ Healthy\n")
    assert plugin("status", "web", "--no-watch").returncode == 0
    assert plugin("set", "image", "web", "*=example.com/web:v2").returncode == 0
    paused = eventually(
        lambda: (st := _status(kubectl)).get("phase") == "Paused" and st.get("currentStepIndex") == 1 and st,
        timeout=60,
        what="the canary to pause at step 1",
    )
    once = plugin("status", "web", "--no-watch")
    assert (once.returncode, once.stdout) == (5, "॥ Paused - CanaryPauseStep\n"), once.stderr
    return paused


def test_promote_advances_a_paused_canary_to_healthy(
    controller: Any, plugin: Plugin, kubectl: Kubectl
) -> None:
    paused = _paused_canary(plugin, kubectl)
    tree = plugin("get", "rollout", "web", "--no-color").stdout
    assert "Status:         ॥ Paused" in tree
    assert "  Step:         1/4" in tree
    assert "(canary)" in tree and "(stable)" in tree
    assert "# revision:2" in tree and "# revision:1" in tree
    assert tree.count("Pod ") >= 3  # 34% of 3 pods without a router: 2 stable and 1 canary pod (KWOK)
    waiting = plugin("status", "web", "-w", "--timeout", "3s")
    assert waiting.returncode == 2, waiting.stdout + waiting.stderr
    assert waiting.stderr == (
        "error: timed out after 3s waiting for rollout web to be Healthy or Degraded "
        "(it is Paused: CanaryPauseStep)\n"
    )

    assert plugin("promote", "web").returncode == 0
    done = plugin("status", "web", "--timeout", "90s", timeout=120)  # watches by default
    assert done.returncode == 0, done.stdout + done.stderr
    final = _status(kubectl)
    assert final["stableRS"] == paused["currentPodHash"] and final["currentStepIndex"] == 4


def test_abort_moves_the_canary_to_degraded_and_retry_resumes(
    controller: Any, plugin: Plugin, kubectl: Kubectl
) -> None:
    _paused_canary(plugin, kubectl)
    assert plugin("abort", "web").returncode == 0
    degraded = plugin("status", "web", "-w", "--timeout", "60s", timeout=90)
    assert degraded.returncode == 3, degraded.stdout + degraded.stderr
    assert "✖ Degraded - RolloutAborted" in degraded.stdout
    assert plugin("status", "web", "--no-watch").returncode == 3
    listed = plugin("list", "rollouts").stdout
    assert "✖ Degraded" in listed

    assert plugin("retry", "web").returncode == 0
    eventually(
        lambda: (st := _status(kubectl)).get("phase") == "Paused" and st.get("currentStepIndex") == 1,
        timeout=60,
        what="the retried canary to pause at step 1 again",
    )


def test_undo_after_abort_goes_back_to_the_stable_revision(
    controller: Any, plugin: Plugin, kubectl: Kubectl
) -> None:
    paused = _paused_canary(plugin, kubectl)
    stable = paused["stableRS"]
    assert plugin("abort", "web").returncode == 0
    undone = plugin("undo", "web")
    assert undone.stdout == "rollout 'web' rolled back to revision 1\n", undone.stderr
    healthy = plugin("status", "web", "-w", "--timeout", "60s", timeout=90)
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    final = _status(kubectl)
    # the same pod-template hash as before: the old ReplicaSet is reused, not a new revision
    assert final["currentPodHash"] == final["stableRS"] == stable
