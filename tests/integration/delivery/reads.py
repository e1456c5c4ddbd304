"""What a user reads during a delivery: the canary Ingress weight, AnalysisRuns and their verdicts."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from tests.integration.controller import scenario as sc
from tests.support import Kubectl, eventually, kubectl_json

T = TypeVar("T")

NGINX = "nginx.ingress.kubernetes.io"
CANARY_INGRESS = "web-web-canary"  # the controller names it <stable ingress>-<rollout>-canary


def canary_weight(kubectl: Kubectl) -> int | None:
    """The canary-weight annotation of the canary Ingress; ``None`` while there is none."""
    found = kubectl("get", "ingress", CANARY_INGRESS, "-o", "json", check=False)
    if found.returncode != 0:
        return None
    notes = json.loads(found.stdout)["metadata"].get("annotations") or {}
    weight = notes.get(f"{NGINX}/canary-weight")
    return None if weight is None else int(weight)


def analysis_runs(kubectl: Kubectl) -> dict[str, dict[str, Any]]:
    """name -> AnalysisRun of the namespace."""
    return {
        run["metadata"]["name"]: run
        for run in kubectl_json(kubectl, "get", "analysisruns.rollouts.dev")["items"]
    }


def runs_of_kind(kubectl: Kubectl, kind: str) -> list[dict[str, Any]]:
    """AnalysisRuns the Rollout started for ``kind`` (step, background, pre, post), oldest first."""
    runs = [
        run
        for run in analysis_runs(kubectl).values()
        if run["metadata"].get("labels", {}).get("rollouts.dev/analysis-kind") == kind
    ]
    return sorted(runs, key=lambda run: run["metadata"]["creationTimestamp"])


def finished_run(kubectl: Kubectl, kind: str, *, timeout: float = 60) -> dict[str, Any]:
    """The first AnalysisRun of ``kind`` once it has a completed phase."""

    def probe() -> dict[str, Any] | None:
        runs = runs_of_kind(kubectl, kind)
        phase = (runs[0].get("status") or {}).get("phase") if runs else None
        return runs[0] if phase in ("Successful", "Failed", "Error", "Inconclusive") else None

    result: dict[str, Any] = eventually(probe, timeout=timeout, what=f"a {kind} AnalysisRun to complete")
    return result


def metric_result(run: dict[str, Any], metric: str) -> dict[str, Any]:
    results = (run.get("status") or {}).get("metricResults") or []
    return next(r for r in results if r["name"] == metric)


def measured_values(run: dict[str, Any], metric: str) -> list[float]:
    """The numbers measured for ``metric`` (values like ``[0.97]``; error measurements have none)."""
    values = []
    for measurement in metric_result(run, metric).get("measurements") or []:
        value = measurement.get("value")
        if value:
            parsed = json.loads(value)
            if isinstance(parsed, list):
                values += [float(parsed[0])] if parsed else []  # "[]": an error measurement (no data)
            else:
                values.append(float(parsed))
    return values


def wait_phase(kubectl: Kubectl, phase: str, *, timeout: float = 60) -> dict[str, Any]:
    """The Rollout ``web``'s status once its phase is ``phase``."""
    return sc.wait_status(kubectl, "web", phase, lambda st: st.get("phase") == phase, timeout)


def weight_and_sizes(kubectl: Kubectl) -> tuple[int | None, dict[str, int]]:
    """One read of the canary weight and of each ReplicaSet's desired size (hash -> replicas)."""
    found = kubectl("get", "ingresses,replicasets", "-o", "json", check=False)
    assert found.returncode == 0, found.stderr
    weight: int | None = None
    sizes: dict[str, int] = {}
    for obj in json.loads(found.stdout)["items"]:
        if obj["kind"] == "Ingress":
            if obj["metadata"]["name"] != CANARY_INGRESS:
                continue
            value = (obj["metadata"].get("annotations") or {}).get(f"{NGINX}/canary-weight")
            weight = None if value is None else int(value)
        else:
            sizes[obj["metadata"]["labels"][sc.HASH]] = obj["spec"]["replicas"]
    return weight, sizes


class Sampler(Generic[T]):
    """Calls ``probe`` over and over in a thread while the block runs: what a user watching sees.

    ``with Sampler(lambda: ...) as seen: ...`` then ``seen.samples`` (oldest first).
    """

    def __init__(self, probe: Callable[[], T]) -> None:
        self._probe = probe
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self.samples: list[T] = []
        self._error: BaseException | None = None

    def _loop(self) -> None:
        try:
            while not self._stop.is_set():
                self.samples.append(self._probe())
                time.sleep(0.02)
        except BaseException as exc:  # handed to the test when the block ends
            self._error = exc

    def __enter__(self) -> Sampler[T]:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        if self._error is not None:
            raise AssertionError(f"sampling failed after {len(self.samples)} samples") from self._error
