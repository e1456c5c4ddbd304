"""The simulator process's I/O: the poll and tick threads, the HTTP endpoint, the scrape registration.

Everything here is thin on purpose; decisions live in `simulation`. Three threads share one lock:
the poll thread reads the cluster every `poll_interval` (0.5 s) and replaces the streams; the tick
thread advances the counters every `tick_interval` (100 ms); the HTTP server renders them on a scrape.
A failed poll keeps the last picture (and is counted), so an API-server hiccup does not zero traffic.
"""

from __future__ import annotations

import http.server
import json
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from e2e.cluster.scrape import register_target
from e2e.simulator.exposition import CONTENT_TYPE
from e2e.simulator.mix import RequestClass
from e2e.simulator.observer import Observer
from e2e.simulator.simulation import DEFAULT_RATE, Simulation

log = logging.getLogger("e2e.simulator")


@dataclass(frozen=True)
class Settings:
    """What one simulator process watches, and how it serves and registers itself."""

    kubeconfig: str | None
    namespaces: tuple[str, ...]
    port: int = 0
    host: str = "127.0.0.1"
    rate: float = DEFAULT_RATE
    targets_dir: str | None = None
    name: str = "traffic-simulator"
    poll_interval: float = 0.5
    tick_interval: float = 0.1
    # Tagged requests besides the plain ones (`mix`); none: plain requests only, as always.
    request_classes: tuple[RequestClass, ...] = ()


class Runner:
    """A running simulator: `start()`, then `stop()` (which also removes the scrape registration)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.simulation = Simulation(rate=settings.rate, request_classes=settings.request_classes)
        self.lock = threading.Lock()
        self.poll_errors = 0
        self.last_error = ""
        self._stop = threading.Event()
        self._observer = Observer(kubeconfig=settings.kubeconfig, namespaces=list(settings.namespaces))
        self._server = http.server.ThreadingHTTPServer((settings.host, settings.port), self._handler())
        self._server.daemon_threads = True
        self._threads: list[threading.Thread] = []
        self.registration: Path | None = None

    @property
    def address(self) -> str:
        return f"{self.settings.host}:{self._server.server_address[1]}"

    def start(self) -> None:
        self._poll_once()
        with self.lock:
            self.simulation.tick(time.monotonic())
        for target in (self._poll_loop, self._tick_loop, self._server.serve_forever):
            thread = threading.Thread(target=target, daemon=True, name=f"simulator-{target.__name__}")
            thread.start()
            self._threads.append(thread)
        if self.settings.targets_dir:
            self.registration = register_target(
                self.settings.targets_dir,
                name=self.settings.name,
                address=self.address,
                labels={"simulator": self.settings.name},
            )

    def stop(self) -> None:
        if self.registration is not None:
            self.registration.unlink(missing_ok=True)
            self.registration = None
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()
        self._observer.close()

    def _poll_once(self) -> None:
        try:
            view = self._observer.observe()
        except Exception as exc:  # keep the last picture; say why in /healthz and the log
            self.poll_errors += 1
            self.last_error = f"{type(exc).__name__}: {exc}"
            log.warning("reading the cluster failed (keeping the last routing picture): %s", self.last_error)
            return
        with self.lock:
            self.simulation.observe(view)

    def _poll_loop(self) -> None:
        while not self._stop.wait(self.settings.poll_interval):
            self._poll_once()

    def _tick_loop(self) -> None:
        while not self._stop.wait(self.settings.tick_interval):
            with self.lock:
                self.simulation.tick(time.monotonic())

    def metrics(self) -> str:
        with self.lock:
            body = self.simulation.exposition()
        return body + (
            "# HELP traffic_simulator_poll_errors_total Failed reads of the cluster\n"
            "# TYPE traffic_simulator_poll_errors_total counter\n"
            f"traffic_simulator_poll_errors_total {self.poll_errors}\n"
        )

    def streams(self) -> list[dict[str, object]]:
        with self.lock:
            return [
                {"family": s.family, "labels": dict(s.labels), "rate": s.rate, "profile": s.profile.name}
                for s in self.simulation.streams
            ]

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        runner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/metrics":
                    self._send(200, runner.metrics(), CONTENT_TYPE)
                elif self.path == "/streams":
                    self._send(200, json.dumps(runner.streams(), indent=1), "application/json")
                elif self.path == "/healthz":
                    healthy = runner.simulation.observations > 0
                    self._send(200 if healthy else 503, "ok\n" if healthy else f"{runner.last_error}\n")
                else:
                    self._send(404, "try /metrics, /streams or /healthz\n")

            def _send(self, code: int, body: str, content_type: str = "text/plain") -> None:
                data = body.encode()
                self.send_response(code)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        return Handler
