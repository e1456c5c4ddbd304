"""A stand-in for Prometheus' HTTP API on 127.0.0.1, answering what each test scripts.

prometheus-api-client talks through ``requests`` and offers no transport seam, so its unit
tests give it a real socket: each test sets the status, JSON body and delay of the next answers
(or, with ``answer_query``, of the answers to one query: the judge asks two) and reads back the
requests received (path, query, headers, and every parameter: a range query's start, end and
step). The integration tests use the real Prometheus instead.
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
    params: dict[str, str] = field(default_factory=dict)


@dataclass
class FakePrometheus:
    address: str = ""
    status: int = 200
    body: Any = field(default_factory=lambda: vector(1.0))
    delay: float = 0.0
    received: list[Received] = field(default_factory=list)
    by_query: dict[str, tuple[int, Any]] = field(default_factory=dict)

    def answer(self, body: Any, *, status: int = 200, delay: float = 0.0) -> None:
        self.body, self.status, self.delay = body, status, delay

    def answer_query(self, query: str, body: Any, *, status: int = 200) -> None:
        """Answer ``query`` with ``body`` (other queries get the default answer)."""
        self.by_query[query] = (status, body)


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


def series(*values: float | str, start: float = 1714564800.0, step: float = 30.0) -> dict[str, Any]:
    """One series of a matrix: ``values`` at ``start``, ``start + step``, ..."""
    return {"metric": {}, "values": [[start + i * step, str(v)] for i, v in enumerate(values)]}


def matrix_of(*items: dict[str, Any]) -> dict[str, Any]:
    """A range query's answer holding these series (see :func:`series`)."""
    return {"status": "success", "data": {"resultType": "matrix", "result": list(items)}}


def bad_query(message: str) -> dict[str, Any]:
    return {"status": "error", "errorType": "bad_data", "error": message}


@contextmanager
def fake_prometheus(*, tls: bool = False) -> Iterator[FakePrometheus]:
    """``tls``: answer over HTTPS with a self-signed certificate (for ``insecure``)."""
    fake = FakePrometheus()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlparse(self.path)
            params = {name: values[0] for name, values in parse_qs(url.query).items()}
            query = params.get("query", "")
            fake.received.append(Received(url.path, query, dict(self.headers.items()), params))
            if fake.delay:
                time.sleep(fake.delay)
            status, body = fake.by_query.get(query, (fake.status, fake.body))
            payload = json.dumps(body).encode()
            try:
                self.send_response(status)
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
