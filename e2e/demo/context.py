"""What every part of the demo shares: the cluster handles, kubectl and PromQL, and the timeline."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from e2e.cluster import Cluster
from e2e.demo.progress import State
from e2e.simulator import RunningSimulator

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Timeline:
    """Named parts of the demo with their durations, printed as they finish and summed up at the end."""

    parts: list[tuple[str, float, str]] = field(default_factory=list)

    @contextmanager
    def part(self, name: str) -> Iterator[None]:
        print(f"\n==> {name}", flush=True)
        started = time.monotonic()
        outcome = "failed"
        try:
            yield
            outcome = "ok"
        except KeyboardInterrupt:
            outcome = "interrupted"
            raise
        finally:
            took = time.monotonic() - started
            self.parts.append((name, took, outcome))
            print(f"    ({outcome}, {took:.1f}s)", flush=True)

    def skipped(self, name: str, reason: str) -> None:
        print(f"\n==> {name}: skipped ({reason})", flush=True)
        self.parts.append((name, 0.0, f"skipped: {reason}"))

    def summary(self) -> str:
        width = max(len(name) for name, _, _ in self.parts)
        lines = [f"  {name:<{width}}  {took:6.1f}s  {outcome}" for name, took, outcome in self.parts]
        total = sum(took for _, took, _ in self.parts)
        return "\n".join(["Summary:", *lines, f"  {'total':<{width}}  {total:6.1f}s"])


@dataclass
class Demo:
    """What every part of the demo works with."""

    cluster: Cluster
    namespace: str
    timeline: Timeline
    sim: RunningSimulator | None = None
    controller_log: Path | None = None
    # What happened, in a line per delivery, for the closing summary.
    story: list[str] = field(default_factory=list)
    # The last state printed, so the next wait prints only what changed since.
    last_seen: State | None = None

    def kubectl(self, *args: str, stdin: str | None = None, namespaced: bool = True) -> str:
        argv = [str(Path(self.cluster.bin_dir) / "kubectl"), f"--kubeconfig={self.cluster.kubeconfig}"]
        if namespaced:
            argv.append(f"--namespace={self.namespace}")
        try:
            res = subprocess.run([*argv, *args], input=stdin, capture_output=True, text=True, timeout=120)
        except subprocess.TimeoutExpired:
            raise DemoError(f"kubectl {' '.join(args)} did not answer within 120s") from None
        if res.returncode != 0:
            raise DemoError(f"kubectl {' '.join(args)} failed: {res.stderr.strip()}")
        return res.stdout

    def kubectl_json(self, *args: str) -> Any:
        return json.loads(self.kubectl(*args, "-o", "json"))

    def promql(self, query: str) -> list[dict[str, Any]]:
        resp = httpx.get(f"{self.cluster.prometheus_url}/api/v1/query", params={"query": query}, timeout=10)
        resp.raise_for_status()
        return resp.json()["data"]["result"]  # type: ignore[no-any-return]


class DemoError(RuntimeError):
    pass


def show(text: str) -> None:
    print("\n".join(f"    {line}" for line in text.rstrip().splitlines()), flush=True)
