"""build.sh as a person meets it: silent when warm, and a failure names the component, the command and
its output.

The failure is a real one: the real Go toolchain with the module proxy turned off and an empty module
cache cannot download what go.sum lists, exactly as a build would fail that needed a module nobody
pinned.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.unit.cluster.test_pinned_inputs import versions_env

BUILD_SH = Path(__file__).resolve().parents[3] / "e2e" / "cluster" / "build.sh"
BINARIES = ("etcd", "kwok", "helm", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl")


def build(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "KUBE_ROLLOUTS_CACHE": str(tmp_path / "cache"), **env}
    return subprocess.run(
        ["bash", str(BUILD_SH), *args], env=full, capture_output=True, text=True, timeout=120
    )


def test_the_cache_key_names_the_versions_and_the_pinned_modules(tmp_path: Path) -> None:
    path = Path(build(tmp_path, "path").stdout.strip())
    assert path.name == "bin"
    assert path.parent.parent == tmp_path / "cache"
    key = path.parent.name
    assert key.startswith("k8s-v1.") and "_etcd-v3." in key and "_kwok-v" in key and "_helm-v3." in key
    assert len(key.rsplit("_", 1)[1]) == 12  # digest of tools/*/go.{mod,sum}: a re-pin rebuilds


def test_a_warm_cache_builds_nothing_and_says_nothing(tmp_path: Path) -> None:
    bin_dir = Path(build(tmp_path, "path").stdout.strip())
    bin_dir.mkdir(parents=True)
    for name in BINARIES:
        (bin_dir / name).write_text("#!/bin/sh\n")
        (bin_dir / name).chmod(0o755)
    res = build(tmp_path, PATH="/usr/bin:/bin")  # not even a Go toolchain is needed
    assert (res.returncode, res.stdout, res.stderr) == (0, "", "")


def test_a_failing_step_names_the_component_the_command_and_its_output(tmp_path: Path) -> None:
    res = build(tmp_path, GOPROXY="off", GOMODCACHE=str(tmp_path / "mod"), GOCACHE=str(tmp_path / "gocache"))
    assert res.returncode == 1
    err, etcd = res.stderr, f"etcd {versions_env()['ETCD_VERSION']}"
    assert "building 7 binaries once from the pinned Go modules" in err
    assert "about 10 minutes" in err
    assert f"[1/7] {etcd}: downloading the modules pinned in tools/etcd/go.sum" in err
    assert f"build.sh: [1/7] {etcd} (module download) failed after" in err
    assert "e2e/cluster/tools/etcd && go mod download)" in err
    assert "module lookup disabled by GOPROXY=off" in err  # the tool's own words, from its log
    assert "full log: " in err and (tmp_path / "cache").exists()
    # Nothing half-built is left for a later run to mistake for a binary.
    assert not any(Path(build(tmp_path, "path").stdout.strip()).iterdir())
