"""Terminal styling: colors and status icons, or plain text when color is off.

Color is on only when stdout is a terminal, ``--no-color`` is not given and ``NO_COLOR`` is not
set (https://no-color.org), so piped output, CI logs and golden files stay plain. Renderers take a
:class:`Style` rather than checking the terminal themselves, which keeps them pure.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import TextIO

__all__ = ["PLAIN", "Style", "color_wanted"]

_CODES = {
    "green": "32",
    "red": "31",
    "yellow": "33",
    "blue": "34",
    "cyan": "36",
    "gray": "90",
    "bold": "1",
}

#: Icons of each phase (and of the phases of ReplicaSets, pods and AnalysisRuns), as Argo's plugin
#: uses them, so people who know one read the other.
_ICONS = {
    "Healthy": ("✔", "green"),
    "Successful": ("✔", "green"),
    "Running": ("◌", "blue"),
    "Progressing": ("◌", "yellow"),
    "Pending": ("◌", "yellow"),
    "Paused": ("॥", "gray"),
    "Degraded": ("✖", "red"),
    "Failed": ("✖", "red"),
    "Error": ("⚠", "red"),
    "Inconclusive": ("⚠", "yellow"),
    "ScaledDown": ("•", "gray"),
    "Terminating": ("◌", "gray"),
    "Unknown": ("?", "gray"),
}


def color_wanted(*, no_color: bool, stream: TextIO | None = None) -> bool:
    """Whether to color output written to ``stream`` (stdout by default)."""
    if no_color or os.environ.get("NO_COLOR"):
        return False
    stream = stream if stream is not None else sys.stdout
    return bool(getattr(stream, "isatty", lambda: False)())


@dataclass(frozen=True)
class Style:
    """Wraps text in ANSI colors when ``color`` is True; otherwise returns it unchanged."""

    color: bool = False

    def paint(self, text: str, color: str) -> str:
        if not self.color or not text:
            return text
        return f"\033[{_CODES[color]}m{text}\033[0m"

    def bold(self, text: str) -> str:
        return self.paint(text, "bold")

    def icon(self, phase: str) -> str:
        """The icon of a phase, colored; ``?`` for a phase it does not know."""
        glyph, color = _ICONS.get(phase, _ICONS["Unknown"])
        return self.paint(glyph, color)

    def status(self, phase: str, *, looks_like: str | None = None) -> str:
        """``✔ Healthy``: icon and phase, in the phase's color (or in those of ``looks_like``)."""
        shown = looks_like or phase
        _, color = _ICONS.get(shown, _ICONS["Unknown"])
        return f"{self.icon(shown)} {self.paint(phase, color)}"


PLAIN = Style(color=False)
