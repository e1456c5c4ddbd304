"""`make demo` (`python -m e2e.demo`): the examples on the local cluster, with simulated traffic.

What it does, each part timed and printed as it happens:
1. install the CRDs (ours, generated in crds/, and the minimal Istio ones) and wait until Established;
2. create a fresh `rollouts-demo` namespace and apply examples/analysis-template-success-rate.yaml and
   examples/canary-nginx.yaml;
3. start the traffic simulator for the namespace and show `kubectl get rollouts` and what Prometheus
   recorded of the simulated requests (a PromQL query over the last 10 s);
4. deliver (`deliver()`): when the controller exists (`rollouts/controller/__main__.py`), start it,
   roll out a good version and then a bad one, showing the Rollout's live state; skipped, with the
   reason, when it does not (or with `--no-delivery`);
5. a summary of how long each part took.

Nothing is simulated but the requests: every line shows state read back from the API server or
Prometheus. Needs a running local cluster (`make cluster-up`; `make demo` does that first).
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import time
from contextlib import ExitStack

import httpx

from e2e.cluster import ClusterError, ensure_up
from e2e.demo.context import REPO, Demo, DemoError, Timeline, show
from e2e.demo.delivery import deliver
from e2e.simulator import SimulatorError, simulator

NAMESPACE = "rollouts-demo"
ROLLOUT = "web"


def install_crds(demo: Demo) -> None:
    demo.kubectl("apply", "-f", str(REPO / "e2e" / "crds" / "istio.yaml"), namespaced=False)
    # Server-side: the Rollout CRD is larger than client-side apply's last-applied annotation allows.
    crds = str(REPO / "crds")
    show(demo.kubectl("apply", "--server-side", "--force-conflicts", "-f", crds, namespaced=False))
    demo.kubectl("wait", "--for=condition=Established", "crd", "--all", "--timeout=60s", namespaced=False)


def fresh_namespace(demo: Demo) -> None:
    """A clean namespace, so a second `make demo` starts from the same place as the first."""
    ns = demo.namespace
    demo.kubectl("delete", "namespace", ns, "--ignore-not-found", "--timeout=120s", namespaced=False)
    demo.kubectl("create", "namespace", demo.namespace, namespaced=False)
    # Pods need the default ServiceAccount, which the controller-manager adds shortly after.
    demo.kubectl("wait", "--for=create", "serviceaccount/default", "--timeout=30s")
    print(f"    namespace {demo.namespace} created")


def apply_examples(demo: Demo) -> None:
    for example in ("analysis-template-success-rate.yaml", "canary-nginx.yaml"):
        show(demo.kubectl("apply", "-f", str(REPO / "examples" / example)))


def show_state(demo: Demo) -> None:
    show(demo.kubectl("get", "rollouts"))
    show(demo.kubectl("get", "replicasets,pods,ingress"))


def show_traffic(demo: Demo) -> None:
    """What Prometheus recorded of the simulated users' requests, by backend and status."""
    assert demo.sim is not None
    time.sleep(6)  # a few scrapes of traffic, so the 5 s rate covers only simulated time
    requests = f'nginx_ingress_controller_requests{{namespace="{demo.namespace}"}}'
    query = f"sum by (ingress, service, canary, status) (rate({requests}[5s]))"
    print(f"    PromQL: {query}")
    result = demo.promql(query)
    if not result:
        print("    (no series: no stable Ingress with a backend in the namespace)")
    for series in result:
        m = series["metric"]
        canary = f" canary={m['canary']}" if m.get("canary") else ""
        print(
            f"    ingress={m.get('ingress')} service={m.get('service')}{canary} status={m.get('status')}:"
            f" {float(series['value'][1]):.1f} req/s"
        )
    if any(s["metric"].get("status") == "503" for s in result):
        print("    503s: nothing is Ready behind the Service yet (without a controller no ReplicaSet exists)")


def controller_available() -> str | None:
    """Why the delivery part cannot run yet, or None when the controller's entry point is there."""
    if importlib.util.find_spec("rollouts.controller.__main__") is None:
        return "the controller (rollouts/controller/__main__.py, `kube-rollouts run`) does not exist yet"
    argv = [sys.executable, "-m", "rollouts.controller", "run", "--help"]
    res = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    if res.returncode != 0:
        return f"`kube-rollouts run --help` fails: {(res.stderr or res.stdout).strip()[-300:]}"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m e2e.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-delivery", action="store_true", help="stop after showing the examples")
    parser.add_argument("--namespace", default=NAMESPACE)
    args = parser.parse_args(argv)
    timeline = Timeline()
    try:
        with timeline.part("local cluster"):
            cluster = ensure_up(log=False)
            print(f"    API server {cluster.api_url}, Prometheus {cluster.prometheus_url}")
        demo = Demo(cluster=cluster, namespace=args.namespace, timeline=timeline)
        with timeline.part("install the CRDs"):
            install_crds(demo)
        with timeline.part(f"fresh namespace {demo.namespace}"):
            fresh_namespace(demo)
        with timeline.part("apply examples/ (a Rollout behind NGINX, a success-rate AnalysisTemplate)"):
            apply_examples(demo)
            show_state(demo)
        with ExitStack() as running:
            with timeline.part("start the traffic simulator"):
                demo.sim = running.enter_context(simulator(cluster, namespaces=[demo.namespace], rate=50))
                print(f"    serving {demo.sim.url}/metrics, scraped as simulator={demo.sim.name}")
            with timeline.part("simulated traffic as Prometheus sees it"):
                show_traffic(demo)
            reason = "--no-delivery" if args.no_delivery else controller_available()
            if reason:
                timeline.skipped("deliver a good version, then a bad one", reason)
            else:
                deliver(demo, running)
    except KeyboardInterrupt:
        print("\ndemo: interrupted; the controller and simulator it started are stopped", file=sys.stderr)
        print("\n" + timeline.summary())
        return 130
    except (ClusterError, DemoError, SimulatorError, httpx.HTTPError) as exc:
        print(f"\ndemo: {exc}", file=sys.stderr)
        print("\n" + timeline.summary())
        return 1
    print("\n" + timeline.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
