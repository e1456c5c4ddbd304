"""``-w``: show a view again and again until interrupted (or until the caller says it is done).

On a terminal each frame replaces the last (cursor home, clear screen), so the picture updates
in place. Into a pipe or a file only frames that differ from the last are written, separated by a
blank line, so a log of ``get -w`` is the list of changes rather than a copy per second.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TextIO

__all__ = ["CLEAR", "watch"]

CLEAR = "\033[H\033[2J"
INTERVAL_SECONDS = 1.0


async def watch(
    frame: Callable[[], Awaitable[tuple[str, bool]]],
    *,
    out: TextIO,
    tty: bool,
    interval: float = INTERVAL_SECONDS,
) -> None:
    """Write ``frame()``'s text every ``interval`` until it reports done (its second value)."""
    last: str | None = None
    while True:
        text, done = await frame()
        if tty:
            out.write(CLEAR + text)
        elif text != last:
            out.write(("\n" if last is not None else "") + text)
        out.flush()
        last = text
        if done:
            return
        await asyncio.sleep(interval)
