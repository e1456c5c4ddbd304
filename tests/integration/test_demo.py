"""`make demo` works: `python -m e2e.demo` in its own namespace promotes the good version, rolls the bad
one back, exits 0 and leaves no process of its own running.

The demo is run as a user runs it (a separate process), in a namespace of its own so it does not
disturb a `make demo` someone runs on the same cluster. It takes one to two minutes on a warm machine.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

from e2e.cluster import Cluster

REPO = Path(__file__).resolve().parents[2]
# Generous for a shared 2-core machine; the demo itself bounds each of its waits.
DEMO_TIMEOUT = 420.0
HASH = "rollouts-pod-template-hash"


def _running(marker: str) -> list[int]:
    """Pids of live (non-zombie) processes whose command line contains `marker`."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            zombie = (proc / "stat").read_text().split(") ", 1)[-1].startswith("Z")
        except OSError:
            continue
        if marker in cmdline and not zombie:
            found.append(int(proc.name))
    return found


def _kubectl_json(cluster: Cluster, namespace: str, *args: str) -> Any:
    argv = [str(Path(cluster.bin_dir) / "kubectl"), f"--kubeconfig={cluster.kubeconfig}", f"-n={namespace}"]
    res = subprocess.run([*argv, *args, "-o", "json"], capture_output=True, text=True, timeout=60, check=True)
    return json.loads(res.stdout)


def test_make_demo_promotes_the_good_version_and_rolls_the_bad_one_back(cluster: Cluster) -> None:
    namespace = f"demo-{uuid.uuid4().hex[:8]}"
    argv = [sys.executable, "-m", "e2e.demo", "--namespace", namespace]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    demo = subprocess.Popen(
        argv, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    try:
        try:
            output, _ = demo.communicate(timeout=DEMO_TIMEOUT)
        except subprocess.TimeoutExpired:
            demo.send_signal(signal.SIGTERM)  # the demo stops its controller and simulator on SIGTERM
            output, _ = demo.communicate(timeout=60)
            raise AssertionError(
                f"the demo did not finish in {DEMO_TIMEOUT:.0f}s:\n{output[-6000:]}"
            ) from None
        assert demo.returncode == 0, f"the demo failed (exit {demo.returncode}):\n{output[-6000:]}"
        story = output.split("What happened:", 1)[-1]
        assert "good nginx:1.28: promoted" in story, output[-4000:]
        assert "bad nginx:1.29-bad: AnalysisRun" in story, output[-4000:]

        # What the demo claimed, checked against the cluster it leaves behind.
        rollout = _kubectl_json(cluster, namespace, "get", "rollout.rollouts.dev", "web")
        status = rollout["status"]
        assert rollout["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.29-bad"
        assert (status["phase"], status.get("abort")) == ("Degraded", True), status
        good = status["stableRS"]
        assert good != status["currentPodHash"]
        stable = _kubectl_json(cluster, namespace, "get", "service", "web-stable")
        assert stable["spec"]["selector"][HASH] == good
        canary = _kubectl_json(cluster, namespace, "get", "ingress", "web-web-canary")
        assert canary["metadata"]["annotations"]["nginx.ingress.kubernetes.io/canary-weight"] == "0"
        runs = _kubectl_json(cluster, namespace, "get", "analysisruns.rollouts.dev")["items"]
        phases = {run["metadata"]["labels"][HASH]: run["status"]["phase"] for run in runs}
        assert phases == {good: "Successful", status["currentPodHash"]: "Failed"}, phases

        # Nothing it started is left running.
        simulator = re.search(r"simulator=(traffic-simulator-\w+)", output)
        assert simulator, output[:3000]
        assert _running(simulator.group(1)) == [], "the demo left its traffic simulator running"
        assert _running(f"run --namespace {namespace}") == [], "the demo left its controller running"
    finally:
        kubectl = [str(Path(cluster.bin_dir) / "kubectl"), f"--kubeconfig={cluster.kubeconfig}"]
        subprocess.run(
            [*kubectl, "delete", "namespace", namespace, "--wait=false"], capture_output=True, timeout=60
        )
    shutil.rmtree(REPO / ".local" / "demo" / namespace, ignore_errors=True)
