"""The error of an AnalysisRun that cannot be built, shared by the modules that build one."""

from __future__ import annotations

__all__ = ["AnalysisRunError"]


class AnalysisRunError(ValueError):
    """The run a Rollout asks for cannot be built; the message says where and how to fix it."""
