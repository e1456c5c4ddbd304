"""The processes the demo starts and must always stop: the controller, and where their logs go.

The controller runs as `kube-rollouts run` (the console script a user runs) in its own session, so a
Ctrl-C in the terminal reaches only the demo, which then stops it in order (SIGTERM, then SIGKILL after
a bound). Its log stays in `.local/demo/<namespace>/controller.log` after the demo exits, so a failed
demo can point at it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

from e2e.demo.context import REPO, Demo, DemoError
from e2e.simulator import RunningSimulator

KUBE_ROLLOUTS = Path(sys.executable).parent / "kube-rollouts"
SYNC_TIMEOUT = 60.0


def log_dir(namespace: str) -> Path:
    path = REPO / ".local" / "demo" / namespace
    path.mkdir(parents=True, exist_ok=True)
    return path


def controller_missing() -> str | None:
    """Why the delivery cannot run (the controller or its --prometheus-address is missing), or None."""
    if not KUBE_ROLLOUTS.exists():
        return f"{KUBE_ROLLOUTS} does not exist; run `make install`"
    res = subprocess.run([str(KUBE_ROLLOUTS), "run", "--help"], capture_output=True, text=True, timeout=60)
    if res.returncode != 0:
        return f"`kube-rollouts run --help` fails: {(res.stderr or res.stdout).strip()[-300:]}"
    if "--prometheus-address" not in res.stdout:
        return "`kube-rollouts run` has no --prometheus-address option yet, so it cannot run analyses"
    return None


def start_controller(demo: Demo, running: ExitStack) -> None:
    """`kube-rollouts run` for the demo namespace, stopped when `running` closes; waits until synced."""
    demo.controller_log = log_dir(demo.namespace) / "controller.log"
    argv = [str(KUBE_ROLLOUTS), "run", "--namespace", demo.namespace]
    argv += ["--prometheus-address", demo.cluster.prometheus_url]
    argv += ["--kubeconfig", demo.cluster.kubeconfig, "--metrics-port", "-1", "--health-port", "-1"]
    env = {**os.environ, "KUBECONFIG": demo.cluster.kubeconfig, "PYTHONUNBUFFERED": "1"}
    env.pop("PROMETHEUS_ADDRESS", None)  # the flag alone says where Prometheus is
    with demo.controller_log.open("w") as log:
        process = subprocess.Popen(
            argv, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    running.callback(stop, process, what="controller")
    print(f"    {' '.join(['kube-rollouts', *argv[1:]])}")
    print(f"    pid {process.pid}, log in {demo.controller_log}")
    deadline = time.monotonic() + SYNC_TIMEOUT
    while "watch caches synced" not in demo.controller_log.read_text():
        if process.poll() is not None:
            tail = demo.controller_log.read_text().strip()[-1500:]
            raise DemoError(f"the controller exited at once ({process.returncode}):\n{tail}")
        if time.monotonic() > deadline:
            raise DemoError(f"the controller did not sync its watches in {SYNC_TIMEOUT:.0f}s")
        time.sleep(0.2)
    synced = re.search(r"watch caches synced.*", demo.controller_log.read_text())
    print(f"    controller: {synced.group(0) if synced else 'synced'}")


def keep_simulator_log(demo: Demo, sim: RunningSimulator, running: ExitStack) -> None:
    """The simulator's log is a temporary file; copy it next to the controller's before it goes."""
    target = log_dir(demo.namespace) / "simulator.log"
    running.callback(shutil.copyfile, sim.log_path, target)


def stop(process: subprocess.Popen[bytes], *, what: str) -> None:
    """SIGTERM, then SIGKILL if it has not exited within 20 s: never left running."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            print(f"    {what} (pid {process.pid}) ignored SIGTERM for 20s; killed", file=sys.stderr)
            process.kill()
            process.wait(timeout=10)
