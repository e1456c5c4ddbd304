"""Two replicas, one actor: leader election on a real Lease.

In-process electors race for one Lease on the real API server (exactly one wins; a release hands over
at once; a silent holder is taken over only a lease after it was last seen renewing). Then two real
`kube-rollouts run --leader-elect` processes carry a canary while the leader is SIGKILLed, and
separately SIGTERMed, mid-delivery: the standby takes over (times printed for docs/benchmarks.md),
never acts before it leads, and finishes the delivery.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
from datetime import datetime
from pathlib import Path

import pytest

from e2e.cluster import Cluster
from e2e.cluster.control_plane import audit_log
from rollouts.controller.leader import LeaderElector, LeaseOptions, LostLeadership
from rollouts.kube import KubeClient
from tests.integration.cli.conftest import Plugin, apply, get, plugin, rollout  # noqa: F401 (fixture)
from tests.integration.controller.conftest import ControllerProcess, lease_holder
from tests.support import Kubectl, eventually

FAST = {"lease_seconds": 3.0, "renew_deadline_seconds": 2.0, "retry_seconds": 0.5}


def _options(namespace: str, identity: str) -> LeaseOptions:
    return LeaseOptions(namespace=namespace, name="race", identity=identity, **FAST)


async def test_exactly_one_of_two_candidates_leads_and_a_release_hands_over(
    cluster: Cluster, namespace: str
) -> None:
    async with KubeClient.from_config(kubeconfig=cluster.kubeconfig) as client:
        a, b = (LeaderElector(client, _options(namespace, n)) for n in ("a", "b"))
        first = asyncio.create_task(a.acquire())
        second = asyncio.create_task(b.acquire())
        done, pending = await asyncio.wait({first, second}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
        assert len(done) == 1 and len(pending) == 1
        winner, loser = (a, b) if first in done else (b, a)
        holding = asyncio.create_task(winner.hold())
        await asyncio.sleep(FAST["lease_seconds"] * 2)  # renewed all along: the loser still waits
        assert not next(iter(pending)).done()
        holding.cancel()
        await winner.release()
        started = time.monotonic()
        await asyncio.wait_for(next(iter(pending)), timeout=5)
        assert time.monotonic() - started < FAST["retry_seconds"] * 3  # no waiting out the lease
        assert loser.leading and not winner.leading


async def test_a_holder_that_stops_renewing_is_taken_over_only_after_a_lease(
    cluster: Cluster, namespace: str
) -> None:
    async with KubeClient.from_config(kubeconfig=cluster.kubeconfig) as client:
        silent = LeaderElector(client, _options(namespace, "silent"))
        await silent.acquire()  # and never renews: as if SIGKILLed
        killed = time.monotonic()
        standby = LeaderElector(client, _options(namespace, "standby"))
        await asyncio.wait_for(standby.acquire(), timeout=10)
        waited = time.monotonic() - killed
        assert FAST["lease_seconds"] <= waited < FAST["lease_seconds"] + 2
        # The old holder, should it come back, finds the Lease gone and stops acting.
        with pytest.raises(LostLeadership, match="held by another replica"):
            await asyncio.wait_for(silent.hold(), timeout=5)


def _log_time(proc: ControllerProcess, marker: str) -> datetime:
    for line in proc.logs().splitlines():
        if marker in line:
            return datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f")
    raise AssertionError(f"{marker!r} not in the log of {proc.log_path}")


def _assert_one_writer_at_a_time(cluster: Cluster, namespace: str, *, first: str, then: str) -> None:
    """From the API server's audit log: every write the old leader made in the namespace came before
    the first write of the new one (its takeover of the Lease included), so they never both wrote."""
    writes: list[tuple[str, str]] = []
    for line in audit_log(cluster).read_text().splitlines():
        event = json.loads(line)
        if (event.get("objectRef") or {}).get("namespace") != namespace:
            continue
        agent = str(event.get("userAgent") or "")
        for identity in (first, then):
            if agent == f"kube-rollouts ({identity})":
                writes.append((event["requestReceivedTimestamp"], identity))
    writes.sort()
    writers = [identity for _, identity in writes]
    assert first in writers and then in writers, writers
    switch = writers.index(then)
    assert set(writers[:switch]) == {first} and set(writers[switch:]) == {then}, writes


@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGTERM], ids=["sigkill", "sigterm"])
def test_the_standby_takes_over_a_canary_when_the_leader_stops(
    cluster: Cluster,
    namespace: str,
    kubectl: Kubectl,
    plugin: Plugin,  # noqa: F811 (the fixture imported above)
    rollout_crds: None,
    tmp_path: Path,
    stop: signal.Signals,
) -> None:
    args = ["--leader-elect", "--leader-election-namespace", namespace]  # default timings: 15 s lease
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    leader = ControllerProcess(cluster=cluster, namespace=namespace, log_dir=tmp_path / "a", extra_args=args)
    standby = ControllerProcess(cluster=cluster, namespace=namespace, log_dir=tmp_path / "b", extra_args=args)
    try:
        leader.start()  # first one leads at once
        standby.start(until="waiting to lead")
        assert lease_holder(kubectl, "kube-rollouts") == leader.identity()

        apply(kubectl, rollout("web", steps=[{"setWeight": 34}, {"pause": {}}, {"setWeight": 67}]))
        assert plugin("status", "web", "-w", "--timeout", "60s", timeout=90).returncode == 0
        assert plugin("set", "image", "web", "*=example.com/web:v2").returncode == 0
        eventually(
            lambda: (
                (get(kubectl, "rollout.rollouts.dev", "web").get("status") or {}).get("phase") == "Paused"
            ),
            timeout=60,
            what="the canary to pause at step 1",
        )

        stopped = time.monotonic()
        leader.kill(stop)
        eventually(
            lambda: lease_holder(kubectl, "kube-rollouts") == standby.identity(),
            timeout=30,
            interval=0.1,
            what="takeover",
        )
        takeover = time.monotonic() - stopped
        print(f"\ntakeover after {stop.name}: {takeover:.2f} s")
        if stop is signal.SIGTERM:
            assert takeover < 5, "a released Lease is taken at the next retry, not after a whole lease"
            assert _log_time(leader, "released") <= _log_time(standby, "leading as")
        else:
            assert takeover <= 15 + 2 + 1  # one lease after the last renewal it saw, plus a retry

        _assert_one_writer_at_a_time(cluster, namespace, first=leader.identity(), then=standby.identity())
        # The standby did nothing before it led: its caches start only then.
        before = standby.logs().split("leading as")[0]
        assert "watch caches synced" not in before and f"{namespace}/web" not in before

        assert plugin("promote", "web").returncode == 0
        done = plugin("status", "web", "-w", "--timeout", "90s", timeout=120)
        assert done.returncode == 0 and done.stdout.endswith("✔ Healthy\n"), (
            done.stdout + standby.logs()[-3000:]
        )
    finally:
        leader.kill()
        standby.kill(signal.SIGTERM)
