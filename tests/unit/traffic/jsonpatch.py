"""A minimal RFC 6902 applier (add/replace/remove/test, objects and lists) to check patches in unit tests.

The API server applies the real patches in the integration tests; here it lets a unit test look at the
object a patch produces instead of at the patch's wording.
"""

from __future__ import annotations

import copy
from typing import Any


def _step(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def apply_patch(obj: dict[str, Any], ops: list[dict[str, Any]]) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    for op in ops:
        *parents, last = [_step(t) for t in op["path"].lstrip("/").split("/")]
        target: Any = out
        for token in parents:
            target = target[int(token)] if isinstance(target, list) else target[token]
        key: Any = int(last) if isinstance(target, list) else last
        if op["op"] == "add" and isinstance(target, list):
            if key > len(target):
                raise IndexError(op["path"])
            target.insert(key, copy.deepcopy(op["value"]))  # RFC 6902: add into a list inserts
        elif op["op"] in ("add", "replace"):
            if op["op"] == "replace" and (key not in target if isinstance(target, dict) else False):
                raise KeyError(op["path"])
            target[key] = copy.deepcopy(op["value"])
        elif op["op"] == "remove":
            del target[key]
        elif op["op"] == "test":
            assert target[key] == op["value"], op
        else:
            raise ValueError(f"unsupported op {op['op']}")
    return out
