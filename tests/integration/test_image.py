"""The container image runs the controller and the webhook as the chart runs them: `make image`'s OCI
archive is built, its root file system unpacked, and `kube-rollouts run` started from it as uid 65532
on a read-only root (chroot in a private mount namespace, no container engine) against the local
cluster, through a canary delivery; the webhook likewise, refusing a bad Rollout."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from e2e.cluster import Cluster
from e2e.cluster.processes import free_port
from image.build import ENTRYPOINT, USER, unpack
from tests.conftest import REPO
from tests.integration.cli.conftest import Plugin, deliver_a_canary, plugin  # noqa: F401 (fixture)
from tests.integration.controller import scenario as sc
from tests.support import Kubectl, eventually


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, Any]]]:
    work = tmp_path_factory.mktemp("image")
    archive = work / "kube-rollouts-image.tar"
    subprocess.run(
        [sys.executable, "-m", "image.build", "--out", str(archive)], cwd=REPO, check=True, timeout=900
    )
    rootfs = work / "rootfs"
    config = unpack(archive, rootfs)
    yield rootfs, config
    shutil.rmtree(work, ignore_errors=True)


def test_the_image_runs_as_nonroot_with_the_locked_dependencies(image: tuple[Path, dict[str, Any]]) -> None:
    rootfs, config = image
    assert config["config"]["User"] == f"{USER}:{USER}"  # type: ignore[index]
    assert config["config"]["Entrypoint"] == ENTRYPOINT  # type: ignore[index]
    assert "nonroot:x:65532:65532" in (rootfs / "etc" / "passwd").read_text()
    lib = rootfs / "opt" / "kube-rollouts" / "lib"
    pins = {
        line.split("==")[0].lower().replace("_", "-"): line.split("==")[1].split()[0]
        for line in (REPO / "requirements" / "runtime.txt").read_text().splitlines()
        if "==" in line and not line.startswith(" ")
    }
    installed = dict(
        p.name.removesuffix(".dist-info").lower().replace("_", "-").rsplit("-", 1)
        for p in lib.glob("*.dist-info")
    )
    for name, version in pins.items():
        if name in ("colorama",):  # Windows only
            continue
        assert installed.get(name) == version, f"{name}: locked {version}, image has {installed.get(name)}"


def _login_in_image(rootfs: Path, cluster: Cluster) -> None:
    """The cluster's admin login, with its files, where uid 65532 can read them inside the image."""
    kube = rootfs / "home" / "nonroot" / ".kube"
    kube.mkdir(exist_ok=True)
    doc = yaml.safe_load(Path(cluster.kubeconfig).read_text())
    base = Path(cluster.kubeconfig).parent
    for key, holder in (("certificate-authority", doc["clusters"][0]["cluster"]), *(
        (k, doc["users"][0]["user"]) for k in ("client-certificate", "client-key")
    )):  # fmt: skip
        target = kube / Path(holder[key]).name
        shutil.copy(base / holder[key], target)
        holder[key] = str(Path("/home/nonroot/.kube") / target.name)
    (kube / "config").write_text(yaml.safe_dump(doc))
    for path in (kube, *kube.iterdir()):
        os.chown(path, USER, USER)


def _run_in_image(
    rootfs: Path, config: dict[str, Any], argv: list[str], log_path: Path
) -> subprocess.Popen[bytes]:
    """``argv`` started from the image as a pod with readOnlyRootFilesystem runs it: a private mount
    namespace, the image's root bind-mounted read-only, /proc for the process's own figures (and
    the webhook's memfd paths), then chroot as 65532:65532."""
    env = [e for e in config["config"]["Env"]]
    command = ["env", "-i", *env, "KUBECONFIG=/home/nonroot/.kube/config", *argv]
    script = (
        f'mount --bind "{rootfs}" "{rootfs}" && mount -o remount,bind,ro "{rootfs}" && '
        f'mount -t proc proc "{rootfs}/proc" && '
        f'exec chroot --userspec={USER}:{USER} "{rootfs}" {" ".join(command)}'
    )
    with log_path.open("wb") as log:
        return subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c", script], stdout=log, stderr=log
        )


def test_the_controller_delivers_a_canary_from_the_image(
    image: tuple[Path, dict[str, Any]],
    cluster: Cluster,
    kubectl: Kubectl,
    namespace: str,
    rollout_crds: None,
    plugin: Plugin,  # noqa: F811 (the fixture imported above)
    tmp_path: Path,
) -> None:
    rootfs, config = image
    _login_in_image(rootfs, cluster)
    argv = [
        *config["config"]["Entrypoint"], "run", "--namespace", namespace,  # type: ignore[index]
        "--metrics-port", "-1", "--health-port", "-1",
    ]  # fmt: skip
    log_path = tmp_path / "controller.log"
    proc = _run_in_image(rootfs, config, argv, log_path)
    try:
        eventually(
            lambda: "watch caches synced" in log_path.read_text(errors="replace"),
            timeout=60, what="the controller in the image to start",
        )  # fmt: skip
        logs = lambda: log_path.read_text(errors="replace")  # noqa: E731
        deliver_a_canary(kubectl, plugin, logs)
        assert "Read-only file system" not in logs() and "Traceback" not in logs(), logs()[-3000:]
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_the_webhook_refuses_a_bad_rollout_from_the_image(
    image: tuple[Path, dict[str, Any]], cluster: Cluster, kubectl: Kubectl, rollout_crds: None, tmp_path: Path
) -> None:
    """The chart's webhook command from the image: its certificate made in memory on a read-only
    root, kopf configured, a pod template the ReplicaSet validation refuses refused at apply."""
    rootfs, config = image
    _login_in_image(rootfs, cluster)
    configuration = f"image-{uuid.uuid4().hex[:8]}.rollouts.dev"
    port = free_port()
    argv = [
        *config["config"]["Entrypoint"][:2], "rollouts.webhook",  # type: ignore[index]
        "--url-host=127.0.0.1", "--bind=127.0.0.1", f"--port={port}", "--health-port=-1",
        f"--configuration={configuration}",
    ]  # fmt: skip
    log_path = tmp_path / "webhook.log"
    proc = _run_in_image(rootfs, config, argv, log_path)
    logs = lambda: log_path.read_text(errors="replace")  # noqa: E731
    try:
        eventually(
            lambda: "Reconfiguring the validating webhook" in logs(), timeout=60, what="the webhook to start"
        )
        time.sleep(1)  # the patch that logged it reaches the API server
        bad = sc.rollout("never", strategy={"canary": {"steps": [{"setWeight": 50}]}}, replicas=1, image="v1")
        bad["spec"]["template"]["spec"]["restartPolicy"] = "Never"
        res = kubectl("apply", "-f", "-", stdin=json.dumps(bad), check=False)
        assert res.returncode != 0 and "restartPolicy: Unsupported value" in res.stderr, res.stderr + logs()
        assert "Read-only file system" not in logs() and "Traceback" not in logs(), logs()[-3000:]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        for kind in ("validatingwebhookconfiguration", "mutatingwebhookconfiguration"):
            kubectl("delete", kind, configuration, "--ignore-not-found", check=False)
