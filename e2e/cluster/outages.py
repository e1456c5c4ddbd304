"""Outages on purpose: stop one component of a local control plane, then start it again as it was.

For resilience tests only, and only against a private cluster started for that test
(``ensure_up(state=tmp_path / "cluster")``): other engineers' tests share the default one.
``stop_component`` signals exactly the recorded process (SIGTERM for an orderly shutdown, SIGKILL
for a crash); ``start_component`` starts it again with the command line recorded at cluster start
and waits until it is ready (``/readyz`` for the API server), so the caller controls how long the
outage lasts.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

from e2e.cluster.control_plane import _client_ssl, _load
from e2e.cluster.processes import ClusterError, Proc, alive, argv_file, http_ok, recorded, start, wait_for

__all__ = ["restart", "start_component", "stop_component"]


def stop_component(state: Path, name: str, *, sig: signal.Signals = signal.SIGTERM) -> None:
    """Send ``sig`` to the recorded ``name`` process and wait until it has exited (at most 30 s)."""
    procs = recorded(state)
    if name not in procs:
        raise ClusterError(f"no {name} recorded in {state / 'pids'}: is a cluster running there?")
    pid, exe = procs[name]
    if not alive(pid, exe):
        raise ClusterError(f"{name} (pid {pid}) is not running; nothing to stop")
    os.kill(pid, sig)
    deadline = time.monotonic() + 30
    while alive(pid, exe):
        if time.monotonic() > deadline:
            raise ClusterError(f"{name} (pid {pid}) still runs 30 s after {sig.name}")
        time.sleep(0.05)


def start_component(state: Path, name: str, *, timeout: float = 90) -> None:
    """Start ``name`` again with its recorded command line; return once it is ready."""
    try:
        recorded_argv = json.loads(argv_file(state, name).read_text())
    except (OSError, ValueError) as exc:
        raise ClusterError(
            f"no command line recorded for {name} in {argv_file(state, name)} ({exc}); "
            "start the cluster with this version of e2e.cluster"
        ) from exc
    procs = recorded(state)
    if name in procs and alive(*procs[name]):
        raise ClusterError(f"{name} (pid {procs[name][0]}) still runs; stop it first")
    proc = Proc(name, list(recorded_argv["argv"]), Path(recorded_argv["log"]))
    child = start(state, proc)
    cluster = _load(state)
    if name == "kube-apiserver" and cluster is not None:
        ready, ctx = cluster.api_url + "/readyz", _client_ssl(state)
        wait_for(name, lambda: http_ok(ready, context=ctx), timeout=timeout, proc=proc, child=child)
    else:
        wait_for(name, lambda: child.poll() is None, timeout=timeout, proc=proc, child=child)


def restart(state: Path, name: str, *, sig: signal.Signals = signal.SIGTERM, downtime: float = 0) -> None:
    """Stop ``name``, leave it down for ``downtime`` seconds, start it again and wait until ready."""
    stop_component(state, name, sig=sig)
    time.sleep(downtime)
    start_component(state, name)
