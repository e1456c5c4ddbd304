"""The controller under tracemalloc: ``python -m bench.traced FILE run ...`` (``BENCH_TRACEMALLOC=FILE``).

When the controller stops, FILE gets the lines that hold the most memory still allocated, so a
benchmark that shows RSS growing can say what grows. Tracing costs CPU and memory of its own: the
figures of such a run are not comparable with others.
"""

from __future__ import annotations

import atexit
import runpy
import sys
import tracemalloc
from pathlib import Path


def _write(path: Path) -> None:
    snapshot = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(False, tracemalloc.__file__)])
    stats = snapshot.statistics("traceback")
    total = sum(stat.size for stat in stats)
    lines = [f"{total / 2**20:.1f} MiB traced in {len(stats)} places; the largest:"]
    for stat in stats[:25]:
        lines.append(f"\n{stat.size / 2**20:.2f} MiB in {stat.count} blocks")
        lines.extend(f"    {frame}" for frame in stat.traceback.format(limit=6))
    path.write_text("\n".join(lines) + "\n")


def main() -> None:
    path = Path(sys.argv[1])
    tracemalloc.start(6)
    atexit.register(_write, path)
    sys.argv = ["kube-rollouts", *sys.argv[2:]]
    runpy.run_module("rollouts.controller", run_name="__main__")


if __name__ == "__main__":
    main()
