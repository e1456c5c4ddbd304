"""The Debian packages the tests and the demo use, installed when missing and checked for a version range.

Debian replaces a package's version with each security update, so these cannot be pinned to one
version the way the Go and Python inputs are; instead each has the range the tests are known to work
with, and anything outside it stops `make install` / `cluster-up` with a message that says which
package, which version apt gave, and what to do. The ranges live in `debian-packages.txt`.

Standard library only: the Makefile runs this before the virtualenv exists.
`python3 e2e/cluster/debian.py [PACKAGE...]` ensures the named packages (all of them by default).
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

RANGES = Path(__file__).with_name("debian-packages.txt")


class DebianPackageError(RuntimeError):
    """A package is missing and cannot be installed, or its version is outside the tested range."""


@dataclass(frozen=True)
class Requirement:
    package: str
    minimum: str  # inclusive
    below: str  # exclusive
    why: str

    def describe(self) -> str:
        return f">= {self.minimum} and < {self.below}"


def requirements() -> dict[str, Requirement]:
    found: dict[str, Requirement] = {}
    for line in RANGES.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        package, minimum, below, *why = line.split()
        found[package] = Requirement(package, minimum, below, " ".join(why))
    return found


def installed_version(package: str) -> str | None:
    res = subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}\t${Version}", package], capture_output=True, text=True
    )
    if res.returncode != 0:
        return None
    status, _, version = res.stdout.partition("\t")
    return version if status.endswith(" installed") and version else None


def version_ok(version: str, req: Requirement) -> bool:
    def compare(op: str, other: str) -> bool:
        return subprocess.run(["dpkg", "--compare-versions", version, op, other]).returncode == 0

    return compare("ge", req.minimum) and compare("lt", req.below)


def _apt_get(*args: str) -> None:
    argv = ["apt-get", *args]
    if os.geteuid() != 0:
        argv.insert(0, "sudo")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    res = subprocess.run(argv, env=env, capture_output=True, text=True)
    if res.returncode != 0:
        raise DebianPackageError(f"`{' '.join(argv)}` failed:\n{res.stderr.strip()[-800:]}")


def ensure(packages: list[str] | None = None) -> dict[str, str]:
    """Install what is missing (one apt-get run), then check every version; returns package -> version."""
    reqs = requirements()
    names = packages or list(reqs)
    unknown = [n for n in names if n not in reqs]
    if unknown:
        raise DebianPackageError(f"no version range for {', '.join(unknown)} in {RANGES.name}")
    missing = [n for n in names if installed_version(n) is None]
    if missing:
        print(f"install: apt-get install {' '.join(missing)}", file=sys.stderr)
        _apt_get("update", "-qq")
        _apt_get("install", "-y", "-qq", *missing)
    versions: dict[str, str] = {}
    problems: list[str] = []
    for name in names:
        req, version = reqs[name], installed_version(name)
        if version is None:
            problems.append(f"{name}: apt-get reported success but the package is not installed")
        elif not version_ok(version, req):
            problems.append(
                f"{name} {version} is installed, but the tests are known to work with {name} "
                f"{req.describe()} ({req.why}). Install a version in that range "
                f"(`apt-cache policy {name}` lists what apt offers), or test the new one and widen "
                f"its range in e2e/cluster/{RANGES.name}."
            )
        else:
            versions[name] = version
    if problems:
        raise DebianPackageError("\n".join(problems))
    return versions


def main(argv: list[str]) -> int:
    try:
        versions = ensure(argv or None)
    except DebianPackageError as exc:
        print(f"debian packages: {exc}", file=sys.stderr)
        return 1
    print("debian packages: " + ", ".join(f"{n} {v}" for n, v in versions.items()), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
