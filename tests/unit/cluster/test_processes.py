"""The process bookkeeping of the local cluster: never kill a stranger, fail fast with the log."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from e2e.cluster.control_plane import down, status
from e2e.cluster.processes import (
    ClusterError,
    Proc,
    alive,
    recorded,
    start,
    wait_for,
)

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]


def test_a_stale_pid_file_never_gets_another_process_killed(tmp_path: Path) -> None:
    stranger = subprocess.Popen(SLEEPER)
    try:
        # A PID file left from an old run whose pid now belongs to an unrelated process.
        (tmp_path / "pids").mkdir()
        (tmp_path / "pids" / "etcd").write_text(f"{stranger.pid} /opt/old/bin/etcd\n")
        assert not alive(stranger.pid, "/opt/old/bin/etcd")
        assert "DEAD" in status(tmp_path)
        down(tmp_path)
        assert stranger.poll() is None, "down() killed a process it did not start"
        assert not tmp_path.exists()
    finally:
        stranger.kill()
        stranger.wait()


def test_down_stops_exactly_what_was_started(tmp_path: Path) -> None:
    proc = Proc("kwok", SLEEPER, tmp_path / "logs" / "kwok.log")
    child = start(tmp_path, proc)
    assert recorded(tmp_path) == {"kwok": (child.pid, sys.executable)}
    assert alive(child.pid, sys.executable)
    assert down(tmp_path) == ["kwok"]
    assert child.wait(timeout=10) is not None


def test_wait_for_fails_fast_with_the_components_last_log_lines(tmp_path: Path) -> None:
    argv = [sys.executable, "-c", "import sys; print('bind: address already in use'); sys.exit(1)"]
    proc = Proc("kube-apiserver", argv, tmp_path / "apiserver.log")
    child = start(tmp_path, proc)
    with pytest.raises(ClusterError) as err:
        wait_for("kube-apiserver", lambda: False, timeout=30, proc=proc, child=child)
    assert "kube-apiserver exited during start-up" in str(err.value)
    assert "address already in use" in str(err.value)


def test_wait_for_gives_up_after_its_bound(tmp_path: Path) -> None:
    with pytest.raises(ClusterError, match=r"prometheus was not ready after 1s"):
        wait_for("prometheus", lambda: False, timeout=1)
