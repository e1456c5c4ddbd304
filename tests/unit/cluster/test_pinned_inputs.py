"""Every input a clean clone builds from is pinned in the repository.

The Go-built control plane builds from committed wrapper modules whose main modules sit at exactly the
versions in versions.env; the Python environment installs from a hash lock that satisfies
pyproject.toml; no script fetches a Go module without an exact version. If one of these drifts, a new
machine would no longer get what CI proved, so these fail.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[3]
CLUSTER = REPO / "e2e" / "cluster"
TOOLS = CLUSTER / "tools"


def versions_env() -> dict[str, str]:
    pins = {}
    for line in (CLUSTER / "versions.env").read_text().splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            pins[key.strip()] = value.strip()
    return pins


def go_mod(tool: str) -> str:
    return (TOOLS / tool / "go.mod").read_text()


def required_version(gomod: str, module: str) -> str | None:
    m = re.search(rf"^\s*(?:require\s+)?{re.escape(module)} (v\S+)", gomod, re.M)
    return m.group(1) if m else None


MAIN_MODULES = [
    ("etcd", "go.etcd.io/etcd/server/v3", "ETCD_VERSION"),
    ("kwok", "sigs.k8s.io/kwok", "KWOK_VERSION"),
    ("helm", "helm.sh/helm/v3", "HELM_VERSION"),
    ("kubernetes", "k8s.io/kubernetes", "KUBERNETES_VERSION"),
    ("flux-source", "github.com/fluxcd/source-controller", "FLUX_SOURCE_CONTROLLER_VERSION"),
    ("flux-kustomize", "github.com/fluxcd/kustomize-controller", "FLUX_KUSTOMIZE_CONTROLLER_VERSION"),
    ("argo-rollouts", "github.com/argoproj/argo-rollouts", "ARGO_ROLLOUTS_VERSION"),
]


@pytest.mark.parametrize(("tool", "module", "pin"), MAIN_MODULES)
def test_each_wrapper_module_builds_its_tool_at_the_pinned_version(tool: str, module: str, pin: str) -> None:
    gomod = go_mod(tool)
    assert required_version(gomod, module) == versions_env()[pin], (
        f"e2e/cluster/tools/{tool}/go.mod requires {module} {required_version(gomod, module)}, but "
        f"versions.env pins {pin}={versions_env()[pin]}: run `make tools-update` and commit the result"
    )
    gosum = (TOOLS / tool / "go.sum").read_text()
    assert f"{module} {versions_env()[pin]} h1:" in gosum, f"tools/{tool}/go.sum lacks {module}'s hash"


def test_kubernetes_staging_modules_are_replaced_by_the_same_release() -> None:
    staging = "v0." + versions_env()["KUBERNETES_VERSION"].removeprefix("v1.")
    replaces = re.findall(r"^\s*(k8s\.io/\S+) => (\S+) (v\S+)$", go_mod("kubernetes"), re.M)
    assert len(replaces) > 20, "the staging replace list is missing from tools/kubernetes/go.mod"
    for module, target, version in replaces:
        assert (target, version) == (module, staging), f"{module} is replaced by {target} {version}"


@pytest.mark.parametrize("tool", ["flux-source", "flux-kustomize"])
def test_flux_wrappers_keep_the_release_s_non_local_replaces(tool: str) -> None:
    """A Flux release pins go-digest (and kustomize-controller kustomize and yaml.v3) by `replace`,
    which a dependent module ignores: the wrapper must carry them, or the build takes other versions."""
    gomod = go_mod(tool)
    assert re.search(r"^replace github\.com/opencontainers/go-digest => \S+ v\S+$", gomod, re.M), gomod[:400]
    assert "=> ./" not in gomod, "a local replace cannot work outside the release's own tree"


def test_build_sh_builds_only_the_tools_the_wrapper_modules_declare() -> None:
    build = (CLUSTER / "build.sh").read_text()
    rows = re.findall(r'^\s*"(\S+)\s+(\S+)\s+(\S+)\s+\$(\w+)"$', build, re.M)
    assert {r[0] for r in rows} == {
        "etcd", "kwok", "helm", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl",
        "source-controller", "kustomize-controller", "rollouts-controller",
    }  # fmt: skip
    for _name, tool, package, _pin in rows:
        assert re.search(rf"^\s*(tool\s+)?{re.escape(package)}$", go_mod(tool), re.M), (
            f"build.sh builds {package} but tools/{tool}/go.mod has no tool directive for it"
        )


SCRIPTS = [
    p
    for pattern in ("**/*.sh", "**/Makefile", "**/*.py", ".ci/*")
    for p in REPO.glob(pattern)
    if ".venv" not in p.parts and ".local" not in p.parts and p.name != Path(__file__).name
]


def test_no_script_fetches_a_go_module_without_an_exact_version() -> None:
    assert any(p.name == "update.sh" for p in SCRIPTS)
    offenders = []
    for path in SCRIPTS:
        for line in path.read_text().splitlines():
            code = line.split("#", 1)[0]
            for m in re.finditer(r"\bgo (get|install)\b(?P<args>[^;&|)]*)", code):
                modules = [a for a in m.group("args").split() if not a.startswith("-")]
                if not modules or any("@" not in a or a.endswith(("@latest", "@upgrade")) for a in modules):
                    offenders.append(f"{path.relative_to(REPO)}: {line.strip()}")
    assert not offenders, "unpinned go get/install:\n" + "\n".join(offenders)


# ------------------------------------------------------------------------------------------- Python


def lock(name: str) -> dict[str, str]:
    """package -> pinned version; every pin must carry hashes (pip's --require-hashes mode)."""
    text = (REPO / "requirements" / name).read_text()
    pins = {}
    for block in re.split(r"\n(?=\S)", text):
        m = re.match(r"([A-Za-z0-9_.\-\[\]]+)==(\S+)", block)
        if m:
            assert "--hash=sha256:" in block, f"requirements/{name}: {m.group(1)} has no hash"
            pins[canonicalize_name(m.group(1))] = m.group(2)
    return pins


def project() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


@pytest.mark.parametrize(
    ("lock_name", "extras"), [("runtime.txt", []), ("dev.txt", ["dev"])], ids=["runtime", "dev"]
)
def test_the_python_lock_satisfies_pyproject(lock_name: str, extras: list[str]) -> None:
    pins = lock(lock_name)
    wanted = list(project()["dependencies"])
    for extra in extras:
        wanted += project()["optional-dependencies"][extra]
    stale = []
    for spec in map(Requirement, wanted):
        version = pins.get(canonicalize_name(spec.name))
        if version is None or not spec.specifier.contains(version, prereleases=True):
            stale.append(f"{spec} (locked: {version})")
    assert not stale, f"requirements/{lock_name} is stale, run `make lock`: " + ", ".join(stale)


def test_dev_lock_pins_the_runtime_packages_at_the_runtime_lock_versions() -> None:
    runtime, dev = lock("runtime.txt"), lock("dev.txt")
    assert {n: dev.get(n) for n in runtime} == runtime


def test_pyproject_keeps_lower_bounds_for_users_not_pins() -> None:
    for spec in map(Requirement, project()["dependencies"]):
        assert not any(s.operator == "==" for s in spec.specifier), f"{spec}: pins belong in the lock"
