"""Following a set of pods through a watch, for tests that count how many serve at every moment."""

from __future__ import annotations

import threading
from typing import Any

from kubernetes import client, config, watch

from e2e.cluster import Cluster

__all__ = ["PodWatch"]


def _serves(pod: Any) -> bool:
    """Ready and not being deleted: a pod that takes traffic."""
    conditions = (pod.status and pod.status.conditions) or []
    ready = any(c.type == "Ready" and c.status == "True" for c in conditions)
    return ready and pod.metadata.deletion_timestamp is None


class PodWatch(threading.Thread):
    """Follows every change of the pods ``selector`` selects through a watch (a restart on KWOK
    takes well under a second, too fast for polling); keeps the fewest pods serving at any
    moment."""

    def __init__(self, cluster: Cluster, namespace: str, *, selector: str = "app=web") -> None:
        super().__init__(daemon=True)
        self.api = client.CoreV1Api(config.new_client_from_config(config_file=cluster.kubeconfig))
        self.namespace = namespace
        self.selector = selector
        listed = self.api.list_namespaced_pod(namespace, label_selector=selector)
        self.pods = {pod.metadata.uid: pod for pod in listed.items}
        self.version = listed.metadata.resource_version
        self.fewest_serving = self.serving()
        self.changes = 0
        self.stop = threading.Event()

    def serving(self) -> int:
        return sum(1 for pod in self.pods.values() if _serves(pod))

    def run(self) -> None:
        while not self.stop.is_set():
            stream = watch.Watch().stream(
                self.api.list_namespaced_pod,
                self.namespace,
                label_selector=self.selector,
                resource_version=self.version,
                timeout_seconds=1,
            )
            for event in stream:
                pod = event["object"]
                self.version = pod.metadata.resource_version
                if event["type"] == "DELETED":
                    self.pods.pop(pod.metadata.uid, None)
                else:
                    self.pods[pod.metadata.uid] = pod
                self.changes += 1
                self.fewest_serving = min(self.fewest_serving, self.serving())
