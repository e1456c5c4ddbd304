"""Benchmark of the local control plane: warm start time and memory of the running components.

Warm start: the binaries are cached and `ensure_up` starts a cluster from nothing (certificates,
etcd, API server, controllers, KWOK nodes Ready, Prometheus ready). It runs in a private state
folder with its own ports, so it never disturbs the developer's cluster. Memory: the peak resident
set (VmHWM) and current RSS of each component once the cluster has settled, summed: what a
developer's machine pays to keep the cluster up.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from e2e.cluster import down, ensure_up
from e2e.cluster.processes import recorded


def _kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def run(restarts: int = 3) -> dict[str, object]:
    state = Path(tempfile.mkdtemp(prefix="kube-rollouts-bench-")) / "cluster"
    times = []
    try:
        for _ in range(restarts):
            down(state)
            started = time.monotonic()
            ensure_up(state, log=False)
            times.append(time.monotonic() - started)
        time.sleep(10)  # let the components settle (informers synced, first scrapes done)
        procs = recorded(state)
        peak = {name: _kib(pid, "VmHWM") for name, (pid, _exe) in procs.items()}
        rss = {name: _kib(pid, "VmRSS") for name, (pid, _exe) in procs.items()}
    finally:
        down(state)
    return {
        "warm_up_seconds": [round(t, 2) for t in sorted(times)],
        "peak_mib": {k: round(v / 1024) for k, v in peak.items()},
        "rss_mib": {k: round(v / 1024) for k, v in rss.items()},
        "total_peak_mib": round(sum(peak.values()) / 1024),
        "total_rss_mib": round(sum(rss.values()) / 1024),
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
