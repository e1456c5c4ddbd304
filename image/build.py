"""`make image`: the controller's container image as an OCI image archive, built without Docker.

1. A Debian bookworm root file system with Python and CA certificates (mmdebstrap, from Debian's
   packages; its package list is printed and kept beside the archive).
2. The project's wheel and its locked runtime dependencies (requirements/runtime.txt, hashes
   checked) installed by pip into /opt/kube-rollouts, compiled ahead so a read-only root file
   system costs nothing at start.
3. A user `nonroot` (65532), no package manager caches, no docs.
4. One layer, packed deterministically (sorted entries, fixed times and owners from the rootfs), with
   an OCI config (user 65532, entrypoint `python3 -m rollouts.controller`, command `run`), manifest,
   index and `oci-layout`, all in `dist/kube-rollouts-image.tar` (an OCI archive: `skopeo copy
   oci-archive:dist/kube-rollouts-image.tar docker://REGISTRY/kube-rollouts:TAG` pushes it).

The Dockerfile beside this script builds the same image for people who use Docker or buildx.
`python -m image.build [--out dist/kube-rollouts-image.tar]`; prints the digest and the size.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
USER = 65532
PORTS = (8080, 8081)  # /metrics, /healthz and /readyz: the chart's defaults
ENTRYPOINT = ["/usr/bin/python3", "-m", "rollouts.controller"]
PREFIX = "/opt/kube-rollouts"
EPOCH = int(os.environ.get("SOURCE_DATE_EPOCH", "946684800"))  # 2000-01-01: same inputs, same image
DEBIAN_SUITE = "bookworm"
# libstdc++6: the C++ runtime manylinux wheels expect from the system (google-re2, under cel-python).
PACKAGES = ["python3", "ca-certificates", "libstdc++6"]
MANYLINUX = ["manylinux_2_36", "manylinux_2_34", "manylinux_2_31", "manylinux_2_28", "manylinux_2_27",
             "manylinux_2_24", "manylinux_2_17", "manylinux2014", "manylinux_2_12", "manylinux2010",
             "manylinux_2_5", "manylinux1", "linux"]  # fmt: skip
PRUNE = ["usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/locale", "var/cache/apt",
         "var/lib/apt/lists", "var/log", "tmp"]  # fmt: skip


def sh(*argv: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    print("+ " + " ".join(argv), file=sys.stderr)
    return subprocess.run(argv, check=True, text=True, **kwargs)  # type: ignore[call-overload]


def rootfs(target: Path) -> str:
    """The Debian base; returns its package list (name version per line)."""
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(EPOCH)}
    sh("mmdebstrap", "--quiet", "--mode=root", "--variant=essential", f"--include={','.join(PACKAGES)}",
       DEBIAN_SUITE, str(target), env=env)  # fmt: skip
    listed = sh("chroot", str(target), "dpkg-query", "-W", "-f=${Package} ${Version}\\n", capture_output=True)
    return str(listed.stdout)


def install(target: Path, work: Path) -> None:
    """The wheel and the locked runtime dependencies, into PREFIX/lib (pip on the host, for the
    image's CPython 3.11 on x86_64 Linux; binary wheels only, every hash checked)."""
    wheels = work / "wheels"
    sh(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--quiet",
        "--no-deps",
        "--no-build-isolation",
        "-w",
        str(wheels),
        str(REPO),
    )
    lib = target / PREFIX.lstrip("/") / "lib"
    # pip takes exactly the platform tags it is given: every manylinux level bookworm's glibc 2.36 runs.
    platforms = [f"--platform={tag}_x86_64" for tag in MANYLINUX]
    common = ["--quiet", "--disable-pip-version-check", "--no-compile", "--target", str(lib),
              "--only-binary=:all:", "--implementation=cp", "--python-version=3.11", *platforms,
              "--abi=cp311", "--abi=abi3", "--abi=none"]  # fmt: skip
    sh(sys.executable, "-m", "pip", "install", *common, "--require-hashes", "--no-deps",
       "-r", str(REPO / "requirements" / "runtime.txt"))  # fmt: skip
    wheel = next(wheels.glob("kube_rollouts-*.whl"))
    sh(sys.executable, "-m", "pip", "install", *common, "--no-deps", str(wheel))
    shutil.rmtree(lib / "bin", ignore_errors=True)  # console scripts point at the host's Python
    # Sources get the image's fixed time before compiling, so the .pyc files (which record their
    # source's mtime) stay valid in the packed layer and nothing is recompiled on a read-only root.
    for path in lib.rglob("*"):
        os.utime(path, (EPOCH, EPOCH), follow_symlinks=False)
    sh("chroot", str(target), "python3", "-m", "compileall", "-q", "-j", "0", f"{PREFIX}/lib")


def finish(target: Path) -> None:
    for rel in PRUNE:
        path = target / rel
        if path.is_dir():
            shutil.rmtree(path)
            path.mkdir()
    (target / "tmp").chmod(0o1777)
    with (target / "etc" / "passwd").open("a") as f:
        f.write(f"nonroot:x:{USER}:{USER}:nonroot:/home/nonroot:/usr/sbin/nologin\n")
    with (target / "etc" / "group").open("a") as f:
        f.write(f"nonroot:x:{USER}:\n")
    home = target / "home" / "nonroot"
    home.mkdir(parents=True, exist_ok=True)
    os.chown(home, USER, USER)


def layer(target: Path) -> bytes:
    """The root file system as one gzipped tar, the same bytes for the same files."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(target.rglob("*"), key=lambda p: str(p.relative_to(target))):
            info = tar.gettarinfo(str(path), arcname=str(path.relative_to(target)))
            info.mtime = min(int(info.mtime), EPOCH)
            info.uname = info.gname = ""
            if info.isfile():
                with path.open("rb") as f:
                    tar.addfile(info, f)
            else:
                tar.addfile(info)
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0, compresslevel=6) as gz:
        gz.write(raw.getvalue())
    return out.getvalue()


def blob(layout: Path, data: bytes) -> str:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    path = layout / "blobs" / "sha256" / digest.removeprefix("sha256:")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return digest


def pack(target: Path, out: Path, version: str) -> str:
    """An OCI image layout in a tar; returns the manifest digest."""
    layout = out.with_suffix(".layout")
    shutil.rmtree(layout, ignore_errors=True)
    compressed = layer(target)
    diff_id = "sha256:" + hashlib.sha256(gzip.decompress(compressed)).hexdigest()
    layer_digest = blob(layout, compressed)
    config = {
        "created": "2000-01-01T00:00:00Z",
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "User": f"{USER}:{USER}",
            "Entrypoint": ENTRYPOINT,
            "Cmd": ["run"],
            "Env": [
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                f"PYTHONPATH={PREFIX}/lib",
                "PYTHONDONTWRITEBYTECODE=1",
                "PYTHONUNBUFFERED=1",
            ],
            "WorkingDir": "/home/nonroot",
            "ExposedPorts": {f"{port}/tcp": {} for port in PORTS},
            "Labels": {
                "org.opencontainers.image.title": "kube-rollouts",
                "org.opencontainers.image.version": version,
            },
        },
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    }
    config_bytes = json.dumps(config, sort_keys=True, separators=(",", ":")).encode()
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": blob(layout, config_bytes), "size": len(config_bytes)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer_digest,
                    "size": len(compressed)}],
    }  # fmt: skip
    manifest_bytes = json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()
    manifest_digest = blob(layout, manifest_bytes)
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{"mediaType": manifest["mediaType"], "digest": manifest_digest,
                       "size": len(manifest_bytes),
                       "annotations": {"org.opencontainers.image.ref.name": version}}],
    }  # fmt: skip
    (layout / "index.json").write_text(json.dumps(index, sort_keys=True))
    (layout / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(layout.rglob("*")):
            info = tar.gettarinfo(str(path), arcname=str(path.relative_to(layout)))
            info.mtime, info.uid, info.gid, info.uname, info.gname = EPOCH, 0, 0, "", ""
            if info.isfile():
                with path.open("rb") as f:
                    tar.addfile(info, f)
            else:
                tar.addfile(info)
    shutil.rmtree(layout)
    return manifest_digest


def unpack(archive: Path, target: Path) -> dict[str, object]:
    """The root file system of an archive this script made (for the image test); returns its config."""
    with tarfile.open(archive) as outer:

        def read(name: str) -> bytes:
            member = outer.extractfile(name)
            assert member is not None
            return member.read()

        index = json.loads(read("index.json"))
        manifest = json.loads(read("blobs/sha256/" + index["manifests"][0]["digest"].removeprefix("sha256:")))
        config = json.loads(read("blobs/sha256/" + manifest["config"]["digest"].removeprefix("sha256:")))
        for entry in manifest["layers"]:
            data = read("blobs/sha256/" + entry["digest"].removeprefix("sha256:"))
            with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
                tar.extractall(target, filter="fully_trusted")  # our own archive: keep owners and modes
    return dict(config)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m image.build")
    parser.add_argument("--out", default=str(REPO / "dist" / "kube-rollouts-image.tar"))
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print(
            "image: mmdebstrap --mode=root and chroot need root (run as root, or in a user namespace)",
            file=sys.stderr,
        )
        return 1
    sys.path.insert(0, str(REPO))
    from e2e.cluster import debian

    debian.ensure(["mmdebstrap"])
    version = next(line.split('"')[1] for line in (REPO / "pyproject.toml").read_text().splitlines()
                   if line.startswith("version"))  # fmt: skip
    out = Path(args.out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="kube-rollouts-image-") as tmp:
        target = Path(tmp) / "rootfs"
        packages = rootfs(target)
        install(target, Path(tmp))
        finish(target)
        digest = pack(target, out, version)
    out.with_suffix(".packages.txt").write_text(packages)
    size = out.stat().st_size
    print(f"image: {out} ({size / 2**20:.1f} MiB), manifest {digest}, Debian packages in "
          f"{out.with_suffix('.packages.txt').name}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
