"""Small helpers for integration tests: polling with a bound, kubectl output as JSON."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
Kubectl = Callable[..., subprocess.CompletedProcess[str]]


def eventually(probe: Callable[[], T], *, timeout: float = 30.0, interval: float = 0.25, what: str = "") -> T:
    """Call `probe` until it returns a truthy value or raises no AssertionError; fail after `timeout`.

    The last value or assertion is part of the failure, so a timeout says what was seen instead.
    """
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            value = probe()
            if value:
                return value
            last = value
        except AssertionError as exc:
            last = exc
        if time.monotonic() >= deadline:
            raise AssertionError(
                f"timed out after {timeout:.0f}s waiting for {what or probe}: last saw {last!r}"
            )
        time.sleep(interval)


def kubectl_json(kubectl: Kubectl, *args: str) -> Any:
    return json.loads(kubectl(*args, "-o", "json").stdout)
