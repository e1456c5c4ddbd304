"""A ``kube-rollouts-webhook`` process for integration tests, as the chart runs it but with a url
clientConfig (the local API server runs on this host), and what the API server would send it."""

from __future__ import annotations

import base64
import json
import os
import signal
import ssl
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx

from e2e.cluster import Cluster
from e2e.cluster.processes import free_port
from tests.conftest import run_kubectl
from tests.support import eventually

VENV_BIN = Path(sys.executable).parent
PLURALS = {
    "Rollout": "rollouts",
    "AnalysisTemplate": "analysistemplates",
    "ClusterAnalysisTemplate": "clusteranalysistemplates",
    "Experiment": "experiments",
}


class WebhookProcess:
    """One ``kube-rollouts-webhook --url-host 127.0.0.1`` with its own configuration name."""

    def __init__(
        self,
        cluster: Cluster,
        log_path: Path,
        *,
        configuration: str | None = None,
        kubeconfig: Path | None = None,
    ) -> None:
        self.cluster = cluster
        self.port = free_port()
        self.configuration = configuration or f"test-{uuid.uuid4().hex[:8]}.rollouts.dev"
        self.kubeconfig = kubeconfig or Path(cluster.kubeconfig)
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start it and wait until kopf has written this start's configuration (after a SIGKILL
        the old one still names the same port)."""
        marker = "Reconfiguring the validating webhook"
        before = self.log().count(marker)
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig), "PYTHONUNBUFFERED": "1"}
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    str(VENV_BIN / "kube-rollouts-webhook"),
                    "--url-host=127.0.0.1",
                    "--bind=127.0.0.1",
                    f"--port={self.port}",
                    "--health-port=-1",
                    f"--configuration={self.configuration}",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        eventually(
            lambda: self.log().count(marker) > before and self._configured(),
            timeout=30,
            what=f"kopf to write {self.configuration}",
        )

    def _configured(self) -> bool:
        assert self.proc is not None and self.proc.poll() is None, f"webhook exited:\n{self.log()}"
        webhooks = self.configuration_object().get("webhooks") or []
        return len(webhooks) == len(PLURALS) and all(
            f":{self.port}/" in w["clientConfig"].get("url", "") for w in webhooks
        )

    def configuration_object(self) -> dict[str, Any]:
        res = run_kubectl(
            self.cluster,
            "get",
            "validatingwebhookconfiguration",
            self.configuration,
            "-o",
            "json",
            check=False,
        )
        return json.loads(res.stdout) if res.returncode == 0 else {}

    def kill(self) -> None:
        """SIGKILL: the process is gone but its configuration stays, as after a crash or an OOM."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def terminate(self) -> None:
        """SIGTERM: kopf empties the configuration's webhooks and exits."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def stop(self) -> None:
        """Terminate it and delete both configurations kopf keeps."""
        self.terminate()
        for kind in ("validatingwebhookconfiguration", "mutatingwebhookconfiguration"):
            run_kubectl(self.cluster, "delete", kind, self.configuration, "--ignore-not-found", check=False)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def review(self, obj: dict[str, Any], *, namespace: str) -> dict[str, Any]:
        """POST an AdmissionReview for creating ``obj`` to the webhook, as the API server does, over
        TLS checked against the caBundle kopf published."""
        webhook = next(
            w
            for w in self.configuration_object()["webhooks"]
            if w["rules"][0]["resources"] == [PLURALS[obj["kind"]]]
        )
        ca = base64.b64decode(webhook["clientConfig"]["caBundle"]).decode()
        request = {
            "uid": str(uuid.uuid4()),
            "kind": {"group": "rollouts.dev", "version": "v1alpha1", "kind": obj["kind"]},
            "resource": {"group": "rollouts.dev", "version": "v1alpha1", "resource": PLURALS[obj["kind"]]},
            "operation": "CREATE",
            "namespace": namespace,
            "userInfo": {"username": "test"},
            "object": {**obj, "metadata": {**obj["metadata"], "namespace": namespace}},
            "dryRun": True,
        }
        review = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}
        answer = httpx.post(
            webhook["clientConfig"]["url"],
            json=review,
            verify=ssl.create_default_context(cadata=ca),
            timeout=10,
        )
        answer.raise_for_status()
        result: dict[str, Any] = answer.json()["response"]
        return result
