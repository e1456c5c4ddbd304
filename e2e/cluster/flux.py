"""Flux's source-controller and kustomize-controller beside the local control plane, on demand.

Only the GitOps test needs Flux, so it is not part of `cluster up`: `ensure_flux(cluster)` builds the
two controllers from their pinned Go modules (`build.sh flux`: cached apart from the control plane,
so a Flux bump never rebuilds Kubernetes), installs their CRDs (copied from the same module zips by
the build) and starts them as processes of the cluster, recorded under `<state>/flux/pids`.
`stop_flux()` stops them; `cluster down` stops them too (it stops every add-on recorded in the
state folder), so a test run that dies leaves nothing running.

Run as they run in a cluster, minus what a Pod would give them: `KUBECONFIG` (the cluster's admin
login) instead of a ServiceAccount, 127.0.0.1 ports for metrics, health and the artifact server
(source-controller serves artifacts at `--storage-adv-addr`, where kustomize-controller downloads
them), a storage folder in the state directory, no leader election, all namespaces watched.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from e2e.cluster.control_plane import BUILD_SH, Cluster, kubectl, state_dir
from e2e.cluster.processes import (
    ClusterError,
    Proc,
    alive,
    free_port,
    http_ok,
    recorded,
    start,
    stop,
    wait_for,
)

CONTROLLERS = ("source-controller", "kustomize-controller")
ADDON = "flux"


@dataclass(frozen=True)
class Flux:
    """The running controllers: their logs (a test reads the applies from them) and the CRDs' folder."""

    bin_dir: Path
    logs: dict[str, Path]


def flux_bin_dir() -> Path:
    """The two controllers and their CRDs (in `../crds`), built once from e2e/cluster/tools/flux-*."""
    res = subprocess.run(["bash", str(BUILD_SH), "flux"], stdout=2)
    if res.returncode != 0:
        raise ClusterError("building Flux's controllers failed (build.sh said why, above)")
    path = subprocess.run(["bash", str(BUILD_SH), "flux-path"], capture_output=True, text=True, check=True)
    return Path(path.stdout.strip())


def addon_dir(state: Path | None = None) -> Path:
    return (state or state_dir()) / ADDON


def ensure_flux(cluster: Cluster, state: Path | None = None) -> Flux:
    """Flux's controllers running against `cluster` (started here unless they already run)."""
    binaries = flux_bin_dir()
    home = addon_dir(state)
    logs = {name: home / "logs" / f"{name}.log" for name in CONTROLLERS}
    running = recorded(home)
    if set(running) == set(CONTROLLERS) and all(alive(pid, exe) for pid, exe in running.values()):
        return Flux(bin_dir=binaries, logs=logs)
    stop_flux(state)
    crds = binaries.parent / "crds"
    # Server-side: the CRDs are larger than client-side apply's last-applied annotation allows.
    kubectl(cluster, "apply", "--server-side", "--force-conflicts", "-f", str(crds))
    kubectl(cluster, "wait", "--for=condition=Established", "--timeout=60s", "-f", str(crds))
    storage = home / "artifacts"
    storage.mkdir(parents=True, exist_ok=True)
    for name in CONTROLLERS:
        ports = {key: free_port() for key in ("metrics", "health", "storage")}
        argv = [
            str(binaries / name),
            f"--metrics-addr=127.0.0.1:{ports['metrics']}",
            f"--health-addr=127.0.0.1:{ports['health']}",
            "--watch-all-namespaces=true",
            "--log-level=info",
            "--log-encoding=json",
        ]
        if name == "kustomize-controller":
            # A Kustomization created before its source has an artifact is retried after this
            # (Flux's default, 30 s, would be most of the test's first phase).
            argv.append("--requeue-dependency=2s")
        if name == "source-controller":
            argv += [
                f"--storage-path={storage}",
                f"--storage-addr=127.0.0.1:{ports['storage']}",
                f"--storage-adv-addr=127.0.0.1:{ports['storage']}",
            ]
        proc = Proc(name, argv, logs[name])
        child = start(home, proc, env={"KUBECONFIG": cluster.kubeconfig})
        ready = f"http://127.0.0.1:{ports['health']}/readyz"
        wait_for(f"Flux {name}", lambda url=ready: http_ok(url), timeout=60, proc=proc, child=child)  # type: ignore[misc]
    return Flux(bin_dir=binaries, logs=logs)


def stop_flux(state: Path | None = None) -> list[str]:
    """Stop the controllers recorded for this cluster (checked by pid and executable)."""
    home = addon_dir(state)
    stopped = []
    for name, (pid, exe) in recorded(home).items():
        if alive(pid, exe):
            stopped.append(name)
        stop(home, name, pid, exe)
    return stopped
