"""A stand-in for Prometheus' HTTP API on 127.0.0.1, answering what each test scripts.

prometheus-api-client talks through ``requests`` and offers no transport seam, so its unit
tests give it a real socket: each test sets the status, JSON body and delay of the next answers
and reads back the requests received (path, query, headers). The integration tests use the
real Prometheus instead.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from tests.unit.metrics.tls import serve_self_signed


@dataclass
class Received:
    path: str
    query: str
    headers: dict[str, str]


@dataclass
class FakePrometheus:
    address: str = ""
    status: int = 200
    body: Any = field(default_factory=lambda: vector(1.0))
    delay: float = 0.0
    received: list[Received] = field(default_factory=list)

    def answer(self, body: Any, *, status: int = 200, delay: float = 0.0) -> None:
        self.body, self.status, self.delay = body, status, delay


def vector(*values: float | str) -> dict[str, Any]:
    result = [{"metric": {"i": str(i)}, "value": [1714564800.0, str(v)]} for i, v in enumerate(values)]
    return {"status": "success", "data": {"resultType": "vector", "result": result}}


def scalar(value: float | str) -> dict[str, Any]:
    return {"status": "success", "data": {"resultType": "scalar", "result": [1714564800.0, str(value)]}}


def string(value: str) -> dict[str, Any]:
    return {"status": "success", "data": {"resultType": "string", "result": [1714564800.0, value]}}


def matrix(*values: float) -> dict[str, Any]:
    samples = [[1714564800.0 + i, str(v)] for i, v in enumerate(values)]
    return {
        "status": "success",
        "data": {"resultType": "matrix", "result": [{"metric": {}, "values": samples}]},
    }


def bad_query(message: str) -> dict[str, Any]:
    return {"status": "error", "errorType": "bad_data", "error": message}


@contextmanager
def fake_prometheus(*, tls: bool = False) -> Iterator[FakePrometheus]:
    """``tls``: answer over HTTPS with a self-signed certificate (for ``insecure``)."""
    fake = FakePrometheus()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlparse(self.path)
            query = parse_qs(url.query).get("query", [""])[0]
            fake.received.append(Received(url.path, query, dict(self.headers.items())))
            if fake.delay:
                time.sleep(fake.delay)
            payload = json.dumps(fake.body).encode()
            try:
                self.send_response(fake.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except OSError:
                pass  # the client gave up (timeout test)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    if tls:
        serve_self_signed(server)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    fake.address = f"{'https' if tls else 'http'}://127.0.0.1:{server.server_address[1]}"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
