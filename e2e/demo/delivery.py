"""The demo's delivery part: the controller carries a good version through, then rolls a bad one back.

Runs only when the controller exists (see `controller_available` in `__main__`). Every line it prints
is state read back from the cluster: the Rollout's status and the canary weight in the NGINX canary
Ingress the controller manages. It waits with bounds and says what it last saw when a bound passes;
it never declares an outcome it did not observe.

Left for the lead to finish once the controller, the analysis runs and the CLI land (issue 5):
- the example's last step is `pause: {}` (wait for `kubectl rollouts promote`), so the good version
  waits there: promote it here with the CLI once `kubectl-rollouts promote` exists;
- the example's pauses (1m, 5m) and analysis (5 x 1m) make a good delivery take ~12 minutes; a demo
  variant with shorter steps keeps `make demo` to a few minutes;
- the example AnalysisTemplate selects `service="web-canary"`, but ingress-nginx (and the simulator)
  label canary traffic with the stable Ingress's Service and `canary="<ns>-web-canary-80"`; the query
  needs `canary!=""` (see e2e/simulator/nginx.py) or every measurement is an empty-result Error.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

from e2e.demo.context import REPO, Demo, DemoError

ROLLOUT = "web"
GOOD_IMAGE = "nginx:1.28"
BAD_IMAGE = "nginx:1.29-bad"
LOGS = REPO / ".local" / "demo"


@dataclass(frozen=True)
class Seen:
    """One observation of the Rollout, as the demo prints it."""

    phase: str
    step: str
    weight: str
    analysis: str
    message: str
    stable: str
    current: str
    aborted: bool

    def line(self) -> str:
        parts = [f"phase={self.phase}", f"step={self.step}", f"canary weight={self.weight}"]
        if self.analysis:
            parts.append(f"analysis={self.analysis}")
        if self.message:
            parts.append(f"({self.message})")
        return " ".join(parts)


def observe(demo: Demo) -> Seen:
    rollout = demo.kubectl_json("get", "rollout", ROLLOUT)
    status: dict[str, Any] = rollout.get("status") or {}
    steps = (rollout["spec"].get("strategy", {}).get("canary") or {}).get("steps") or []
    index = status.get("currentStepIndex")
    run = (status.get("canary") or {}).get("currentStepAnalysisRunStatus") or {}
    return Seen(
        phase=str(status.get("phase", "-")),
        step=f"{index}/{len(steps)}" if index is not None else "-",
        weight=_canary_weight(demo),
        analysis=f"{run['name']}: {run['status']}" if run else "",
        message=str(status.get("message") or ""),
        stable=str(status.get("stableRS") or ""),
        current=str(status.get("currentPodHash") or ""),
        aborted=bool(status.get("abort")),
    )


def _canary_weight(demo: Demo) -> str:
    """The weight in the canary Ingress itself (what NGINX would route), not what the status claims."""
    for ingress in demo.kubectl_json("get", "ingress")["items"]:
        notes = ingress["metadata"].get("annotations") or {}
        if notes.get("nginx.ingress.kubernetes.io/canary") == "true":
            return str(notes.get("nginx.ingress.kubernetes.io/canary-weight", "0"))
    return "-"


def watch(demo: Demo, *, until: Callable[[Seen], bool], fails: Callable[[Seen], str], timeout: float) -> Seen:
    """Print each change of the Rollout until `until` holds; `fails` names an outcome that ends it early."""
    started = time.monotonic()
    last: Seen | None = None
    while True:
        seen = observe(demo)
        if seen != last:
            print(f"    {time.monotonic() - started:6.1f}s  {seen.line()}", flush=True)
            last = seen
        if until(seen):
            return seen
        if problem := fails(seen):
            raise DemoError(problem)
        if time.monotonic() - started > timeout:
            raise DemoError(f"not there after {timeout:.0f}s; last seen: {seen.line()}")
        time.sleep(1)


def start_controller(demo: Demo, running: ExitStack) -> None:
    LOGS.mkdir(parents=True, exist_ok=True)
    log_path = LOGS / "controller.log"
    log = running.enter_context(log_path.open("w"))
    env = {**os.environ, "KUBECONFIG": demo.cluster.kubeconfig}
    env["PROMETHEUS_ADDRESS"] = demo.cluster.prometheus_url
    argv = [sys.executable, "-m", "rollouts.controller", "run", "--namespace", demo.namespace]
    argv += ["--kubeconfig", demo.cluster.kubeconfig, "--metrics-port", "0", "--health-port", "-1"]
    process = subprocess.Popen(argv, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env=env)
    running.callback(_stop, process)
    time.sleep(2)
    if process.poll() is not None:
        raise DemoError(f"the controller exited at once ({process.returncode}); see {log_path}")
    print(f"    kube-rollouts run (pid {process.pid}), log in {log_path}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def point_analysis_at_local_prometheus(demo: Demo) -> None:
    """The example's default address is an in-cluster Service; here Prometheus runs on the host."""
    template = demo.kubectl_json("get", "analysistemplate", "success-rate")
    names = [a["name"] for a in template["spec"].get("args") or []]
    if "prometheus-address" in names:
        index = names.index("prometheus-address")
        url = demo.cluster.prometheus_url
        patch = f'[{{"op":"replace","path":"/spec/args/{index}/value","value":"{url}"}}]'
        demo.kubectl("patch", "analysistemplate", "success-rate", "--type=json", "-p", patch)
        print(f"    success-rate analysis queries {demo.cluster.prometheus_url}")


def set_image(demo: Demo, image: str) -> None:
    patch = f'[{{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"{image}"}}]'
    demo.kubectl("patch", "rollout", ROLLOUT, "--type=json", "-p", patch)
    print(f"    spec.template image -> {image}")


def deliver(demo: Demo, running: ExitStack) -> None:
    """Start the controller; let the first revision settle; roll out a good image, then a bad one."""
    timeline = demo.timeline
    with timeline.part("start the controller"):
        start_controller(demo, running)
        point_analysis_at_local_prometheus(demo)
    with timeline.part("first revision becomes stable"):
        watch(
            demo,
            until=lambda s: s.phase == "Healthy" and bool(s.stable) and s.stable == s.current,
            fails=lambda s: "the first revision went Degraded" if s.phase == "Degraded" else "",
            timeout=180,
        )
    with timeline.part(f"good version {GOOD_IMAGE}: steps advance on passing analysis, promoted"):
        before = observe(demo).stable
        set_image(demo, GOOD_IMAGE)
        watch(
            demo,
            until=lambda s: s.phase == "Healthy" and s.stable == s.current and s.stable != before,
            fails=lambda s: "the good version was aborted" if s.aborted else "",
            timeout=15 * 60,
        )
    with timeline.part(f"bad version {BAD_IMAGE}: analysis fails, automatic rollback"):
        good = observe(demo).stable
        set_image(demo, BAD_IMAGE)
        seen = watch(
            demo,
            until=lambda s: s.aborted and s.weight in ("0", "-"),
            fails=lambda s: "the bad version was promoted" if s.stable != good else "",
            timeout=10 * 60,
        )
        print(f"    rolled back: traffic on stable {seen.stable}, canary weight {seen.weight}")
