"""``-w``: show a view again and again until interrupted (or until the caller says it is done).

On a terminal each frame replaces the last (cursor home, clear screen), so the picture updates
in place. Into a pipe or a file only frames that differ from the last are written, separated by a
blank line, so a log of ``get -w`` is the list of changes rather than a copy per second. A frame
may come with a ``key`` for that comparison (``get`` renders one with ages frozen, so ages that
merely grow do not count as a change).

A watch outlives short API-server outages (a restart, a leader change): a frame that fails with
an error ``transient`` accepts is tried again every ``interval`` for up to ``patience`` seconds
since the last good frame, so ``status -w`` in a CI job does not fail on a blip.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TextIO

__all__ = ["CLEAR", "Frame", "watch"]

CLEAR = "\033[H\033[2J"
INTERVAL_SECONDS = 1.0
PATIENCE_SECONDS = 30.0


Frame = tuple[str, bool] | tuple[str, bool, str]
"""(text, done) or (text, done, key): ``key`` (default: the text) decides whether anything changed."""


def _never(_: Exception) -> bool:
    return False


async def watch(
    frame: Callable[[], Awaitable[Frame]],
    *,
    out: TextIO,
    tty: bool,
    interval: float = INTERVAL_SECONDS,
    transient: Callable[[Exception], bool] = _never,
    patience: float = PATIENCE_SECONDS,
) -> None:
    """Write ``frame()``'s text every ``interval`` until it reports done (its second value)."""
    last: str | None = None
    good = time.monotonic()
    while True:
        try:
            shown = await frame()
        except Exception as exc:
            if not transient(exc) or time.monotonic() - good > patience:
                raise
            await asyncio.sleep(interval)
            continue
        good = time.monotonic()
        text, done = shown[0], shown[1]
        key = shown[2] if len(shown) == 3 else text
        if tty:
            out.write(CLEAR + text)
        elif key != last:
            out.write(("\n" if last is not None else "") + text)
        out.flush()
        last = key
        if done:
            return
        await asyncio.sleep(interval)
