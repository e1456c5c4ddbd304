"""Benchmark: time from the first failing measurement to canary weight 0 in the router object.

What a user cares about when a bad version ships: how long the canary keeps serving after the
analysis has seen it fail. The clock starts at the ``finishedAt`` of the run's first Failed
measurement (written by the AnalysisRun controller) and stops when a watch on the canary Ingress
sees its ``canary-weight`` annotation at 0 (written by the Rollout controller). In between: the
run's verdict and status write, the Rollout being woken through the shared AnalysisRun cache, its
pass (observe, decide, act) and the Ingress PATCH. Both clocks are this machine's.

Setup: the shared local cluster (``ensure_up``: reused when healthy), ``RUNS`` fresh namespaces
(``BENCH_DELIVERY_RUNS``, default 5), each with an NGINX canary (2 replicas, ``setWeight: 50``
then an analysis step; the success-rate template of examples/ with a 10 s window, every second,
``failureLimit: 0``), one real ``kube-rollouts run`` process watching all of them with
``--prometheus-address`` the cluster's Prometheus, and the traffic simulator. Each namespace in
turn gets a ``bad`` image (30 % errors): the first Failed measurement aborts it.

Run: ``.venv/bin/python -m bench delivery`` (the namespaces are deleted after).
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes import watch as k8s_watch

from e2e.cluster import Cluster, ensure_up
from e2e.simulator.launcher import simulator

REPO = Path(__file__).resolve().parents[1]
RUNS = int(os.environ.get("BENCH_DELIVERY_RUNS", "5"))
WEIGHT = "nginx.ingress.kubernetes.io/canary-weight"
CANARY_INGRESS = "web-web-canary"
QUERY = (
    'sum(rate(nginx_ingress_controller_requests{{namespace="{{{{args.namespace}}}}", ingress="web", '
    'canary!=""{status}}}[10s]))'
)


def _kubectl(cluster: Cluster, *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [str(Path(cluster.bin_dir) / "kubectl"), f"--kubeconfig={cluster.kubeconfig}", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if done.returncode != 0:
        raise RuntimeError(f"kubectl {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def _manifests(image: str) -> list[dict[str, Any]]:
    def service(name: str) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]},
        }

    backend = {"service": {"name": "web-stable", "port": {"number": 80}}}
    ingress = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "web"},
        "spec": {
            "ingressClassName": "nginx",
            "rules": [
                {
                    "host": "web.example.com",
                    "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": backend}]},
                }
            ],
        },
    }
    metric = {
        "name": "success-rate",
        "interval": "1s",
        "count": 5,
        "consecutiveErrorLimit": 10,  # no data until Prometheus has scraped canary traffic
        "successCondition": "result[0] >= 0.95",
        "failureCondition": "result[0] < 0.95",
        "provider": {
            "prometheus": {
                "query": QUERY.format(status=', status!~"5.."') + "\n/\n" + QUERY.format(status=""),
                "timeout": 5,
            }
        },
    }
    template = {
        "apiVersion": "rollouts.dev/v1alpha1",
        "kind": "AnalysisTemplate",
        "metadata": {"name": "success-rate"},
        "spec": {"args": [{"name": "namespace"}], "metrics": [metric]},
    }
    namespace_arg = {"name": "namespace", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}}
    steps = [
        {"setWeight": 50},
        {"analysis": {"templates": [{"templateName": "success-rate"}], "args": [namespace_arg]}},
    ]
    rollout = {
        "apiVersion": "rollouts.dev/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "app", "image": f"example.com/web:{image}"}]},
            },
            "strategy": {
                "canary": {
                    "canaryService": "web-canary",
                    "stableService": "web-stable",
                    "trafficRouting": {"nginx": {"stableIngress": "web"}},
                    "steps": steps,
                }
            },
        },
    }
    return [service("web-stable"), service("web-canary"), ingress, template, rollout]


def _apply(cluster: Cluster, namespace: str, objects: list[dict[str, Any]]) -> None:
    body = json.dumps({"apiVersion": "v1", "kind": "List", "items": objects})
    _kubectl(cluster, "-n", namespace, "apply", "-f", "-", stdin=body)


def _rollout_status(cluster: Cluster, namespace: str) -> dict[str, Any]:
    found = json.loads(_kubectl(cluster, "-n", namespace, "get", "rollout.rollouts.dev", "web", "-o", "json"))
    status: dict[str, Any] = found.get("status") or {}
    return status


def _wait(what: str, probe: Any, timeout: float = 120) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.2)
    raise RuntimeError(f"timed out after {timeout:.0f}s waiting for {what}")


@contextmanager
def _controller(cluster: Cluster, namespaces: list[str], log: Path) -> Iterator[None]:
    argv = [str(Path(sys.executable).parent / "kube-rollouts"), "run", "--metrics-port", "-1"]
    argv += ["--health-port", "-1", "--prometheus-address", cluster.prometheus_url]
    for ns in namespaces:
        argv += ["--namespace", ns]
    env = {**os.environ, "KUBECONFIG": str(cluster.kubeconfig)}
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        _wait("the controller's caches to sync", lambda: "watch caches synced" in log.read_text(), 60)
        yield
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


class _WeightWatch:
    """Watches the canary Ingress of one namespace; notes when its weight first reads 0 after > 0."""

    def __init__(self, api: k8s.NetworkingV1Api, namespace: str) -> None:
        self._api = api
        self._namespace = namespace
        self._watch = k8s_watch.Watch()
        self.had_traffic = False
        self.zero_at: float | None = None
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _loop(self) -> None:
        for event in self._watch.stream(
            self._api.list_namespaced_ingress,
            self._namespace,
            field_selector=f"metadata.name={CANARY_INGRESS}",
            timeout_seconds=300,
        ):
            seen = time.time()
            weight = int((event["object"].metadata.annotations or {}).get(WEIGHT, "0"))
            if weight > 0:
                self.had_traffic = True
            elif self.had_traffic and self.zero_at is None:
                self.zero_at = seen
                self._watch.stop()

    def stop(self) -> None:
        self._watch.stop()


def _first_failed_measurement(cluster: Cluster, namespace: str) -> datetime:
    runs = json.loads(_kubectl(cluster, "-n", namespace, "get", "analysisruns.rollouts.dev", "-o", "json"))[
        "items"
    ]
    measurements = [
        m
        for run in runs
        for result in (run.get("status") or {}).get("metricResults") or []
        for m in result.get("measurements") or []
        if m.get("phase") == "Failed"
    ]
    if not measurements:
        raise RuntimeError(f"{namespace}: the rollout was aborted without a Failed measurement: {runs}")
    first = min(measurements, key=lambda m: m["finishedAt"])
    return datetime.fromisoformat(first["finishedAt"].replace("Z", "+00:00"))


def _one(cluster: Cluster, api: k8s.NetworkingV1Api, namespace: str) -> float:
    """Seconds from the first Failed measurement to canary weight 0, for one bad rollout."""
    _wait(f"{namespace}/web Healthy", lambda: _rollout_status(cluster, namespace).get("phase") == "Healthy")
    watch = _WeightWatch(api, namespace)
    watch.start()
    try:
        patch = {
            "spec": {"template": {"spec": {"containers": [{"name": "app", "image": "example.com/web:bad"}]}}}
        }
        _kubectl(
            cluster,
            "-n",
            namespace,
            "patch",
            "rollout.rollouts.dev",
            "web",
            "--type=merge",
            "-p",
            json.dumps(patch),
        )
        _wait(
            f"{namespace}/web Degraded",
            lambda: _rollout_status(cluster, namespace).get("phase") == "Degraded",
        )
        _wait(f"{namespace}: canary weight 0 seen by the watch", lambda: watch.zero_at is not None, 30)
    finally:
        watch.stop()
    assert watch.zero_at is not None
    return watch.zero_at - _first_failed_measurement(cluster, namespace).timestamp()


def run() -> dict[str, Any]:
    cluster = ensure_up(log=False)
    run_id = uuid.uuid4().hex[:6]
    namespaces = [f"bench-delivery-{run_id}-{i}" for i in range(RUNS)]
    _kubectl(cluster, "apply", "-f", str(REPO / "crds"))
    api = k8s.NetworkingV1Api(k8s_config.new_client_from_config(config_file=str(cluster.kubeconfig)))
    log = Path(f"/tmp/bench-delivery-{run_id}-controller.log")
    latencies: list[float] = []
    try:
        for ns in namespaces:
            _kubectl(cluster, "create", "namespace", ns)
        with simulator(cluster, namespaces=namespaces, rate=20), _controller(cluster, namespaces, log):
            for ns in namespaces:
                _apply(cluster, ns, _manifests("v1"))
            for ns in namespaces:
                latencies.append(_one(cluster, api, ns))
    finally:
        for ns in namespaces:
            subprocess.run(
                [
                    str(Path(cluster.bin_dir) / "kubectl"),
                    f"--kubeconfig={cluster.kubeconfig}",
                    "delete",
                    "namespace",
                    ns,
                    "--wait=false",
                ],
                capture_output=True,
                timeout=60,
            )
    ordered = sorted(latencies)
    return {
        "runs": RUNS,
        "failed_measurement_to_weight_0_seconds": {
            "p50": round(statistics.median(ordered), 3),
            "max": round(ordered[-1], 3),
            "min": round(ordered[0], 3),
            "all": [round(x, 3) for x in latencies],
        },
        "goal_seconds": 1.0,
        "controller_log": str(log),
    }
