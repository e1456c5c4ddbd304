"""Turn a JSON-like Python value into a Lua table constructor, as Argo CD hands objects to health scripts.

Argo CD decodes the live object from JSON, so every number reaches the script as a float (gopher-lua's
only number type); the encoder writes numbers as floats too, so the script is tested with what it gets
in production. ``None`` values are left out (a missing key reads as ``nil`` in Lua either way).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any


def lua_string(text: str) -> str:
    """A double-quoted Lua string; anything outside printable ASCII becomes a decimal byte escape."""
    out = []
    for byte in text.encode():
        char = chr(byte)
        if char in '"\\':
            out.append("\\" + char)
        elif 32 <= byte < 127:
            out.append(char)
        else:
            out.append(f"\\{byte:03d}")
    return '"' + "".join(out) + '"'


def to_lua(value: Any) -> str:
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        number = float(value)
        if not math.isfinite(number):
            raise ValueError(f"JSON has no {value!r}")
        return repr(number)
    if isinstance(value, str):
        return lua_string(value)
    if isinstance(value, Mapping):
        items = [f"[{lua_string(str(k))}]={to_lua(v)}" for k, v in value.items() if v is not None]
        return "{" + ", ".join(items) + "}"
    if isinstance(value, Sequence):
        return "{" + ", ".join(to_lua(v) for v in value) + "}"
    raise TypeError(f"cannot encode {type(value).__name__} for Lua")
