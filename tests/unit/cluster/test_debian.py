"""The Debian packages the tests use are checked against their tested ranges with dpkg's own ordering."""

from __future__ import annotations

from pathlib import Path

import pytest

from e2e.cluster import debian


def test_every_package_the_makefile_installs_has_a_range() -> None:
    reqs = debian.requirements()
    assert set(reqs) == {"prometheus", "lua5.4", "openssl", "mmdebstrap", "git"}
    assert all(r.why for r in reqs.values())


@pytest.mark.parametrize(
    ("version", "ok"),
    [
        ("2.42.0+ds-5+deb12u1", True),  # bookworm
        ("2.40.0", True),
        ("2.39.9+ds-1", False),
        ("2.53.3+ds1-1", True),
        ("3.0.0+ds-1", False),  # Prometheus 3 changed metric and label handling the tests rely on
        ("1:2.42.0", False),  # an epoch outranks any upstream version, as dpkg orders it
    ],
)
def test_versions_are_compared_as_dpkg_compares_them(version: str, ok: bool) -> None:
    assert debian.version_ok(version, debian.requirements()["prometheus"]) is ok


@pytest.mark.parametrize(
    ("version", "ok"),
    [("1:2.39.5-0+deb12u3", True), ("1:2.29.2-1", False), ("1:3.0.0-1", False), ("2.39.5-1", False)],
)
def test_git_is_ranged_with_debian_s_epoch(version: str, ok: bool) -> None:
    """Debian's git versions carry epoch 1: a range written without it would accept none."""
    assert debian.version_ok(version, debian.requirements()["git"]) is ok


def test_an_installed_version_outside_its_range_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ranges = tmp_path / "debian-packages.txt"
    ranges.write_text("openssl  99  100  something that needs a future openssl\n")
    monkeypatch.setattr(debian, "RANGES", ranges)
    with pytest.raises(debian.DebianPackageError) as err:
        debian.ensure(["openssl"])  # installed on every machine that runs the tests
    message = str(err.value)
    assert message.startswith("openssl 3.") and "is installed" in message
    assert ">= 99 and < 100 (something that needs a future openssl)" in message
    assert "apt-cache policy openssl" in message and "debian-packages.txt" in message
