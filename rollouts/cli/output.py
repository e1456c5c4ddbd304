"""``-o json|yaml``: the same data for scripts, in the format asked for."""

from __future__ import annotations

import json
from typing import Any

import yaml

from rollouts.cli.options import OutputFormat

__all__ = ["dump"]


def dump(data: Any, fmt: OutputFormat) -> str:
    if fmt == "json":
        return json.dumps(data, indent=2, sort_keys=False) + "\n"
    return str(yaml.safe_dump(data, sort_keys=False))
