"""`get`, `list` and `status` on real objects; errors for missing Rollouts and denied access."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import yaml

from e2e.cluster import Cluster
from tests.integration.cli.conftest import Plugin, apply, rollout, run_plugin
from tests.support import Kubectl

STEPS = [{"setWeight": 25}, {"pause": {}}]


def test_get_and_list_print_json_that_parses(plugin: Plugin, kubectl: Kubectl, namespace: str) -> None:
    apply(kubectl, rollout("web", steps=STEPS), rollout("api", steps=STEPS))
    got = plugin("get", "rollout", "web", "-o", "json")
    assert got.returncode == 0, got.stderr
    data = json.loads(got.stdout)
    assert data["rollout"]["metadata"]["name"] == "web"
    listed = json.loads(plugin("list", "rollouts", "-o", "json").stdout)
    assert sorted(item["metadata"]["name"] for item in listed["items"]) == ["api", "web"]
    once = plugin("status", "web", "--no-watch", "-o", "yaml")  # no controller here: never Healthy
    assert once.returncode == 4, once.stderr  # Progressing
    assert yaml.safe_load(once.stdout) == {
        "name": "web",
        "namespace": namespace,
        "phase": "Progressing",
        "message": "",
    }


def test_get_and_list_text(plugin: Plugin, kubectl: Kubectl, namespace: str) -> None:
    apply(kubectl, rollout("web", steps=STEPS))
    text = plugin("get", "rollout", "web", "--no-color").stdout
    assert f"Namespace:      {namespace}\n" in text
    assert "Strategy:       Canary" in text
    assert "⟳ web" in text and "Rollout" in text
    assert "\033[" not in text  # not a terminal: no color
    table = plugin("list", "rollouts").stdout.splitlines()
    assert table[0].split() == [
        "NAME", "STRATEGY", "STATUS", "STEP", "SET-WEIGHT", "READY", "DESIRED", "UP-TO-DATE", "AVAILABLE"
    ]  # fmt: skip
    assert table[1].startswith("web ")
    everywhere = plugin("list", "rollouts", "-A").stdout
    assert f"\n{namespace}  " in everywhere or everywhere.startswith("NAMESPACE")


def test_missing_rollout(plugin: Plugin, namespace: str) -> None:
    for argv in (["get", "rollout", "nope"], ["status", "nope"], ["abort", "nope"]):
        result = plugin(*argv)
        assert result.returncode == 1
        assert result.stderr.startswith(f"error: rollout nope not found in namespace {namespace}"), (
            result.stderr
        )
        assert len(result.stderr.splitlines()) == 1


def test_denied_access_names_the_verb_and_resource(
    plugin: Plugin, kubectl: Kubectl, cluster: Cluster, namespace: str, tmp_path: Path
) -> None:
    apply(kubectl, rollout("web", steps=STEPS))
    kubectl("create", "serviceaccount", "viewer")
    token = kubectl("create", "token", "viewer").stdout.strip()
    config = yaml.safe_load(Path(cluster.kubeconfig).read_text())
    context = next(c for c in config["contexts"] if c["name"] == config["current-context"])
    context["context"]["user"] = "viewer"
    config["users"] = [{"name": "viewer", "user": {"token": token}}]
    kubeconfig = tmp_path / "viewer.kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(config))
    result = run_plugin(cluster, "get", "rollout", "web", "-n", namespace, kubeconfig=str(kubeconfig))
    assert result.returncode == 1
    assert result.stderr.startswith("error: access denied: "), result.stderr
    assert 'cannot get resource "rollouts"' in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_unreachable_cluster(cluster: Cluster, tmp_path: Path) -> None:
    config = yaml.safe_load(Path(cluster.kubeconfig).read_text())
    for entry in config["clusters"]:
        entry["cluster"]["server"] = "https://127.0.0.1:1"
    kubeconfig = tmp_path / "dead.kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(config))
    result = run_plugin(cluster, "list", "rollouts", kubeconfig=str(kubeconfig))
    assert result.returncode == 1
    assert result.stderr.startswith("error: cannot reach the Kubernetes API at https://127.0.0.1:1"), (
        result.stderr
    )
    assert "Traceback" not in result.stderr


def test_bad_flag_through_kubectl(plugin: Plugin) -> None:
    result = plugin("status", "web", "--timeout")
    assert result.returncode == 2
    assert result.stderr.startswith(
        "error: kubectl rollouts status: argument --timeout: expected one argument"
    )
    assert isinstance(result, subprocess.CompletedProcess)


def test_get_watch_redraws_until_interrupted(
    plugin: Plugin, kubectl: Kubectl, cluster: Cluster, namespace: str
) -> None:
    import os
    import signal
    import sys
    import threading
    import time

    apply(kubectl, rollout("web", steps=STEPS))
    venv_bin = Path(sys.executable).parent
    env = {
        **os.environ,
        "PATH": f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}",
        "KUBECONFIG": str(cluster.kubeconfig),
    }
    kubectl_bin = str(Path(cluster.bin_dir) / "kubectl")
    # Ctrl-C as in a terminal: a runner started in the background (`cmd &` in a script) passes SIGINT
    # down as ignored, and an ignored SIGINT is inherited through kubectl's exec of the plugin.
    proc = subprocess.Popen(
        [kubectl_bin, "rollouts", "get", "rollout", "web", "-w", "-n", namespace],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    watchdog = threading.Timer(90, proc.kill)  # a frame that never comes fails the test, never hangs it
    watchdog.start()

    def next_frame() -> str:
        """The lines of one frame: it ends with the tree's Rollout row."""
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if " Rollout " in line:
                break
        return "".join(lines)

    try:
        first = next_frame()  # drawn before anything changes, however slowly the plugin started
        kubectl("label", "rollout.rollouts.dev", "web", "touched=yes")  # no visible change: no new frame
        kubectl("patch", "rollout.rollouts.dev", "web", "--type=merge", "-p", '{"spec": {"replicas": 5}}')
        second = next_frame()
        time.sleep(2)  # room for a frame that should not come
        proc.send_signal(signal.SIGINT)
        rest, err = proc.communicate(timeout=30)
    finally:
        watchdog.cancel()
    out = first + second + rest
    assert proc.returncode == 0, err
    frames = out.split("\n\n")
    assert "Desired:      3" in first and "Desired:      5" in second
    assert len([f for f in frames if f.startswith("Name:")]) == 2, out
