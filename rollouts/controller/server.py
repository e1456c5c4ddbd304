"""A minimal HTTP server for ``/metrics`` and ``/healthz`` (and ``/readyz``), on asyncio streams.

Two GET endpoints do not need a web framework; this keeps the controller's memory and start-up
small. ``/healthz`` answers 200 while the event loop runs; ``/readyz`` answers 200 once every
watch cache has synced (503 before), so a Deployment can gate on it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

__all__ = ["serve"]

log = logging.getLogger(__name__)


async def serve(
    *, host: str, port: int, metrics: Callable[[], str], ready: Callable[[], bool]
) -> asyncio.Server:
    """Start serving on ``host:port`` (port 0 picks a free one); returns the started server."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readline(), 10)
            while (await asyncio.wait_for(reader.readline(), 10)) not in (b"\r\n", b"\n", b""):
                pass
            parts = request.decode("latin-1").split()
            path = parts[1].split("?")[0] if len(parts) >= 2 else ""
            status, body, ctype = _route(path, metrics=metrics, ready=ready)
            payload = body.encode()
            writer.write(
                f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(payload)}\r\n"
                "Connection: close\r\n\r\n".encode()
                + payload
            )
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        except Exception:
            log.exception("HTTP handler failed")
        finally:
            writer.close()

    return await asyncio.start_server(handle, host, port)


def _route(path: str, *, metrics: Callable[[], str], ready: Callable[[], bool]) -> tuple[str, str, str]:
    if path == "/metrics":
        return "200 OK", metrics(), "text/plain; version=0.0.4; charset=utf-8"
    if path == "/healthz":
        return "200 OK", "ok\n", "text/plain"
    if path == "/readyz":
        return (
            ("200 OK", "ok\n", "text/plain")
            if ready()
            else ("503 Service Unavailable", "syncing\n", "text/plain")
        )
    return "404 Not Found", "not found\n", "text/plain"
