"""`python -m e2e.cluster up|down|status|env`: the Makefile's cluster targets."""

from __future__ import annotations

import sys

from e2e.cluster.control_plane import down, ensure_up, state_dir, status
from e2e.cluster.processes import ClusterError


def main(argv: list[str]) -> int:
    cmd = argv[0] if argv else "status"
    try:
        if cmd == "up":
            ensure_up()
        elif cmd == "down":
            stopped = down()
            print(
                f"cluster-down: stopped {', '.join(stopped) or 'nothing (no process was running)'}; "
                f"removed {state_dir()}"
            )
        elif cmd == "status":
            print(status())
        elif cmd == "env":
            print(state_dir() / "env")
        else:
            print(f"usage: python -m e2e.cluster up|down|status|env (got {cmd!r})", file=sys.stderr)
            return 2
    except ClusterError as exc:
        print(f"cluster-{cmd}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
