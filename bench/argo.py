"""Argo Rollouts as a :class:`bench.fleet.Subject`, for the side-by-side in docs/benchmarks.md.

Off by default: ``BENCH_SUBJECT=argo-rollouts python -m bench scale``. Its controller is built
on demand from the Go module proxy at the version pinned in e2e/cluster/versions.env, by the
committed wrapper module e2e/cluster/tools/argo-rollouts (``build.sh argo-rollouts``, cached
outside the repository); its CRDs come from the same module zip. It runs as a process beside
the cluster, watching only the fleet's namespace (``--namespaced``), without leader election,
with its own defaults or, with ``BENCH_ARGO_QPS`` / ``BENCH_ARGO_BURST``, its client rate limits
raised (client-go's 40 requests/s default otherwise dominates its latencies).

Its counter labels Rollout writes with the Rollout's name instead of the kind (``PATCH r7``) and
some creates with no kind at all: those keys are kept as they come, and totals count them.

Writes are counted from its ``controller_clientset_k8s_request_total`` counter (verbs Create,
Update, Patch, Delete; kinds as resource names), mapped to the ``"VERB Kind"`` keys of ours.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from bench.fleet import Subject
from e2e.cluster import Cluster
from e2e.cluster.control_plane import BUILD_SH, kubectl

_VERBS = {"Create": "POST", "Update": "PUT", "Patch": "PATCH", "Delete": "DELETE"}
_KINDS = {
    "rollouts": "Rollout",
    "replicasets": "ReplicaSet",
    "events": "Event",
    "ingresses": "Ingress",
    "services": "Service",
    "analysisruns": "AnalysisRun",
    "experiments": "Experiment",
    "pods": "Pod",
    "leases": "Lease",
    "configmaps": "ConfigMap",
}


def _bin_dir() -> Path:
    if subprocess.run(["bash", str(BUILD_SH), "argo-rollouts"], stdout=2).returncode != 0:
        raise SystemExit("bench: building Argo Rollouts failed (build.sh said why, above)")
    found = subprocess.run(
        ["bash", str(BUILD_SH), "argo-rollouts-path"], capture_output=True, text=True, check=True
    )
    return Path(found.stdout.strip())


def _install(cluster: Cluster) -> None:
    crds = _bin_dir().parent / "crds"
    # Server-side: the CRDs are larger than client-side apply's last-applied annotation allows.
    kubectl(cluster, "apply", "--server-side", "--force-conflicts", "-f", str(crds))
    kubectl(cluster, "wait", "--for=condition=Established", "--timeout=60s", "-f", str(crds))


def _command(namespace: str, metrics_port: int, health_port: int) -> list[str]:
    argv = [
        str(_bin_dir() / "rollouts-controller"),
        "--namespaced",  # without it --namespace only sets the client's default and it watches all
        f"--namespace={namespace}",
        f"--metricsport={metrics_port}",
        f"--healthzPort={health_port}",
        "--leader-elect=false",
        f"--loglevel={os.environ.get('BENCH_ARGO_LOG_LEVEL', 'warn')}",
    ]
    for flag, env in (("--qps", "BENCH_ARGO_QPS"), ("--burst", "BENCH_ARGO_BURST")):
        if os.environ.get(env):
            argv.append(f"{flag}={os.environ[env]}")
    return argv


def _writes(text: str) -> dict[str, int]:
    found: dict[str, int] = {}
    for line in text.splitlines():
        if not line.startswith("controller_clientset_k8s_request_total{"):
            continue
        labels, value = line[line.index("{") + 1 : line.rindex("}")], line.rsplit(" ", 1)[1]
        pairs = dict(part.split("=", 1) for part in labels.split(",") if "=" in part)
        verb = _VERBS.get(pairs.get("verb", "").strip('"'))
        if verb is None:
            continue
        resource = pairs.get("kind", "").strip('"')
        key = f"{verb} {_KINDS.get(resource, resource)}"
        found[key] = found.get(key, 0) + int(float(value))
    return found


ARGO_ROLLOUTS = Subject("argo-rollouts", "argoproj.io/v1alpha1", _command, _writes, _install)
