"""An abort written straight into the status (``kubectl patch ... --subresource=status -p
'{"status":{"abort":true}}'``, no ``abortedAt``) works exactly like ``kubectl rollouts abort``.

The engine stamps ``abortedAt = now`` the first time it sees ``abort: true`` without it, so the
abort scale-down delay counts from that pass and clearing ``abort`` later is a retry.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from rollouts.api.enums import RolloutPhase
from rollouts.api.rollout import Rollout
from rollouts.engine import decide
from rollouts.engine.plan import Plan, ScaleReplicaSet
from rollouts.engine.snapshot import Snapshot
from tests.unit.engine.scenario import (
    CANARY_AT_20,
    T0,
    V1,
    V2,
    at,
    bluegreen_rollout,
    canary_rollout,
    mid,
    rs,
    snapshot,
    svc,
)

PREVIEW_READY: dict[str, Any] = {
    "replica_sets": (rs(V1, 3), rs(V2, 3, revision=2)),
    "services": (svc("web-active", V1), svc("web-preview", V2)),
}


def _canary(**status: Any) -> Rollout:
    return canary_rollout(status=mid(1, **status))


def _bluegreen(**status: Any) -> Rollout:
    base = {"currentPodHash": V2, "stableRS": V1, "blueGreen": {"activeSelector": V1}}
    return bluegreen_rollout(status=base | status)


Strategy = tuple[Callable[..., Rollout], dict[str, Any], int]
"""(Rollout with extra status fields, its cluster, pods of the new revision)."""
STRATEGIES = [
    pytest.param((_canary, CANARY_AT_20, 2), id="canary"),
    pytest.param((_bluegreen, PREVIEW_READY, 3), id="blue-green"),
]


def _pass(strategy: Strategy, now: datetime, **status: Any) -> Plan:
    make, world, _ = strategy
    return decide(snapshot(make(**status), now=now, **world))


def _next(strategy: Strategy, plan: Plan, now: datetime, **overrides: Any) -> Plan:
    """The pass after ``plan``, its status written back (with ``overrides``, as a user would)."""
    make, world, _ = strategy
    status = plan.status.model_copy(update=overrides)
    return decide(Snapshot(rollout=make().model_copy(update={"status": status}), now=now, **world))


def _scaled_down(plan: Plan, pods: int) -> bool:
    return ScaleReplicaSet(name=f"web-{V2}", pod_template_hash=V2, replicas=0, previous=pods) in plan.actions


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize(
    ("status", "now", "aborted_at", "wake_at"),
    [
        ({"abort": True}, at(5), at(5), at(35)),  # a bare patch: stamped with this pass's now
        ({"abort": True, "abortedAt": T0}, at(5), T0, at(30)),  # the CLI's abort: kept as written
        ({"abort": True}, at(40), at(40), at(70)),  # a late first look still gives the full delay
    ],
)
def test_abort_at_is_stamped_once_and_the_delay_counts_from_it(
    strategy: Strategy, status: dict[str, Any], now: datetime, aborted_at: datetime, wake_at: datetime
) -> None:
    plan = _pass(strategy, now, **status)
    assert plan.status.abort and plan.status.aborted_at == aborted_at
    assert plan.status.phase is RolloutPhase.DEGRADED
    assert plan.wake_at == wake_at
    assert not _scaled_down(plan, strategy[2])


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_patched_abort_gives_the_same_plan_as_the_cli_abort(strategy: Strategy) -> None:
    patched = _pass(strategy, at(5), abort=True)
    cli = _pass(strategy, at(5), abort=True, abortedAt=at(5))
    assert patched == cli


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_patched_abort_scales_the_new_revision_down_after_the_abort_delay(strategy: Strategy) -> None:
    first = _pass(strategy, at(5), abort=True)
    early = _next(strategy, first, at(34))
    late = _next(strategy, first, at(35))
    assert early.status.aborted_at == at(5) and not _scaled_down(early, strategy[2])
    assert late.status.aborted_at == at(5) and _scaled_down(late, strategy[2])


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_clearing_a_patched_abort_is_a_retry(strategy: Strategy) -> None:
    first = _pass(strategy, at(5), abort=True)
    retry = _next(strategy, first, at(10), abort=None)
    assert not retry.status.abort and retry.status.aborted_at is None
    assert retry.status.phase is not RolloutPhase.DEGRADED
    assert "RolloutRetried" in [event.reason for event in retry.events]


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_never_aborted_is_not_a_retry(strategy: Strategy) -> None:
    plan = _pass(strategy, at(5))
    assert not plan.status.abort and plan.status.aborted_at is None
    assert "RolloutRetried" not in [event.reason for event in plan.events]
