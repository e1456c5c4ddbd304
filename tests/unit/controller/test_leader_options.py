"""Leader-election timings that would let two replicas act at once are refused, naming the flags."""

from __future__ import annotations

import pytest

from rollouts.controller.leader import LeaseOptions


@pytest.mark.parametrize(("retry", "renew", "lease"), [(2, 8, 5), (2, 15, 15), (0, 1, 2), (3, 2, 15)])
def test_a_renew_deadline_not_shorter_than_the_lease_is_refused(
    retry: float, renew: float, lease: float
) -> None:
    with pytest.raises(ValueError, match=r"--retry-period < --renew-deadline < --lease-duration") as err:
        LeaseOptions(
            namespace="ns",
            identity="me",
            retry_seconds=retry,
            renew_deadline_seconds=renew,
            lease_seconds=lease,
        )
    assert "change one of them" in str(err.value)


def test_the_defaults_are_client_gos() -> None:
    opts = LeaseOptions(namespace="ns", identity="me")
    assert (opts.retry_seconds, opts.renew_deadline_seconds, opts.lease_seconds) == (2.0, 10.0, 15.0)


def test_each_shard_elects_its_own_leader_unless_a_lease_is_named() -> None:
    from rollouts.controller.__main__ import _lease, _parser

    def lease(*flags: str, instance: str | None) -> str:
        args = _parser().parse_args(["run", "--leader-elect", *flags])
        return _lease(args, identity="me", default_namespace="ops", instance_id=instance).name

    assert lease(instance=None) == "kube-rollouts"
    assert lease(instance="blue") == "kube-rollouts-blue"
    assert lease("--leader-election-id", "mine", instance="blue") == "mine"


def test_an_instance_id_that_is_no_label_value_stops_the_start_with_exit_2(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from rollouts.controller.__main__ import main

    assert main(["run", "--instance-id", "a/b", "--kubeconfig", "/nonexistent", "--metrics-port", "-1"]) == 2
