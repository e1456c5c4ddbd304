"""How long the volume tests may take: a fixed Hypothesis profile and a bound on every example.

The examples are derandomized: every run and every machine tries the same ones, so CI never
depends on what a random search happened to find (a developer exploring further sets
``derandomize=False`` locally). No Hypothesis deadline: a deadline fires only after a slow
example returns and flakes on a busy machine; :func:`bounded` instead fails an example that runs
past :data:`EXAMPLE_SECONDS`, a real hang included.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager

from hypothesis import HealthCheck, settings

VOLUME = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

EXAMPLE_SECONDS = 10.0
"""No example may take longer."""


class Hang(Exception):
    """An example ran past :data:`EXAMPLE_SECONDS`."""


@contextmanager
def bounded(seconds: float = EXAMPLE_SECONDS) -> Iterator[None]:
    """Fail with :class:`Hang` when the block runs longer than ``seconds``."""

    def expired(signum: int, frame: object) -> None:
        raise Hang(f"example took longer than {seconds}s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
