"""Cost of the traffic simulator's pure core: one observation, one 100 ms tick, one scrape.

A namespace with 20 stable+canary Ingress pairs and 20 VirtualServices (subset-level), 10 pods each;
the figures say how much of a core the simulator takes at its 0.5 s poll and 100 ms tick.
"""

from __future__ import annotations

import time
from typing import Any

from e2e.simulator import NamespaceObjects, Simulation

APPS = 20


def _objects() -> NamespaceObjects:
    services, pods, ingresses, vss, drs = [], [], [], [], []
    for i in range(APPS):
        app = f"app{i}"
        for h, image, n in (("s", "img:1", 8), ("c", "img:2-bad", 2)):
            labels = {"app": app, "rollouts-pod-template-hash": f"{app}{h}"}
            services.append({"metadata": {"name": f"{app}-{h}"}, "spec": {"selector": labels}})
            for k in range(n):
                pods.append({
                    "metadata": {"name": f"{app}-{h}-{k}", "labels": labels},
                    "spec": {"containers": [{"image": image}]},
                    "status": {"conditions": [{"type": "Ready", "status": "True"}]},
                })  # fmt: skip
        for h, notes in (("s", {}), ("c", {"nginx.ingress.kubernetes.io/canary": "true",
                                           "nginx.ingress.kubernetes.io/canary-weight": "20"})):  # fmt: skip
            path = {"path": "/", "backend": {"service": {"name": f"{app}-{h}", "port": {"number": 80}}}}
            rule = {"host": f"{app}.x", "http": {"paths": [path]}}
            ingresses.append(
                {"metadata": {"name": f"{app}-{h}", "annotations": notes}, "spec": {"rules": [rule]}}
            )
        services.append({"metadata": {"name": app}, "spec": {"selector": {"app": app}}})
        vss.append({"metadata": {"name": app}, "spec": {"http": [{"route": [
            {"destination": {"host": app, "subset": "stable"}, "weight": 80},
            {"destination": {"host": app, "subset": "canary"}, "weight": 20}]}]}})  # fmt: skip
        drs.append({"metadata": {"name": app}, "spec": {"host": app, "subsets": [
            {"name": "stable", "labels": {"rollouts-pod-template-hash": f"{app}s"}},
            {"name": "canary", "labels": {"rollouts-pod-template-hash": f"{app}c"}}]}})  # fmt: skip
    return NamespaceObjects(namespace="bench", services=tuple(services), pods=tuple(pods),
                            ingresses=tuple(ingresses), virtual_services=tuple(vss),
                            destination_rules=tuple(drs))  # fmt: skip


def _per_call_ms(fn: Any, n: int) -> float:
    started = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - started) / n * 1000


def run() -> dict[str, Any]:
    view = [_objects()]
    sim = Simulation(rate=50)
    observe_ms = _per_call_ms(lambda: sim.observe(view), 50)
    clock = iter(range(10**9))
    tick_ms = _per_call_ms(lambda: sim.tick(next(clock) * 0.1), 500)
    scrape_ms = _per_call_ms(sim.exposition, 50)
    busy = observe_ms * 2 + tick_ms * 10 + scrape_ms  # per second: 2 polls, 10 ticks, 1 scrape
    return {
        "streams": len(sim.streams),
        "exposed_lines": sim.exposition().count("\n"),
        "observe_ms": round(observe_ms, 3),
        "tick_ms": round(tick_ms, 3),
        "scrape_render_ms": round(scrape_ms, 3),
        "core_share_percent": round(busy / 10, 2),
    }
