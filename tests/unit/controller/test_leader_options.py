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
