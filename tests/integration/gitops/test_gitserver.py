"""The test Git server speaks smart HTTP as Flux needs it: what the working clone pushes is what a
fresh clone over the same URL reads, commit by commit, reverts included (no cluster needed)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from e2e.gitserver import GitServer


def _clone(url: str, into: Path) -> str:
    subprocess.run(["git", "clone", "--quiet", url, str(into)], check=True, capture_output=True, timeout=60)
    head = subprocess.run(["git", "-C", str(into), "rev-parse", "HEAD"], capture_output=True, text=True)
    return head.stdout.strip()


def test_pushes_are_served_to_clones_over_smart_http(git: GitServer, tmp_path: Path) -> None:
    first = git.commit({"deploy/app.yaml": "image: v1\n"}, "v1")
    second = git.commit({"deploy/app.yaml": "image: v2\n"}, "v2")
    assert _clone(git.url, tmp_path / "a") == second
    assert (tmp_path / "a" / "deploy" / "app.yaml").read_text() == "image: v2\n"
    reverted = git.revert(second)
    assert reverted not in (first, second)
    assert _clone(git.url, tmp_path / "b") == reverted
    assert (tmp_path / "b" / "deploy" / "app.yaml").read_text() == "image: v1\n"
    # The smart protocol, not the dumb one: refs advertised per service, packs by POST.
    log = git.requests
    assert any("GET /app.git/info/refs?service=git-upload-pack" in line for line in log), log
    assert any("POST /app.git/git-upload-pack" in line and " 200 " in line for line in log), log


def test_an_unknown_repository_is_a_404(git: GitServer, tmp_path: Path) -> None:
    res = subprocess.run(
        ["git", "clone", "--quiet", git.url.replace("app.git", "nope.git"), str(tmp_path / "c")],
        capture_output=True,
        text=True,
        timeout=60,
        env={"GIT_TERMINAL_PROMPT": "0", "PATH": "/usr/bin:/bin"},
    )
    assert res.returncode != 0
    assert any(" 404 " in line for line in git.requests), git.requests
