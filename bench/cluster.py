"""Benchmark of the local control plane: warm start time and memory of the running components.

Warm start: the binaries are cached, the cluster is stopped, and `ensure_up` starts it from nothing
(certificates, etcd, API server, controllers, KWOK nodes Ready, Prometheus ready). Memory: the peak
resident set (VmHWM) of each recorded process after a minute-scale workload of the integration tests
is not replayed here; this reports the start-up peak plus the steady RSS, which is what a developer's
machine pays to keep the cluster up.
"""

from __future__ import annotations

import time
from pathlib import Path

from e2e.cluster import down, ensure_up
from e2e.cluster.control_plane import state_dir
from e2e.cluster.processes import recorded


def _kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def run(restarts: int = 3) -> dict[str, object]:
    times = []
    for _ in range(restarts):
        down()
        started = time.monotonic()
        ensure_up(log=False)
        times.append(time.monotonic() - started)
    time.sleep(10)  # let the components settle (informers synced, first scrapes done)
    procs = recorded(state_dir())
    peak = {name: _kib(pid, "VmHWM") for name, (pid, _exe) in procs.items()}
    rss = {name: _kib(pid, "VmRSS") for name, (pid, _exe) in procs.items()}
    return {
        "warm_up_seconds": sorted(times),
        "peak_mib": {k: round(v / 1024) for k, v in peak.items()},
        "rss_mib": {k: round(v / 1024) for k, v in rss.items()},
        "total_peak_mib": round(sum(peak.values()) / 1024),
        "total_rss_mib": round(sum(rss.values()) / 1024),
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
