"""Scrape targets for the local Prometheus: register an address, or serve a metrics body and register it.

Prometheus discovers targets from JSON files in the cluster's targets folder, which it watches; a
file is written atomically because Prometheus may read it at any moment. Tests, benchmarks and the
traffic simulator all add their targets through here.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

__all__ = ["register_target", "served_metrics"]


def register_target(
    targets_dir: str | Path, *, name: str, address: str, labels: Mapping[str, str] | None = None
) -> Path:
    """Ask the local Prometheus to scrape `address` (host:port); returns the registration file."""
    folder = Path(targets_dir)
    path = folder / f"{name}.json"
    temporary = folder / f".{name}.tmp"  # not matched by the *.json glob Prometheus reads
    temporary.write_text(json.dumps([{"targets": [address], "labels": dict(labels or {})}]))
    os.replace(temporary, path)
    return path


@contextlib.contextmanager
def served_metrics(
    targets_dir: str | Path,
    body: Callable[[], bytes],
    *,
    name: str,
    labels: Mapping[str, str] | None = None,
) -> Iterator[str]:
    """Serve `body()` in the Prometheus text format on 127.0.0.1 and register it for scraping.

    Yields the address; on exit the registration is removed and the server stopped.
    """

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            payload = body()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, args=(0.1,), daemon=True).start()
    address = f"127.0.0.1:{server.server_address[1]}"
    registration = register_target(targets_dir, name=name, address=address, labels=labels)
    try:
        yield address
    finally:
        registration.unlink(missing_ok=True)
        server.shutdown()
        server.server_close()
