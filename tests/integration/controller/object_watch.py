"""Every state the API server's watch shows of the objects of one kind, recorded for assertions.

A poll every 0.2 s can miss a state that lasts one watch event (a forced apply resetting a selector
that the controller writes again 10 ms later). ``kubectl get KIND --watch`` cannot: the API server
sends every change, so a test that asserts on ``states`` sees what any client (kube-proxy, the
ingress controller) could have acted on.
"""

from __future__ import annotations

import json
import subprocess
import threading
from pathlib import Path
from typing import Any

from e2e.cluster import Cluster


class ObjectWatch:
    """``kubectl get KIND --watch -o json`` in the background; ``states(name)`` in arrival order."""

    def __init__(self, cluster: Cluster, namespace: str, kind: str) -> None:
        self.kind = kind
        self._states: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._proc = subprocess.Popen(
            [
                str(Path(cluster.bin_dir) / "kubectl"),
                f"--kubeconfig={cluster.kubeconfig}",
                f"--namespace={namespace}",
                "get",
                kind,
                "--watch",
                "--output-watch-events",
                "-o",
                "json",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self._proc.stdout is not None
        decoder = json.JSONDecoder()
        buffer = ""
        for line in self._proc.stdout:
            buffer += line
            while buffer.strip():
                try:
                    event, end = decoder.raw_decode(buffer.lstrip())
                except json.JSONDecodeError:
                    break  # the object is not complete yet
                buffer = buffer.lstrip()[end:]
                with self._lock:
                    self._states.append(event.get("object") or {})

    def states(self, name: str) -> list[dict[str, Any]]:
        with self._lock:
            return [obj for obj in self._states if (obj.get("metadata") or {}).get("name") == name]

    def stop(self) -> None:
        self._proc.terminate()
        self._proc.wait(timeout=10)
        self._reader.join(timeout=10)


def distinct(values: list[Any]) -> list[Any]:
    """``values`` with consecutive repeats removed: the sequence of changes."""
    out: list[Any] = []
    for value in values:
        if not out or out[-1] != value:
            out.append(value)
    return out
