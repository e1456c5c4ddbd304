"""Each steering command, through the real kubectl plugin discovery, changes exactly what it should.

No controller here: the commands write requests (spec or status subresource) and the test reads
the object back. Requests that steer a delivery must not touch the spec (``metadata.generation``
unchanged), so GitOps tools see no drift.
"""

from __future__ import annotations

import json

from tests.integration.cli.conftest import Plugin, apply, get, rollout
from tests.support import Kubectl

STEPS = [{"setWeight": 25}, {"pause": {}}, {"setWeight": 50}]


def _in_update(kubectl: Kubectl, **status: object) -> dict[str, object]:
    """A Rollout whose status says it is paused mid-update (as a controller would have written it)."""
    apply(kubectl, rollout("web", steps=STEPS))
    body = {"status": {"currentPodHash": "newhash", "stableRS": "oldhash", "currentStepIndex": 1, **status}}
    kubectl(
        "patch", "rollout.rollouts.dev", "web", "--subresource=status", "--type=merge", "-p", json.dumps(body)
    )
    return get(kubectl, "rollout.rollouts.dev", "web")


def test_plugin_is_found_by_kubectl(plugin: Plugin) -> None:
    result = plugin("version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("kubectl-rollouts v")


def test_promote_clears_the_pause_in_the_status_without_touching_the_spec(
    plugin: Plugin, kubectl: Kubectl
) -> None:
    before = _in_update(
        kubectl, pauseConditions=[{"reason": "CanaryPauseStep", "startTime": "2024-05-01T12:00:00Z"}]
    )
    result = plugin("promote", "web")
    assert (result.returncode, result.stdout) == (0, "rollout 'web' promoted\n"), result.stderr
    after = get(kubectl, "rollout.rollouts.dev", "web")
    assert "pauseConditions" not in after["status"]
    assert after["metadata"]["generation"] == before["metadata"]["generation"]


def test_promote_full_and_abort_and_retry_write_the_status(plugin: Plugin, kubectl: Kubectl) -> None:
    before = _in_update(kubectl)
    assert plugin("promote", "web", "--full").returncode == 0
    assert get(kubectl, "rollout.rollouts.dev", "web")["status"]["promoteFull"] is True
    assert plugin("abort", "web").stdout == "rollout 'web' aborted\n"
    aborted = get(kubectl, "rollout.rollouts.dev", "web")["status"]
    assert aborted["abort"] is True and aborted["abortedAt"]
    assert plugin("retry", "web").returncode == 0
    retried = get(kubectl, "rollout.rollouts.dev", "web")
    assert retried["status"]["abort"] is False and retried["status"]["abortedAt"] == aborted["abortedAt"]
    assert retried["metadata"]["generation"] == before["metadata"]["generation"]


def test_pause_resume_restart_change_the_spec(plugin: Plugin, kubectl: Kubectl) -> None:
    apply(kubectl, rollout("web", steps=STEPS))
    assert plugin("pause", "web").stdout == "rollout 'web' paused\n"
    assert get(kubectl, "rollout.rollouts.dev", "web")["spec"]["paused"] is True
    assert plugin("resume", "web").stdout == "rollout 'web' resumed\n"
    assert get(kubectl, "rollout.rollouts.dev", "web")["spec"]["paused"] is False
    assert plugin("restart", "web", "--in", "1h").returncode == 0
    assert get(kubectl, "rollout.rollouts.dev", "web")["spec"]["restartAt"].endswith("Z")


def test_set_image_changes_the_template(plugin: Plugin, kubectl: Kubectl) -> None:
    apply(kubectl, rollout("web", steps=STEPS))
    result = plugin("set", "image", "web", "app=example.com/web:v2")
    assert result.stdout == "rollout 'web' image updated: app=example.com/web:v2\n", result.stderr
    spec = get(kubectl, "rollout.rollouts.dev", "web")["spec"]
    assert spec["template"]["spec"]["containers"][0]["image"] == "example.com/web:v2"
    wrong = plugin("set", "image", "web", "db=pg:16")
    assert wrong.returncode == 1
    assert wrong.stderr == (
        "error: rollout web has no container named 'db' (its containers: app); "
        "use one of those names, or * for every container\n"
    )


def test_refusals_are_one_line(plugin: Plugin, kubectl: Kubectl, namespace: str) -> None:
    apply(kubectl, rollout("web", steps=STEPS))
    missing = plugin("promote", "nope")
    assert missing.returncode == 1
    assert missing.stderr.startswith(f"error: rollout nope not found in namespace {namespace};")
    retry = plugin("retry", "web")
    assert (retry.returncode, retry.stderr) == (
        1,
        "error: rollout web is not aborted; retry only restarts an aborted update\n",
    )
