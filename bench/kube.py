"""What the benchmarks share to read the cluster: a resumable list-then-watch, and the CRDs installed."""

from __future__ import annotations

import asyncio
import subprocess
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from e2e.cluster import Cluster
from rollouts.kube import Gone, KubeClient, KubeError

REPO = Path(__file__).resolve().parents[1]


async def follow(
    client: KubeClient,
    api_version: str,
    kind: str,
    namespace: str,
    see: Callable[[dict[str, Any], float], None],
) -> None:
    """List, then watch, handing each object to ``see`` with the time it was seen; on any watch
    failure resume (or list again when the version expired). Runs until cancelled."""
    version = ""
    while True:
        try:
            if not version:
                listing = await client.list(api_version, kind, namespace=namespace)
                for obj in listing.items:
                    see(obj, time.time())
                version = listing.resource_version
            async for event in client.watch(api_version, kind, namespace=namespace, resource_version=version):
                version = event.object.get("metadata", {}).get("resourceVersion", version)
                if event.type != "BOOKMARK":
                    see(event.object, time.time())
        except Gone:
            version = ""
        except KubeError:
            await asyncio.sleep(0.5)
        except Exception:  # never lose a benchmark's reader to one odd object
            traceback.print_exc()
            version = ""
            await asyncio.sleep(0.5)


def apply_crds(cluster: Cluster) -> None:
    subprocess.run(
        [str(Path(cluster.bin_dir) / "kubectl"), f"--kubeconfig={cluster.kubeconfig}", "apply",
         "--server-side", "--force-conflicts", "-f", str(REPO / "crds")],
        check=True, capture_output=True,
    )  # fmt: skip
