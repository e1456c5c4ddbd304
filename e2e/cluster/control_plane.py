"""Bring the local control plane up, report on it, take it down.

`ensure_up` is idempotent: a healthy cluster recorded in the state folder is reused as is (a warm
start costs one health probe); anything else (dead, half-started, stale PID files) is stopped,
wiped and started afresh. Every wait is bounded and a failure names the component and shows its
last log lines.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from e2e.cluster import debian, pki
from e2e.cluster.processes import (
    ClusterError,
    Proc,
    alive,
    free_port,
    http_ok,
    recorded,
    start,
    stop,
    wait_for,
)

REPO = Path(__file__).resolve().parents[2]
BUILD_SH = Path(__file__).with_name("build.sh")
NODES = 3
NODE_ANNOTATION = "kwok.x-k8s.io/node"
# Order matters: each one needs the ones before it; they are stopped in reverse.
COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok", "prometheus")


def state_dir() -> Path:
    return Path(os.environ.get("KUBE_ROLLOUTS_CLUSTER_DIR", REPO / ".local" / "cluster")).resolve()


@dataclass(frozen=True)
class Cluster:
    """What a client needs to talk to the running cluster; also written to `<state>/env`."""

    kubeconfig: str
    prometheus_url: str
    prometheus_targets_dir: str
    bin_dir: str
    api_url: str

    def env(self) -> dict[str, str]:
        return {
            "KUBECONFIG": self.kubeconfig,
            "PROMETHEUS_URL": self.prometheus_url,
            "PROMETHEUS_TARGETS_DIR": self.prometheus_targets_dir,
            "KUBE_ROLLOUTS_BIN": self.bin_dir,
        }


def bin_dir() -> Path:
    """The cached binaries, built from the pinned modules on first use (see build.sh).

    The build's progress goes straight to stderr (one line per component as it starts and ends, and on
    failure the component, the command and its last output lines), so a first run on a new machine
    shows what it is doing for its ten minutes instead of sitting silent.
    """
    res = subprocess.run(["bash", str(BUILD_SH)], stdout=2)  # fd 2: progress and build on stderr
    if res.returncode != 0:
        raise ClusterError("building the control-plane binaries failed (build.sh said why, above)")
    path = subprocess.run(["bash", str(BUILD_SH), "path"], capture_output=True, text=True, check=True)
    return Path(path.stdout.strip())


def prometheus_binary() -> str:
    """Debian's Prometheus, installed on first use and checked for the tested version range."""
    try:
        debian.ensure(["prometheus"])
    except debian.DebianPackageError as exc:
        raise ClusterError(str(exc)) from exc
    found = shutil.which("prometheus")
    if not found:
        raise ClusterError("the prometheus package is installed but no `prometheus` binary is on PATH")
    return found


# --------------------------------------------------------------------------------------------- state


def _load(state: Path) -> Cluster | None:
    try:
        return Cluster(**json.loads((state / "cluster.json").read_text()))
    except (OSError, ValueError, TypeError):
        return None


def _write(state: Path, cluster: Cluster) -> None:
    (state / "cluster.json").write_text(json.dumps(asdict(cluster), indent=2) + "\n")
    lines = [f"export {k}={v}" for k, v in cluster.env().items()]
    # The real kubectl and helm we built come first on PATH for whoever sources this file.
    lines.append(f'export PATH="{cluster.bin_dir}:$PATH"')
    (state / "env").write_text("\n".join(lines) + "\n")


def _client_ssl(state: Path) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(state / "pki" / "ca.crt"))
    ctx.load_cert_chain(str(state / "pki" / "admin.crt"), str(state / "pki" / "admin.key"))
    return ctx


def _insecure_ssl() -> ssl.SSLContext:
    # controller-manager and scheduler serve /healthz with a self-signed certificate of their own.
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def healthy(state: Path | None = None) -> Cluster | None:
    """The recorded cluster when every process runs and the API server and Prometheus answer."""
    state = state or state_dir()
    cluster = _load(state)
    procs = recorded(state)
    if cluster is None or set(procs) != set(COMPONENTS):
        return None
    if not (state / "audit-policy.yaml").is_file():
        return None  # started by an older cluster-up, without the audit log tests read
    if not all(alive(pid, exe) for pid, exe in procs.values()):
        return None
    if not http_ok(cluster.api_url + "/readyz", context=_client_ssl(state)):
        return None
    if not http_ok(cluster.prometheus_url + "/-/ready"):
        return None
    return cluster


def down(state: Path | None = None) -> list[str]:
    """Stop exactly the processes this tool started (checked by pid and executable); remove the state."""
    state = state or state_dir()
    with _exclusive(state):
        return _down(state)


ADDONS = ("flux",)
"""Sub-folders of the state where on-demand add-ons (e2e/cluster/flux.py) record their processes."""


def _down(state: Path) -> list[str]:
    procs = recorded(state)
    stopped = []
    for addon in ADDONS:  # first: they talk to the API server
        for name, (pid, exe) in recorded(state / addon).items():
            if alive(pid, exe):
                stopped.append(name)
            stop(state / addon, name, pid, exe)
    for name in reversed(COMPONENTS):
        if name in procs:
            pid, exe = procs[name]
            if alive(pid, exe):
                stopped.append(name)
            stop(state, name, pid, exe)
    for name, (pid, exe) in recorded(state).items():  # anything left from an older layout
        stop(state, name, pid, exe)
    shutil.rmtree(state, ignore_errors=True)
    return stopped


def status(state: Path | None = None) -> str:
    state = state or state_dir()
    cluster = _load(state)
    procs = recorded(state)
    if cluster is None and not procs:
        return f"no local cluster (state folder {state} is empty); start one with `make cluster-up`"
    rows = []
    for name in COMPONENTS:
        if name not in procs:
            rows.append(f"  {name:<24} not started")
            continue
        pid, exe = procs[name]
        rows.append(f"  {name:<24} {'running' if alive(pid, exe) else 'DEAD'} (pid {pid})")
    verdict = "healthy" if healthy(state) else "NOT healthy (run `make cluster-up` to restart it)"
    head = f"local cluster: {verdict}"
    if cluster:
        head += f"\n  API server {cluster.api_url}\n  Prometheus {cluster.prometheus_url}"
        head += f"\n  source {state / 'env'} to use it"
    return head + "\n" + "\n".join(rows)


# --------------------------------------------------------------------------------------------- start


@contextlib.contextmanager
def _exclusive(state: Path) -> Iterator[None]:
    """One cluster-up/down at a time per state folder (two test runs must not restart each other's)."""
    state.parent.mkdir(parents=True, exist_ok=True)
    with open(state.parent / f".{state.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def ensure_up(state: Path | None = None, *, log: bool = True) -> Cluster:
    state = state or state_dir()
    with _exclusive(state):
        return _ensure_up(state, log=log)


def _ensure_up(state: Path, *, log: bool) -> Cluster:
    reused = healthy(state)
    if reused is not None:
        if log:
            print(f"cluster-up: reusing the healthy cluster at {reused.api_url}")
        return reused
    if recorded(state) or state.exists():
        if log:
            print(f"cluster-up: cleaning up a stopped or half-started cluster in {state}")
        _down(state)
    started = time.monotonic()
    try:
        cluster = _start(state)
    except ClusterError:
        # Leave logs for the reader, but no processes: the next call starts from scratch.
        for name, (pid, exe) in recorded(state).items():
            stop(state, name, pid, exe)
        raise
    if log:
        print(f"cluster-up: ready in {time.monotonic() - started:.1f}s; source {state / 'env'} to use it")
    return cluster


def _start(state: Path) -> Cluster:
    binaries = bin_dir()
    prometheus = prometheus_binary()
    logs, pki_dir = state / "logs", state / "pki"
    state.mkdir(parents=True, exist_ok=True)
    pki.make_pki(pki_dir)
    p = {n: free_port() for n in ("etcd", "etcd_peer", "api", "kcm", "sched", "kwok", "prom")}
    api_url = f"https://127.0.0.1:{p['api']}"
    kubeconfig = state / "kubeconfig"
    kubeconfig.write_text(pki.kubeconfig(server=api_url, pki=pki_dir))
    targets = state / "prometheus" / "targets"
    targets.mkdir(parents=True)
    cluster = Cluster(
        kubeconfig=str(kubeconfig),
        prometheus_url=f"http://127.0.0.1:{p['prom']}",
        prometheus_targets_dir=str(targets),
        bin_dir=str(binaries),
        api_url=api_url,
    )

    def run(name: str, argv: list[str]) -> tuple[Proc, subprocess.Popen[bytes]]:
        proc = Proc(name, argv, logs / f"{name}.log")
        return proc, start(state, proc)

    etcd_url = f"http://127.0.0.1:{p['etcd']}"
    peer = f"http://127.0.0.1:{p['etcd_peer']}"
    proc, child = run(
        "etcd",
        [
            str(binaries / "etcd"), "--name=local", f"--data-dir={state / 'etcd'}",
            f"--listen-client-urls={etcd_url}", f"--advertise-client-urls={etcd_url}",
            f"--listen-peer-urls={peer}", f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster=local={peer}", "--unsafe-no-fsync", "--log-level=warn",
        ],
    )  # fmt: skip
    wait_for("etcd", lambda: http_ok(etcd_url + "/health"), timeout=30, proc=proc, child=child)

    proc, child = run(
        "kube-apiserver",
        [
            str(binaries / "kube-apiserver"), f"--etcd-servers={etcd_url}",
            "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", f"--secure-port={p['api']}",
            f"--tls-cert-file={pki_dir / 'apiserver.crt'}",
            f"--tls-private-key-file={pki_dir / 'apiserver.key'}",
            f"--client-ca-file={pki_dir / 'ca.crt'}", f"--cert-dir={state / 'apiserver-certs'}",
            f"--service-account-key-file={pki_dir / 'sa.pub'}",
            f"--service-account-signing-key-file={pki_dir / 'sa.key'}",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-cluster-ip-range={pki.SERVICE_CLUSTER_IP_RANGE}",
            "--authorization-mode=RBAC", "--allow-privileged=true",
            # The `kubernetes` Service's endpoints would point at 127.0.0.1, which is not a valid
            # endpoint address; nothing in-cluster needs it here.
            "--endpoint-reconciler-type=none", "--profiling=false",
            # Who wrote what and when, for tests that must prove an order of writes (leader election).
            f"--audit-policy-file={_audit_policy(state)}", f"--audit-log-path={logs / 'audit.log'}",
            "--audit-log-maxsize=64", "--audit-log-maxbackup=1", "--audit-log-format=json",
        ],
    )  # fmt: skip
    ctx = _client_ssl(state)
    ready = api_url + "/readyz"
    wait_for("kube-apiserver", lambda: http_ok(ready, context=ctx), timeout=90, proc=proc, child=child)

    insecure = _insecure_ssl()
    for name, port in (("kube-controller-manager", p["kcm"]), ("kube-scheduler", p["sched"])):
        argv = [
            str(binaries / name), f"--kubeconfig={kubeconfig}", f"--authentication-kubeconfig={kubeconfig}",
            f"--authorization-kubeconfig={kubeconfig}", "--leader-elect=false",
            "--bind-address=127.0.0.1", f"--secure-port={port}",
            # client-go's 20 requests/s (kcm) would make creating the pods of 1,000 canaries take
            # 50 s and dominate every scale figure; a production control plane raises it likewise.
            "--kube-api-qps=100", "--kube-api-burst=200",
        ]  # fmt: skip
        if name == "kube-controller-manager":
            argv += [
                f"--service-account-private-key-file={pki_dir / 'sa.key'}",
                f"--root-ca-file={pki_dir / 'ca.crt'}",
            ]
        proc, child = run(name, argv)
        url = f"https://127.0.0.1:{port}/healthz"
        wait_for(name, lambda url=url: http_ok(url, context=insecure), timeout=60, proc=proc, child=child)  # type: ignore[misc]

    # An explicit configuration, so a ~/.kwok/kwok.yaml on the machine cannot interfere: KWOK's
    # built-in node stages, and our pod stages (kwok-stages.yaml: pods Running and Ready as soon as
    # they are bound, and Job pods that end as their annotations ask).
    kwok_config = state / "kwok.yaml"
    kwok_config.write_text(
        "apiVersion: config.kwok.x-k8s.io/v1alpha1\nkind: KwokConfiguration\n---\n"
        + (Path(__file__).parent / "kwok-stages.yaml").read_text()
    )
    proc, child = run(
        "kwok",
        [
            str(binaries / "kwok"), f"--kubeconfig={kubeconfig}", "--manage-all-nodes=false",
            f"--manage-nodes-with-annotation-selector={NODE_ANNOTATION}=fake",
            # Renew each node's Lease like a kubelet: without it the node lifecycle controller marks
            # every node NotReady after its grace period (~50 s) and flips all pods to Ready=False.
            "--node-lease-duration-seconds=40",
            f"--server-address=127.0.0.1:{p['kwok']}", f"--config={kwok_config}",
        ],
    )  # fmt: skip
    _create_nodes(cluster)
    wait_for("KWOK nodes Ready", lambda: _nodes_ready(cluster), timeout=60, proc=proc, child=child)
    wait_for("the default ServiceAccount", lambda: _default_sa(cluster), timeout=60)

    prom_dir = state / "prometheus"
    (prom_dir / "prometheus.yml").write_text(_prometheus_config(targets))
    proc, child = run(
        "prometheus",
        [
            prometheus, f"--config.file={prom_dir / 'prometheus.yml'}",
            f"--storage.tsdb.path={prom_dir / 'data'}",
            f"--web.listen-address=127.0.0.1:{p['prom']}", "--web.enable-lifecycle",
            "--storage.tsdb.retention.time=1d", "--log.level=warn",
        ],
    )  # fmt: skip
    prom_ready = cluster.prometheus_url + "/-/ready"
    wait_for("prometheus", lambda: http_ok(prom_ready), timeout=60, proc=proc, child=child)
    _write(state, cluster)
    return cluster


# Writes to what a Rollout owns or steers, by anyone but the nodes (KWOK's pod and node updates would
# drown the rest); one Metadata line each.
AUDIT_POLICY = """\
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: None
  namespaces: [kube-node-lease, kube-system]
- level: None
  userGroups: ["system:nodes"]
- level: Metadata
  verbs: [create, update, patch, delete, deletecollection]
  resources:
  - group: rollouts.dev
  - group: apps
    resources: [replicasets]
  - group: ""
    resources: [services]
  - group: networking.k8s.io
  - group: networking.istio.io
  - group: coordination.k8s.io
- level: None
"""


def audit_log(cluster: Cluster) -> Path:
    """The API server's audit log of writes (see AUDIT_POLICY)."""
    return Path(cluster.kubeconfig).parent / "logs" / "audit.log"


def _audit_policy(state: Path) -> Path:
    path = state / "audit-policy.yaml"
    path.write_text(AUDIT_POLICY)
    return path


def _prometheus_config(targets: Path) -> str:
    # Scraped every second so tests and the demo see a change within a second or two; the targets
    # folder is watched, so a test adds a scrape target by writing one JSON/YAML file there.
    return f"""global:
  scrape_interval: 1s
  scrape_timeout: 900ms
  evaluation_interval: 1s
scrape_configs:
  - job_name: local-targets
    file_sd_configs:
      - files: ["{targets}/*.json", "{targets}/*.yaml", "{targets}/*.yml"]
        refresh_interval: 1s
"""


def kubectl(cluster: Cluster, *args: str, stdin: str | None = None, check: bool = True) -> str:
    res = subprocess.run(
        [str(Path(cluster.bin_dir) / "kubectl"), f"--kubeconfig={cluster.kubeconfig}", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if check and res.returncode != 0:
        raise ClusterError(f"kubectl {' '.join(args)} failed: {res.stderr.strip()}")
    return res.stdout


def _create_nodes(cluster: Cluster) -> None:
    # Room for 3000 pods: benchmarks run hundreds of Rollouts beside the test suite's own pods, and a
    # kubelet's default of 110 pods per node would leave them Pending for no reason the test cares about.
    docs = []
    for i in range(NODES):
        docs.append(
            f"""apiVersion: v1
kind: Node
metadata:
  name: kwok-node-{i}
  annotations: {{"{NODE_ANNOTATION}": fake, "node.alpha.kubernetes.io/ttl": "0"}}
  labels: {{type: kwok, kubernetes.io/hostname: kwok-node-{i},
           kubernetes.io/os: linux, kubernetes.io/arch: amd64}}
spec:
  taints: []
status:
  allocatable: {{cpu: "64", memory: 512Gi, pods: "1000"}}
  capacity: {{cpu: "64", memory: 512Gi, pods: "1000"}}
"""
        )
    kubectl(cluster, "apply", "-f", "-", stdin="---\n".join(docs))


def _nodes_ready(cluster: Cluster) -> bool:
    out = kubectl(
        cluster,
        "get",
        "nodes",
        "-o",
        "jsonpath={.items[*].status.conditions[?(@.type=='Ready')].status}",
        check=False,
    )
    return out.split() == ["True"] * NODES


def _default_sa(cluster: Cluster) -> bool:
    return bool(
        kubectl(cluster, "get", "serviceaccount", "default", "-n", "default", "-o", "name", check=False)
    )
