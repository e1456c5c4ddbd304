"""Micro-benchmark of the decision engine: the time of one ``decide()`` for a 10-step canary.

The Rollout is a routed (NGINX) canary of 10 replicas with 10 steps: weights, timed and open
pauses, an analysis step and background analysis, the shape a production Rollout has. Each state
is a snapshot the controller would really hand the engine:

* ``new_revision``: the template just changed; the canary ReplicaSet is planned;
* ``mid_steps``: at a setWeight step whose canary pods are up: the new weight is planned;
* ``paused``: at an open pause, waiting for a promote;
* ``analysis_running``: at the analysis step with its run and the background run going;
* ``abort``: aborted by a failed run; traffic back to stable, the canary kept for the delay.

Each state is decided ``warmup`` times first (caches, first imports), then timed ``iterations``
times with ``time.perf_counter_ns``; the figures are the median and the 99th percentile in
microseconds. The goal is well under 1 ms per decision. On a shared machine the wall-clock p99
mostly measures the scheduler (the process waiting for a core), so ``cpu_p99_us`` gives the
same percentile of the CPU time the decision itself took (``time.thread_time_ns``).
"""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from rollouts.api import AnalysisPhase, Rollout
from rollouts.engine import (
    AnalysisRunKind,
    ObservedAnalysisRun,
    ObservedReplicaSet,
    ObservedService,
    Snapshot,
    decide,
)
from rollouts.engine.hashing import POD_TEMPLATE_HASH_LABEL, pod_template_hash

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
STEPS: list[dict[str, Any]] = [
    {"setWeight": 5},
    {"pause": {"duration": "1m"}},
    {"setWeight": 10},
    {"analysis": {"templates": [{"templateName": "success-rate"}]}},
    {"setWeight": 25},
    {"pause": {}},
    {"setWeight": 50},
    {"pause": {"duration": "5m"}},
    {"setWeight": 75},
    {"pause": {"duration": "5m"}},
]


def _template(image: str) -> dict[str, Any]:
    return {
        "metadata": {"labels": {"app": "shop"}},
        "spec": {"containers": [{"name": "shop", "image": image, "ports": [{"containerPort": 8080}]}]},
    }


OLD, NEW = pod_template_hash(_template("shop:1")), pod_template_hash(_template("shop:2"))


def _rollout(status: dict[str, Any]) -> Rollout:
    return Rollout.model_validate(
        {
            "metadata": {"name": "shop", "namespace": "prod", "generation": 7},
            "spec": {
                "replicas": 10,
                "selector": {"matchLabels": {"app": "shop"}},
                "template": _template("shop:2"),
                "strategy": {
                    "canary": {
                        "canaryService": "shop-canary",
                        "stableService": "shop-stable",
                        "trafficRouting": {"nginx": {"stableIngress": "shop"}},
                        "analysis": {"templates": [{"templateName": "latency"}], "startingStep": 2},
                        "steps": STEPS,
                    }
                },
            },
            "status": status,
        }
    )


def _rs(pod_hash: str, replicas: int, revision: int) -> ObservedReplicaSet:
    return ObservedReplicaSet(
        name=f"shop-{pod_hash}",
        pod_template_hash=pod_hash,
        replicas=replicas,
        revision=revision,
        created=NOW - timedelta(hours=revision),
        ready=replicas,
        available=replicas,
    )


def _services(canary: str) -> tuple[ObservedService, ...]:
    return (
        ObservedService(name="shop-stable", selector={"app": "shop", POD_TEMPLATE_HASH_LABEL: OLD}),
        ObservedService(name="shop-canary", selector={"app": "shop", POD_TEMPLATE_HASH_LABEL: canary}),
    )


def _run(name: str, kind: AnalysisRunKind, phase: AnalysisPhase, step: int | None) -> ObservedAnalysisRun:
    return ObservedAnalysisRun(name=name, kind=kind, phase=phase, pod_template_hash=NEW, step_index=step)


def _at(index: int, **status: Any) -> dict[str, Any]:
    return {"currentPodHash": NEW, "stableRS": OLD, "currentStepIndex": index, **status}


def states() -> dict[str, Snapshot]:
    """The representative snapshots, by name."""
    step_run, background = f"shop-{NEW}-step-3-1", f"shop-{NEW}-background-1"
    runs = {
        "currentStepAnalysisRunStatus": {"name": step_run, "status": "Running"},
        "currentBackgroundAnalysisRunStatus": {"name": background, "status": "Running"},
    }
    running = (
        _run(step_run, AnalysisRunKind.STEP, AnalysisPhase.RUNNING, 3),
        _run(background, AnalysisRunKind.BACKGROUND, AnalysisPhase.RUNNING, None),
    )
    failed = (
        _run(step_run, AnalysisRunKind.STEP, AnalysisPhase.FAILED, 3),
        _run(background, AnalysisRunKind.BACKGROUND, AnalysisPhase.RUNNING, None),
    )
    pause = {"pauseConditions": [{"reason": "CanaryPauseStep", "startTime": NOW.isoformat()}]}
    return {
        "new_revision": Snapshot(
            rollout=_rollout({"currentPodHash": OLD, "stableRS": OLD, "currentStepIndex": 10}),
            now=NOW,
            replica_sets=(_rs(OLD, 10, 1),),
            services=_services(OLD),
            router_canary_weight=0,
        ),
        "mid_steps": Snapshot(
            rollout=_rollout(_at(4, canary=runs | {"currentStepAnalysisRunStatus": None})),
            now=NOW,
            replica_sets=(_rs(OLD, 10, 1), _rs(NEW, 3, 2)),
            services=_services(NEW),
            router_canary_weight=10,
            analysis_runs=running[1:],
        ),
        "paused": Snapshot(
            rollout=_rollout(
                _at(5, controllerPause=True, canary=runs | {"currentStepAnalysisRunStatus": None}, **pause)
            ),
            now=NOW + timedelta(minutes=3),
            replica_sets=(_rs(OLD, 10, 1), _rs(NEW, 3, 2)),
            services=_services(NEW),
            router_canary_weight=25,
            analysis_runs=running[1:],
        ),
        "analysis_running": Snapshot(
            rollout=_rollout(_at(3, canary=runs)),
            now=NOW,
            replica_sets=(_rs(OLD, 10, 1), _rs(NEW, 1, 2)),
            services=_services(NEW),
            router_canary_weight=10,
            analysis_runs=running,
        ),
        "abort": Snapshot(
            rollout=_rollout(_at(3, canary=runs)),
            now=NOW,
            replica_sets=(_rs(OLD, 10, 1), _rs(NEW, 1, 2)),
            services=_services(NEW),
            router_canary_weight=10,
            analysis_runs=failed,
        ),
    }


def _time(snapshot: Snapshot, *, iterations: int, warmup: int) -> tuple[list[int], list[int]]:
    """Wall-clock and CPU nanoseconds of each timed decision."""
    for _ in range(warmup):
        decide(snapshot)
    wall, cpu = [], []
    for _ in range(iterations):
        cpu_start = time.thread_time_ns()
        started = time.perf_counter_ns()
        decide(snapshot)
        wall.append(time.perf_counter_ns() - started)
        cpu.append(time.thread_time_ns() - cpu_start)
    return wall, cpu


def _p99(samples: list[int]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


def run(iterations: int = 3000, warmup: int = 200) -> dict[str, object]:
    figures: dict[str, object] = {"iterations_per_state": iterations, "steps": len(STEPS), "replicas": 10}
    for name, snapshot in states().items():
        wall, cpu = _time(snapshot, iterations=iterations, warmup=warmup)
        figures[name] = {
            "median_us": round(statistics.median(wall) / 1000, 1),
            "p99_us": round(_p99(wall) / 1000, 1),
            "cpu_p99_us": round(_p99(cpu) / 1000, 1),
            "actions": len(decide(snapshot).actions),
        }
    return figures


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
