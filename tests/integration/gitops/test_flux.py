"""A real Flux delivers a Rollout from Git, and the Rollout's deliveries run under it, end to end.

Flux's source-controller fetches a Git repository served over smart HTTP; its kustomize-controller
applies the repository's ``deploy/`` folder (a Rollout, its Services in the GitOps form, the
Ingress, the AnalysisTemplate) with ``wait: true``, so the Kustomization's health is the Rollout's
health as kstatus reads it. The real controller delivers, measuring the simulator's traffic in the
real Prometheus. Four commits, as a team would push them:

1. the app at v1: Flux creates everything, the Rollout becomes Healthy, the Kustomization Ready;
2. the image to v2: the canary runs, passes its analysis and is promoted;
3. the image to v2-bad: the analysis fails and the controller rolls it back (Degraded);
4. ``git revert`` of 3: the template is the stable one again, and the Rollout goes back to stable
   at once, without steps and without a new AnalysisRun.

Throughout, what must hold: every apply Flux makes succeeds, and after the first it changes only the
Rollout and only on a commit that changed it (no drift correction of what the controller writes: the
Services' selectors, the canary Ingress, the status); a Service that selected a revision keeps
selecting one; the Kustomization's health follows the Rollout's kstatus: InProgress during a canary
(the Kustomization reconciling, waiting on it), Current when Healthy (Ready), Failed when Degraded
(Ready=False, HealthCheckFailed naming the Rollout). Each phase's duration is printed (run with
``-s``; docs/benchmarks.md has the figures).
"""

from __future__ import annotations

import json
import time
from typing import Any

from e2e.cluster.flux import Flux
from e2e.gitserver import GitServer
from e2e.simulator.launcher import RunningSimulator
from tests.integration.controller import scenario as sc
from tests.integration.controller.conftest import ControllerProcess
from tests.integration.delivery import manifests as m
from tests.integration.delivery.reads import Sampler, runs_of_kind
from tests.support import Kubectl, eventually, kubectl_json

KUSTOMIZATION = "kustomization.kustomize.toolkit.fluxcd.io"
GIT_REPOSITORY = "gitrepository.source.toolkit.fluxcd.io"
STEPS = [{"setWeight": 50}, {"analysis": m.analysis("success-rate")}]
SERVICES = ("web-stable", "web-canary")


def _files(image: str) -> dict[str, str]:
    """The repository's ``deploy/`` folder for the app at ``image``: one object per file."""
    rollout = m.canary_rollout(STEPS, abortScaleDownDelaySeconds=1)
    rollout["spec"]["template"]["spec"]["containers"][0]["image"] = f"example.com/web:{image}"
    objects = {
        "service-stable": sc.gitops_service("web-stable"),
        "service-canary": sc.gitops_service("web-canary"),
        "ingress": m.ingress("web", "web-stable"),
        # initialDelay: the first measurement waits until the query's rate window holds only this
        # canary's requests; a canary right after a promoted one would otherwise be judged on the
        # previous canary's traffic (the cold CI run promoted the bad image that way).
        "analysistemplate": m.template("success-rate", m.success_rate_metric(initialDelay=m.WINDOW)),
        "rollout": rollout,
    }
    files = {f"deploy/{name}.yaml": json.dumps(obj, indent=2) + "\n" for name, obj in objects.items()}
    resources = "".join(f"  - {name}.yaml\n" for name in objects)
    files["deploy/kustomization.yaml"] = (
        f"apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n{resources}"
    )
    return files


def _flux_objects(namespace: str, url: str) -> list[dict[str, Any]]:
    repo = {
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "GitRepository",
        "metadata": {"name": "app"},
        "spec": {"url": url, "interval": "2s", "ref": {"branch": "main"}, "timeout": "20s"},
    }
    kustomization = {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": "app"},
        "spec": {
            "sourceRef": {"kind": "GitRepository", "name": "app"},
            "path": "./deploy",
            "targetNamespace": namespace,
            "prune": True,
            "wait": True,
            # A canary with its analysis takes about half a minute here; the health check waits for
            # it (kstatus InProgress) and fails early when the Rollout is Failed (Degraded).
            "timeout": "3m",
            "interval": "5s",
            "retryInterval": "5s",
        },
    }
    return [repo, kustomization]


def kstatus(obj: dict[str, Any]) -> str:
    """kstatus's reading of a custom resource (sigs.k8s.io/cli-utils, the generic rules Flux uses).

    InProgress while ``status.observedGeneration`` lags ``metadata.generation`` or ``Reconciling``
    is True; Failed when ``Stalled`` is True; then by ``Ready``: True is Current, False or Unknown
    InProgress; no Ready is Current.
    """
    if obj["metadata"].get("deletionTimestamp"):
        return "Terminating"
    status = obj.get("status") or {}
    observed = status.get("observedGeneration")
    if observed is not None and observed != obj["metadata"].get("generation"):
        return "InProgress"
    conditions = {c["type"]: c["status"] for c in status.get("conditions") or []}
    if conditions.get("Reconciling") == "True":
        return "InProgress"
    if conditions.get("Stalled") == "True":
        return "Failed"
    return "InProgress" if conditions.get("Ready", "True") != "True" else "Current"


def _conditions(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in (obj.get("status") or {}).get("conditions") or []}


class Timeline:
    """When each thing a user waits for happened, in seconds after the phase's commit."""

    def __init__(self) -> None:
        self.phases: dict[str, dict[str, float]] = {}
        self.current = ""
        self._start = 0.0

    def begin(self, phase: str) -> None:
        self.current, self._start = phase, time.monotonic()
        self.phases[phase] = {}

    def mark(self, what: str) -> None:
        self.phases[self.current].setdefault(what, round(time.monotonic() - self._start, 1))

    def report(self) -> str:
        return "\n".join(
            f"{phase}: " + ", ".join(f"{what} {seconds:.1f}s" for what, seconds in marks.items())
            for phase, marks in self.phases.items()
        )


class Observer:
    """Reads the Kustomization and the Rollout together, as one sample of what a user sees.

    The Kustomization is read first: Flux marks it not Ready before it applies anything, so a sample
    can never pair a Ready (or failed) Kustomization with a Rollout changed by a later apply.
    """

    def __init__(self, kubectl: Kubectl, timeline: Timeline) -> None:
        self.kubectl = kubectl
        self.timeline = timeline

    def sample(self) -> dict[str, Any]:
        both = kubectl_json(self.kubectl, "get", f"{KUSTOMIZATION}/app", "rollout.rollouts.dev/web")["items"]
        kustomization = next(o for o in both if o["kind"] == "Kustomization")
        rollout = next(o for o in both if o["kind"] == "Rollout")
        conditions = _conditions(kustomization)
        ready = conditions.get("Ready", {})
        selectors = {
            svc["metadata"]["name"]: (svc["spec"].get("selector") or {}).get(sc.HASH)
            for svc in kubectl_json(self.kubectl, "get", "services")["items"]
        }
        return {
            "during": self.timeline.current,
            "kstatus": kstatus(rollout),
            "phase": (rollout.get("status") or {}).get("phase"),
            "ready": ready.get("status"),
            "reason": ready.get("reason"),
            "message": ready.get("message", ""),
            "healthy": conditions.get("Healthy", {}).get("status"),
            "reconciling": conditions.get("Reconciling", {}).get("message", ""),
            # lastAppliedRevision moves only when the health check passed; a failed one moves
            # lastAttemptedRevision alone.
            "applied": (kustomization.get("status") or {}).get("lastAppliedRevision", ""),
            "attempted": (kustomization.get("status") or {}).get("lastAttemptedRevision", ""),
            "selectors": selectors,
        }


def _applies(flux: Flux, namespace: str) -> list[dict[str, str]]:
    """What each of kustomize-controller's server-side applies for the test's Kustomization did."""
    found = []
    for line in flux.logs["kustomize-controller"].read_text().splitlines():
        if '"server-side apply completed"' not in line or f'"namespace":"{namespace}"' not in line:
            continue
        found.append(json.loads(line)["output"])
    return found


def test_flux_delivers_canaries_rollbacks_and_reverts_from_git(
    flux: Flux,
    git: GitServer,
    controller: ControllerProcess,
    traffic: RunningSimulator,
    kubectl: Kubectl,
    namespace: str,
) -> None:
    timeline = Timeline()
    seen = Observer(kubectl, timeline)

    def wait(what: str, check: Any, timeout: float = 120) -> dict[str, Any]:
        sample: dict[str, Any] = eventually(
            lambda: (lambda s: s if check(s) else None)(seen.sample()), timeout=timeout, what=what
        )
        timeline.mark(what)
        return sample

    def applied(sha: str) -> Any:
        return lambda s: s["applied"].endswith(sha)

    # 1. The app at v1, from nothing.
    timeline.begin("initial sync")
    first = git.commit(_files("v1"), "web at v1")
    sc.apply(kubectl, *_flux_objects(namespace, git.url))
    eventually(lambda: kubectl("get", "rollout.rollouts.dev/web", check=False).returncode == 0, timeout=90)
    timeline.mark("Rollout created")
    wait("Kustomization Ready", lambda s: applied(first)(s) and s["ready"] == "True")
    assert seen.sample()["phase"] == "Healthy"
    v1 = sc.status(kubectl, "web")["stableRS"]

    with Sampler(seen.sample) as during:
        # 2. A new image: the canary, its analysis, the promotion.
        timeline.begin("canary to promotion")
        second = git.commit(_files(m.GOOD), "web at v2")
        wait("canary started", lambda s: s["phase"] == "Progressing")
        wait("Healthy at v2", lambda s: s["phase"] == "Healthy" and s["selectors"]["web-stable"] != v1)
        wait("Kustomization Ready", lambda s: applied(second)(s) and s["ready"] == "True")
        v2 = sc.status(kubectl, "web")["stableRS"]
        promoted = runs_of_kind(kubectl, "step")
        assert [run["status"]["phase"] for run in promoted] == ["Successful"]

        # 3. A bad image: the analysis fails, the controller rolls back, Flux reports the failure.
        timeline.begin("bad image rolled back")
        third = git.commit(_files(m.BAD), "web at v2-bad")
        wait("canary started", lambda s: s["phase"] == "Progressing")
        wait("Degraded", lambda s: s["phase"] == "Degraded")
        failed = wait(
            "Kustomization health failed",
            lambda s: (
                s["attempted"].endswith(third)
                and s["ready"] == "False"
                and s["reason"] == "HealthCheckFailed"
            ),
        )
        assert f"Rollout/{namespace}/web status: 'Failed'" in failed["message"], failed["message"]
        assert failed["applied"].endswith(second), "a failed health check moved lastAppliedRevision"
        runs = runs_of_kind(kubectl, "step")
        assert [run["status"]["phase"] for run in runs] == ["Successful", "Failed"]
        assert seen.sample()["selectors"]["web-stable"] == v2

        # 4. The revert: back to the stable template, which skips all steps.
        timeline.begin("revert to stable")
        fourth = git.revert(third)
        wait("Healthy at v2", lambda s: s["phase"] == "Healthy" and s["selectors"]["web-stable"] == v2)
        wait("Kustomization Ready", lambda s: applied(fourth)(s) and s["ready"] == "True")
        assert len(runs_of_kind(kubectl, "step")) == 2, "the revert started an analysis"
        # A few of Flux's interval re-applies of the same revision, now that everything is still.
        time.sleep(12)

    print("\nGitOps phases (seconds after the commit):\n" + timeline.report())
    samples = during.samples

    # The Kustomization's health is the Rollout's kstatus: waiting while InProgress, Ready only when
    # the Rollout is Current, a failed health check only when it is Failed.
    for s in samples:
        if s["ready"] == "True" and s["kstatus"] != "Current":
            raise AssertionError(f"Kustomization Ready while the Rollout is {s['kstatus']}: {s}")
        if s["reason"] == "HealthCheckFailed":
            assert s["kstatus"] == "Failed", s
    assert {"InProgress", "Current", "Failed"} <= {s["kstatus"] for s in samples}
    canary = [s for s in samples if s["during"] == "canary to promotion" and s["phase"] == "Progressing"]
    assert any(
        s["ready"] == "Unknown" and s["healthy"] == "Unknown" and "Running health checks" in s["reconciling"]
        for s in canary
    ), "the Kustomization never showed it was waiting on the canary"

    # A Service that selected a revision never stopped selecting one (Flux never took the selector).
    for name in SERVICES:
        picked = [s["selectors"].get(name) for s in samples]
        assert all(picked), f"Service {name} selected no revision at some point: {picked}"

    # Flux's field manager owns no Service selector; the controller's owns each one whole.
    for name in SERVICES:
        managed = kubectl_json(kubectl, "get", "service", name, "--show-managed-fields")["metadata"]
        owners = {
            entry["manager"]
            for entry in managed["managedFields"]
            if "f:selector" in (entry.get("fieldsV1", {}).get("f:spec") or {})
        }
        assert owners == {"kube-rollouts"}, f"Service {name}'s selector is owned by {owners}"

    # Every apply after the first changed only the Rollout, and only on a commit that changed it.
    applies = _applies(flux, namespace)
    assert applies and all(action == "created" for action in applies[0].values()), applies[0]
    later = applies[1:]
    rollout = f"Rollout/{namespace}/web"
    for output in later:
        changed = {obj: action for obj, action in output.items() if action != "unchanged"}
        assert set(changed) <= {rollout}, f"Flux changed what the controller owns: {changed}"
    configured = [output for output in later if output.get(rollout) == "configured"]
    assert len(configured) == 3, f"{len(configured)} applies changed the Rollout (3 commits did)"
    assert len(later) > len(configured), "no re-apply of an unchanged revision was seen"
