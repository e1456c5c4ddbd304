"""The demo's delivery part: the controller carries a good version through, then rolls a bad one back.

Everything it prints is read back from the cluster (see `progress`): the Rollout's status, the weight
in the canary Ingress the controller manages, the stable Service's selector, ready pods, and the
AnalysisRuns with the values Prometheus returned. It waits with bounds and, when a bound passes or
something goes the wrong way, says what it last saw; it never declares an outcome it did not observe.

The good version (`nginx:1.28`) must reach Healthy as the new stable revision with its analysis
Successful. The bad one (`nginx:1.29-bad`: the simulator fails 30 % of its requests) must end aborted
and Degraded by a Failed (or Error) analysis of that revision, with canary weight 0 and the stable
Service still selecting the good revision, and must never become stable.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from e2e.demo.context import Demo, DemoError
from e2e.demo.progress import Measured, State, changes, one_line

ROLLOUT = "web"
GOOD_IMAGE = "nginx:1.28"
BAD_IMAGE = "nginx:1.29-bad"
KINDS = "rollouts.rollouts.dev,replicasets,pods,ingresses,services,analysisruns.rollouts.dev"
POLL_SECONDS = 0.5
FIRST_TIMEOUT = 120.0
GOOD_TIMEOUT = 300.0
BAD_TIMEOUT = 180.0


def read_state(demo: Demo) -> State:
    return State.read(demo.kubectl_json("get", KINDS)["items"], rollout=ROLLOUT)


@dataclass(frozen=True)
class Watched:
    """Every distinct state seen while waiting, with the seconds since the wait began."""

    history: tuple[tuple[float, State], ...]

    @property
    def last(self) -> State:
        return self.history[-1][1]

    @property
    def took(self) -> float:
        return self.history[-1][0]

    def first(self, holds: Callable[[State], bool]) -> float | None:
        """When a state for which `holds` is true was first seen."""
        return next((at for at, state in self.history if holds(state)), None)


def watch(
    demo: Demo,
    *,
    until: Callable[[State], bool],
    fails: Callable[[State], str],
    timeout: float,
) -> Watched:
    """Print each real change until `until` holds; `fails` names an outcome that ends the wait early."""
    started = time.monotonic()
    history: list[tuple[float, State]] = []
    while True:
        state = read_state(demo)
        at = time.monotonic() - started
        if not history or history[-1][1] != state:
            for line in changes(demo.last_seen, state):
                print(f"    {at:6.1f}s  {line}", flush=True)
            history.append((at, state))
            demo.last_seen = state
        if until(state):
            return Watched(tuple(history))
        if demo.sim is not None and (code := demo.sim.process.poll()) is not None:
            raise DemoError(
                f"the traffic simulator exited ({code}): without its requests no analysis can pass"
            )
        if problem := fails(state):
            raise DemoError(f"{problem}\n    last seen: phase {state.phase} step {state.step_text()}")
        if at > timeout:
            raise DemoError(
                f"not there after {timeout:.0f}s; last seen: phase {state.phase}"
                f"{': ' + one_line(state.message) if state.message else ''}, step {state.step_text()},"
                f" {state.weight_text()}"
                + (f"; {len(state.unschedulable)} pod(s) unschedulable" if state.unschedulable else "")
            )
        time.sleep(POLL_SECONDS)


def set_image(demo: Demo, image: str) -> None:
    patch = f'[{{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"{image}"}}]'
    demo.kubectl("patch", "rollout.rollouts.dev", ROLLOUT, "--type=json", "-p", patch)
    print(f"    kubectl patch rollout.rollouts.dev {ROLLOUT}: spec.template image -> {image}", flush=True)


def first_revision(demo: Demo) -> None:
    """The Rollout's first revision has no steps to run: it becomes stable at once."""
    watch(
        demo,
        until=lambda s: s.phase == "Healthy" and bool(s.stable_hash) and s.stable_hash == s.current_hash,
        fails=lambda s: f"the first revision went Degraded: {s.message}" if s.phase == "Degraded" else "",
        timeout=FIRST_TIMEOUT,
    )


def good_version(demo: Demo) -> str:
    """Roll out GOOD_IMAGE; it must be promoted on passing analysis. Returns its pod-template hash."""
    old = read_state(demo).stable_hash
    set_image(demo, GOOD_IMAGE)

    def promoted(s: State) -> bool:
        return s.phase == "Healthy" and s.stable_hash == s.current_hash != old and s.image == GOOD_IMAGE

    def went_wrong(s: State) -> str:
        if s.image != GOOD_IMAGE or s.current_hash == old:
            return ""  # the controller has not seen the new template yet
        run = s.run_for(s.current_hash)
        if s.aborted or s.phase == "Degraded":
            return f"the good version {GOOD_IMAGE} was aborted: {one_line(s.message) or 'no message'}"
        if run is not None and run.phase in ("Failed", "Error", "Inconclusive"):
            return (
                f"the good version {GOOD_IMAGE} was not promoted: its analysis {run.name} ended"
                f" {run.phase}: {one_line(run.message)}"
            )
        return ""

    watched = watch(demo, until=promoted, fails=went_wrong, timeout=GOOD_TIMEOUT)
    state = watched.last
    run = state.run_for(state.current_hash)
    if run is None or run.phase != "Successful":
        found = f"{run.name} is {run.phase}" if run else "none was found"
        raise DemoError(f"the good version was promoted without a Successful AnalysisRun ({found})")
    values = ", ".join(m.value for m in run.measurements)
    demo.story.append(
        f"good {GOOD_IMAGE}: promoted in {watched.took:.0f}s; AnalysisRun {run.name} Successful"
        f" (success-rate {values}); stable is now {state.stable_hash}"
    )
    return state.stable_hash


def _bad_run_exists(s: State, good: str) -> bool:
    return s.current_hash != good and s.run_for(s.current_hash) is not None


def _bad_run(s: State, good: str) -> tuple[Measured, ...]:
    run = s.run_for(s.current_hash) if s.current_hash != good else None
    return run.measurements if run else ()


def bad_version(demo: Demo, *, good: str) -> None:
    """Roll out BAD_IMAGE; its analysis must fail and the controller must send traffic back to `good`."""
    set_image(demo, BAD_IMAGE)

    def bad_run_failed(s: State) -> bool:
        run = s.run_for(s.current_hash) if s.current_hash != good else None
        return run is not None and run.phase in ("Failed", "Error")

    def rolled_back(s: State) -> bool:
        return (
            s.image == BAD_IMAGE
            and s.aborted
            and s.phase == "Degraded"
            and bad_run_failed(s)
            and s.canary_weight in (0, None)
            and s.stable_hash == good
            and s.stable_selector == good
        )

    def went_wrong(s: State) -> str:
        if s.stable_hash and s.stable_hash != good:
            return f"the bad version {BAD_IMAGE} was promoted: stable is now {s.stable_hash}"
        if s.stable_selector and s.stable_selector != good:
            return f"the stable Service {s.stable_service} was switched to {s.stable_selector}"
        return ""

    watched = watch(demo, until=rolled_back, fails=went_wrong, timeout=BAD_TIMEOUT)
    state = watched.last
    run = state.run_for(state.current_hash)
    assert run is not None  # rolled_back() holds
    failing = [m for m in run.measurements if m.phase in ("Failed", "Error")]
    measured = f" on {failing[0].text(why=False)}" if failing else ""
    weight = "0" if state.canary_weight == 0 else "gone (no canary Ingress)"
    caught = watched.first(lambda s: any(m.phase in ("Failed", "Error") for m in _bad_run(s, good)))
    # Weight 0 once this revision's run exists (its weight was 20 by then): the controller moves traffic
    # back before it writes the abort to the status, so the Ingress may show it a poll earlier.
    back = watched.first(lambda s: _bad_run_exists(s, good) and s.canary_weight in (0, None))
    seen = f"failing measurement seen at +{caught:.1f}s, " if caught is not None else ""
    demo.story.append(
        f"bad {BAD_IMAGE}: AnalysisRun {run.name} {run.phase}{measured}; {seen}canary weight {weight}"
        f" at +{back or watched.took:.1f}s after the update (polled every {POLL_SECONDS}s); stable Service"
        f" {state.stable_service} still selects {good}; phase {state.phase}"
    )
    print(
        f"    rolled back: canary weight {weight} in the canary Ingress, stable Service"
        f" {state.stable_service} still on {good}, phase {state.phase}",
        flush=True,
    )
