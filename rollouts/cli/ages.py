"""Ages as kubectl prints them (``45s``, ``3m20s``, ``17m``, ``5h3m``, ``4d``), from a given ``now``.

``now`` is always a parameter, never read here, so rendered output is a pure function of the
objects and the moment: golden tests fix it and get the same text every time.
"""

from __future__ import annotations

from datetime import datetime

__all__ = ["age"]


def age(since: datetime | None, now: datetime) -> str:
    """How long ago ``since`` was, in kubectl's short style; ``<unknown>`` without a time."""
    if since is None:
        return "<unknown>"
    seconds = max(0, int((now - since).total_seconds()))
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if seconds < 120:
        return f"{seconds}s"
    if minutes < 10:
        return f"{minutes}m{seconds % 60}s" if seconds % 60 else f"{minutes}m"
    if hours < 3:
        return f"{minutes}m"
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if days < 2:
        return f"{hours}h"
    if days < 8:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    return f"{days}d"
