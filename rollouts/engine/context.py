"""The per-pass context both step machines work on: what was observed, and the status being built.

A pass reads the snapshot once into a :class:`PassContext` (which ReplicaSet is new, which is
stable, which are older; the previous status) and then runs a straight list of small rules over
it. Rules write into ``ctx.draft`` (the next status, as a mutable working copy) and ``ctx.plan``
(actions, events, wake-ups). Only ``outcome.finish`` turns them into an immutable
:class:`~rollouts.engine.plan.Plan`, so there is exactly one status write per pass.

The status is typed end to end: :func:`draft_from` reads the previous
:class:`~rollouts.api.status.RolloutStatus` into the draft and ``outcome.finish`` builds the next
one from it, both with the API models' own constructors, so ``mypy --strict`` checks every field
name on the way in and out. Those are the only two places that map between draft and status; a
run reference *is* the API's :class:`~rollouts.api.status.RolloutAnalysisRunStatus`, not a copy.

Everything the next pass needs is in the draft, hence in ``status``: a crash between passes loses
nothing, and the next pass resumes from the cluster and the status alone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from rollouts.api.enums import PauseReason, PingPongRole
from rollouts.api.rollout import Rollout
from rollouts.api.status import RolloutAnalysisRunStatus, RolloutStatus
from rollouts.api.strategy import PodMetadata
from rollouts.api.traffic_routing import RolloutTrafficRouting
from rollouts.engine.hashing import pod_template_hash, replica_set_name
from rollouts.engine.plan import CreateReplicaSet, InjectedAntiAffinity, Plan, PlanBuilder, ScaleReplicaSet
from rollouts.engine.snapshot import ObservedReplicaSet, Snapshot
from rollouts.engine.status import PROGRESSING, Reason, find_condition

__all__ = ["Draft", "PassContext", "RunRef", "pod_metadata_key"]

RunRef = RolloutAnalysisRunStatus
"""What the status remembers of an AnalysisRun (name, last phase, message): the API model itself.

An empty message is ``None``, never ``""``, exactly as it is written to the status.
"""


@dataclass
class Draft:
    """The next status as a mutable working copy; rules change it, ``outcome.finish`` freezes it.

    It is not a field-by-field mirror of the status: pause conditions are a dict keyed by reason
    (rules add, drop and test reasons), the traffic split is just the canary weight (the rest of
    ``canary.weights`` is derived at the end of the pass), strings are ``""`` rather than ``None``
    where rules compare them, and run references are the API model itself.
    """

    current_pod_hash: str = ""
    current_step_hash: str | None = None
    stable_rs: str = ""
    current_step_index: int | None = None
    pause_conditions: dict[PauseReason, datetime] = field(default_factory=dict)
    controller_pause: bool = False
    abort: bool = False
    aborted_at: datetime | None = None
    promote_full: bool = False
    collision_count: int | None = None
    canary_weight: int | None = None
    traffic_routing: RolloutTrafficRouting | None = None
    stable_ping_pong: PingPongRole | None = None
    step_run: RunRef | None = None
    background_run: RunRef | None = None
    experiment: RunRef | None = None
    active_selector: str = ""
    preview_selector: str = ""
    pre_run: RunRef | None = None
    post_run: RunRef | None = None
    restarted_at: datetime | None = None

    def pause(self, reason: PauseReason, now: datetime) -> None:
        """Add a pause condition (keeping its first start time) and remember the controller paused."""
        self.pause_conditions.setdefault(reason, now)
        self.controller_pause = True

    def unpause(self, reason: PauseReason) -> None:
        self.pause_conditions.pop(reason, None)

    def clear_pauses(self) -> None:
        self.pause_conditions.clear()
        self.controller_pause = False

    def clear_runs(self) -> None:
        """Forget every current AnalysisRun (they are terminated unless a rule names them again)."""
        self.step_run = self.background_run = self.pre_run = self.post_run = None
        self.experiment = None

    def restart_update(self) -> None:
        """Start the update over: no pause, no abort, no promote-full, no analysis verdicts."""
        self.clear_pauses()
        self.abort, self.aborted_at, self.promote_full = False, None, False
        self.clear_runs()


def _run_ref(run: RunRef | None) -> RunRef | None:
    """The run as the draft keeps it: an empty message read back as ``None`` (as it is written)."""
    if run is None or run.message is None or run.message:
        return run
    return RunRef(name=run.name, status=run.status)


def pod_metadata_key(metadata: PodMetadata | None) -> str | None:
    """The side's metadata as the ReplicaSet's annotation records it: canonical JSON, ``None``
    when there is nothing to add."""
    dumped = {} if metadata is None else metadata.model_dump(exclude_none=True)
    dumped = {k: v for k, v in dumped.items() if v}
    return json.dumps(dumped, sort_keys=True, separators=(",", ":")) if dumped else None


def draft_from(status: RolloutStatus) -> Draft:
    """Read the previous status into a draft (the starting point of this pass)."""
    canary, blue_green = status.canary, status.blue_green
    weights = canary.weights if canary is not None else None
    return Draft(
        current_pod_hash=status.current_pod_hash or "",
        current_step_hash=status.current_step_hash,
        stable_rs=status.stable_rs or "",
        current_step_index=status.current_step_index,
        pause_conditions={cond.reason: cond.start_time for cond in status.pause_conditions or ()},
        controller_pause=bool(status.controller_pause),
        abort=bool(status.abort),
        aborted_at=status.aborted_at,
        promote_full=bool(status.promote_full),
        collision_count=status.collision_count,
        canary_weight=weights.canary.weight if weights is not None else None,
        traffic_routing=canary.traffic_routing if canary is not None else None,
        stable_ping_pong=canary.stable_ping_pong if canary is not None else None,
        step_run=_run_ref(canary.current_step_analysis_run_status) if canary else None,
        background_run=_run_ref(canary.current_background_analysis_run_status) if canary else None,
        experiment=_run_ref(canary.current_experiment) if canary else None,
        active_selector=(blue_green.active_selector or "") if blue_green else "",
        preview_selector=(blue_green.preview_selector or "") if blue_green else "",
        pre_run=_run_ref(blue_green.pre_promotion_analysis_run_status) if blue_green else None,
        post_run=_run_ref(blue_green.post_promotion_analysis_run_status) if blue_green else None,
        restarted_at=status.restarted_at,
    )


@dataclass
class PassContext:
    """One pass over one Rollout: the snapshot, its reading, the draft status and the plan."""

    snap: Snapshot
    plan: PlanBuilder
    old: RolloutStatus
    draft: Draft
    desired_hash: str
    new_rs: ObservedReplicaSet | None
    stable_rs: ObservedReplicaSet | None
    older: tuple[ObservedReplicaSet, ...]
    sizes: dict[str, int] = field(default_factory=dict)
    """Planned ``spec.replicas`` per ReplicaSet name, so later rules see earlier rules' scaling."""
    abort_message: str = ""
    """Why the update is aborted (this pass's reason, or the one the status recorded)."""
    timed_out: bool = False
    """The progress deadline passed without progress (phase Degraded)."""
    retried: bool = False
    """The user cleared ``status.abort`` after an abort: this pass starts the update again."""

    @classmethod
    def start(cls, snap: Snapshot) -> PassContext:
        rollout = snap.rollout
        old = rollout.status or RolloutStatus()
        draft = draft_from(old)
        desired = pod_template_hash(rollout.spec.pod_template, collision_count=draft.collision_count)
        new_rs = snap.replica_set(desired)
        stable_rs = snap.replica_set(draft.stable_rs) if draft.stable_rs != desired else new_rs
        known = {desired, draft.stable_rs}
        older = tuple(
            sorted(
                (rs for rs in snap.replica_sets if rs.pod_template_hash not in known),
                key=lambda rs: (-rs.revision, rs.name),
            )
        )
        return cls(
            snap=snap,
            plan=PlanBuilder(now=snap.now),
            old=old,
            draft=draft,
            desired_hash=desired,
            new_rs=new_rs,
            stable_rs=stable_rs,
            older=older,
        )

    # --- facts --------------------------------------------------------------------------------

    @property
    def rollout(self) -> Rollout:
        return self.snap.rollout

    @property
    def now(self) -> datetime:
        return self.snap.now

    @property
    def name(self) -> str:
        return self.rollout.metadata.name or "rollout"

    @property
    def new_rs_name(self) -> str:
        """The name of the desired revision's ReplicaSet (whether or not it exists yet)."""
        return replica_set_name(self.rollout.metadata.name, self.desired_hash)

    @property
    def replicas(self) -> int:
        return self.rollout.spec.replicas

    def size(self, rs: ObservedReplicaSet | None) -> int:
        """The planned size of ``rs`` (its observed size unless this pass scaled it)."""
        if rs is None:
            return 0
        return self.sizes.get(rs.name, rs.replicas)

    def available(self, rs: ObservedReplicaSet | None) -> bool:
        """Fully available: every pod it has and every pod it is planned to have is available.

        Traffic is only ever sent to a ReplicaSet for which this holds; a ReplicaSet this pass
        scales up is not available until its new pods are, so traffic waits for a later pass.
        """
        if rs is None:
            return False
        size = self.size(rs)
        return size > 0 and rs.replicas >= size and rs.available >= rs.replicas

    # --- abort and retry ----------------------------------------------------------------------

    def abort_with(self, message: str) -> None:
        """Abort the update now (analysis failed, or the progress deadline asked for it)."""
        draft = self.draft
        if draft.abort:
            return
        draft.abort, draft.aborted_at = True, self.now
        self.abort_message = message
        self.plan.event("RolloutAborted", message, warning=True)

    def read_abort_state(self) -> None:
        """Stamp a user's abort, notice a retry, or recall why the update aborted.

        ``status.abort: true`` written without ``abortedAt`` (a plain ``kubectl patch`` of the
        status) gets ``abortedAt = now`` on the first pass that sees it, exactly what
        ``kubectl rollouts abort`` writes: the abort scale-down delay counts from it, and a later
        retry (``abort`` cleared, ``abortedAt`` kept) is told from "never aborted" by it.
        A retry starts the update over with fresh analysis; while aborted, the reason recorded in
        the ``Progressing`` condition stays the phase message.
        """
        draft = self.draft
        if draft.abort and draft.aborted_at is None:
            draft.aborted_at = self.now
        if not draft.abort and draft.aborted_at is not None:
            self.retried = True
            draft.aborted_at = None
            draft.clear_runs()
            draft.clear_pauses()
            self.plan.event("RolloutRetried", "Abort cleared: retrying the update from the start")
        if draft.abort:
            previous = find_condition(self.old.conditions or (), PROGRESSING)
            if previous is not None and previous.reason == Reason.ABORTED:
                self.abort_message = previous.message or ""

    # --- actions ------------------------------------------------------------------------------

    def ensure_new_rs(self, *, replicas: int) -> ObservedReplicaSet:
        """The ReplicaSet of the desired revision, planning its creation when it is missing."""
        if self.new_rs is not None:
            return self.new_rs
        revision = max((rs.revision for rs in self.snap.replica_sets), default=0) + 1
        name = self.new_rs_name
        anti_affinity = self._anti_affinity()
        stable_side, new_side = self.side_metadata()
        becomes_stable = self.stable_rs is None or self.draft.stable_rs == self.desired_hash
        pod_metadata = pod_metadata_key(stable_side if becomes_stable else new_side)
        self.plan.add(
            CreateReplicaSet(
                name=name,
                pod_template_hash=self.desired_hash,
                replicas=replicas,
                revision=revision,
                anti_affinity=anti_affinity,
                pod_metadata=pod_metadata,
            )
        )
        self.plan.event("ScalingReplicaSet", f"Created ReplicaSet {name} with {replicas} replicas")
        self.new_rs = ObservedReplicaSet(
            name=name,
            pod_template_hash=self.desired_hash,
            replicas=0,
            revision=revision,
            created=self.now,
            anti_affinity_to=None if anti_affinity is None else anti_affinity.stable_hash,
            pod_metadata=pod_metadata,
        )
        self.sizes[name] = replicas
        return self.new_rs

    def side_metadata(self) -> tuple[PodMetadata | None, PodMetadata | None]:
        """The ephemeral pod metadata of the (stable, new) sides (``pod_metadata_sides``)."""
        (_, stable), (_, new) = self.rollout.spec.strategy.pod_metadata_sides()
        return stable, new

    def _anti_affinity(self) -> InjectedAntiAffinity | None:
        """The term a new ReplicaSet gets when the strategy asks for ``antiAffinity`` and a stable
        revision with pods runs beside it."""
        strategy = self.rollout.spec.strategy
        spec = strategy.canary or strategy.blue_green
        wanted = spec.anti_affinity if spec is not None else None
        stable = self.stable_rs
        if wanted is None or stable is None or stable.pod_template_hash == self.desired_hash:
            return None
        return InjectedAntiAffinity(stable_hash=stable.pod_template_hash, weight=wanted.weight)

    def scale(self, rs: ObservedReplicaSet | None, replicas: int) -> None:
        """Plan ``rs`` at ``replicas`` pods, unless it already is (or is already planned so)."""
        if rs is None or self.size(rs) == replicas:
            return
        previous = rs.replicas
        self.sizes[rs.name] = replicas
        if replicas == previous:
            return
        self.plan.add(
            ScaleReplicaSet(
                name=rs.name, pod_template_hash=rs.pod_template_hash, replicas=replicas, previous=previous
            )
        )
        direction = "up" if replicas > previous else "down"
        self.plan.event(
            "ScalingReplicaSet", f"Scaled {direction} ReplicaSet {rs.name} from {previous} to {replicas}"
        )

    # --- end of pass --------------------------------------------------------------------------

    def finish(self, status: RolloutStatus) -> Plan:
        return self.plan.build(status)
