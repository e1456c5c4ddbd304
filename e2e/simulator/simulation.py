"""The simulator's pure core: the latest view of the cluster, the streams it implies, the counters.

No I/O and no clock reads: the process feeds it observed objects and the current monotonic time, so
tests drive it with hand-written objects and a fake clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from e2e.simulator.backends import NamespaceObjects
from e2e.simulator.counters import Counters
from e2e.simulator.exposition import render
from e2e.simulator.istio import istio_streams
from e2e.simulator.mix import RequestClass, request_mix
from e2e.simulator.nginx import nginx_streams
from e2e.simulator.streams import Stream

DEFAULT_RATE = 50.0


def streams_for(
    view: list[NamespaceObjects], *, rate: float, request_classes: Sequence[RequestClass] = ()
) -> list[Stream]:
    """Every request stream of the watched namespaces: `rate` req/s per stable Ingress and per
    VirtualService, shared by the plain class and the tagged `request_classes` (see `mix`)."""
    mix = request_mix(request_classes)
    streams: list[Stream] = []
    for objects in view:
        streams += nginx_streams(objects, rate=rate, mix=mix)
        streams += istio_streams(objects, rate=rate, mix=mix)
    return streams


@dataclass
class Simulation:
    """Streams from the last observation, advanced into the counters on every tick."""

    rate: float = DEFAULT_RATE
    counters: Counters = field(default_factory=Counters)
    streams: list[Stream] = field(default_factory=list)
    observations: int = 0
    request_classes: tuple[RequestClass, ...] = ()
    _last_tick: float | None = None

    def __post_init__(self) -> None:
        request_mix(self.request_classes)  # a bad mix fails here, not at the first observation

    def observe(self, view: list[NamespaceObjects]) -> None:
        """Replace the routing picture; traffic follows it from the next tick on."""
        self.streams = streams_for(view, rate=self.rate, request_classes=self.request_classes)
        self.observations += 1

    def tick(self, now: float) -> None:
        """Count the requests of the time since the last tick (the first tick only starts the clock)."""
        if self._last_tick is not None:
            self.counters.advance(self.streams, now - self._last_tick)
        self._last_tick = now

    def exposition(self) -> str:
        return render(
            self.counters,
            extra=[
                "# HELP traffic_simulator_observations_total Times the simulator read the router objects",
                "# TYPE traffic_simulator_observations_total counter",
                f"traffic_simulator_observations_total {self.observations}",
                "# HELP traffic_simulator_streams Request streams currently simulated",
                "# TYPE traffic_simulator_streams gauge",
                f"traffic_simulator_streams {len(self.streams)}",
            ],
        )
