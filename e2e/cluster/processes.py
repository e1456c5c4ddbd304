"""Starting, checking and stopping the local control plane's processes.

Each process is recorded in `<state>/pids/<name>` as "<pid> <executable>". Stopping checks that the
pid still runs that executable before signalling it, so a stale PID file (the pid reused by an
unrelated process after a reboot) never gets someone else's process killed. Its full command line
is kept in `<state>/argv/<name>.json`, so a test can start one component again exactly as it was
(see `e2e.cluster.outages`).
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


class ClusterError(RuntimeError):
    """A one-line explanation of what failed and what to do, shown to the user as is."""


_EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_given: set[int] = set()


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = _EPHEMERAL_RANGE.read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999  # Linux's default


def free_port() -> int:
    """A port nothing listens on now, outside the kernel's ephemeral range, not given before.

    A port from bind(0) is an ephemeral one, and between picking it and the component binding it,
    any outgoing connection may take it as its local port: the API server opens dozens to etcd, and
    a cold CI run lost kube-controller-manager's port that way ("address already in use"). The
    kernel never gives a port outside that range to an outgoing connection.
    """
    low, high = _ephemeral_range()
    candidates = [p for p in range(10000, 65536) if not low <= p <= high and p not in _given]
    for port in random.sample(candidates, min(len(candidates), 500)):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _given.add(port)
        return port
    raise ClusterError(f"no free port on 127.0.0.1 outside the ephemeral range {low}-{high}")


@dataclass(frozen=True)
class Proc:
    name: str
    argv: list[str]
    log: Path


def _pid_file(state: Path, name: str) -> Path:
    return state / "pids" / name


def argv_file(state: Path, name: str) -> Path:
    return state / "argv" / f"{name}.json"


def start(state: Path, proc: Proc, *, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start `proc` in a session of its own, recorded in `state`; `env` is added to this environment."""
    proc.log.parent.mkdir(parents=True, exist_ok=True)
    _pid_file(state, proc.name).parent.mkdir(parents=True, exist_ok=True)
    with proc.log.open("ab") as log:
        # A session of its own: the process outlives `make cluster-up` and ignores its Ctrl-C.
        p = subprocess.Popen(
            proc.argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env={**os.environ, **env} if env else None,
        )
    _pid_file(state, proc.name).write_text(f"{p.pid} {proc.argv[0]}\n")
    argv_file(state, proc.name).parent.mkdir(parents=True, exist_ok=True)
    argv_file(state, proc.name).write_text(json.dumps({"argv": proc.argv, "log": str(proc.log)}) + "\n")
    return p


def recorded(state: Path) -> dict[str, tuple[int, str]]:
    """name -> (pid, executable) for every PID file, valid or stale."""
    out: dict[str, tuple[int, str]] = {}
    pids = state / "pids"
    if not pids.is_dir():
        return out
    for f in sorted(pids.iterdir()):
        try:
            pid_s, exe = f.read_text().split(maxsplit=1)
            out[f.name] = (int(pid_s), exe.strip())
        except ValueError:
            continue
    return out


def alive(pid: int, exe: str) -> bool:
    """True when `pid` runs `exe` (and is not a zombie).

    Right around exec, /proc/<pid>/cmdline can read empty for a moment; such a reading is retried
    briefly instead of being taken for "some other process".
    """
    for _ in range(10):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode()
            stat = Path(f"/proc/{pid}/stat").read_text()
        except (OSError, UnicodeDecodeError):
            return False
        if stat.rsplit(")", 1)[-1].split()[0] == "Z":
            return False
        if cmdline:
            return cmdline == exe
        time.sleep(0.02)
    return False


def stop(state: Path, name: str, pid: int, exe: str, grace: float = 10.0) -> None:
    if alive(pid, exe):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while alive(pid, exe) and time.monotonic() < deadline:
            time.sleep(0.1)
        if alive(pid, exe):
            os.kill(pid, signal.SIGKILL)
    _pid_file(state, name).unlink(missing_ok=True)


def tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join("    " + line[:300] for line in text[-lines:])


def http_ok(url: str, *, context: ssl.SSLContext | None = None, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout, context=context) as resp:
            return bool(200 <= resp.status < 300)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def wait_for(
    what: str,
    check: Callable[[], bool],
    *,
    timeout: float,
    proc: Proc | None = None,
    child: subprocess.Popen[bytes] | None = None,
) -> None:
    """Poll `check` until it passes; fail fast when the process died, and after `timeout` seconds.

    The error carries the component's last log lines: the usual causes (a port taken, a bad flag) are
    visible there, so nobody has to go looking.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        # Our own child: poll() is exact (/proc/<pid>/cmdline reads empty for a moment around exec).
        if proc is not None and child is not None and child.poll() is not None:
            raise ClusterError(
                f"{what} exited during start-up; last log lines of {proc.log}:\n{tail(proc.log)}"
            )
        time.sleep(0.2)
    logs = f"; last log lines of {proc.log}:\n{tail(proc.log)}" if proc else ""
    raise ClusterError(f"{what} was not ready after {timeout:.0f}s{logs}")
