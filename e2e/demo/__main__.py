"""`make demo` (`python -m e2e.demo`): a good version promoted and a bad one rolled back, live.

On the local cluster (`make cluster-up`; `make demo` does that first), each part timed and printed as it
happens:
1. install the CRDs (ours, generated in crds/, and the minimal Istio ones) and wait until Established;
2. create a fresh `rollouts-demo` namespace (or `--namespace`) and apply examples/demo/: a Rollout
   behind an NGINX Ingress with short steps (setWeight 20, analysis, setWeight 50, pause 10s) and its
   success-rate AnalysisTemplate;
3. start the traffic simulator for the namespace and `kube-rollouts run --prometheus-address ...`;
4. wait for the first revision to become stable and show what Prometheus records of its traffic;
5. roll out a good image: steps advance on passing analysis, it is promoted;
6. roll out a bad image (its tag contains `bad`, so 30 % of its simulated requests fail): the analysis
   fails and the controller rolls back on its own;
7. summarise what happened and how long each part took.

Nothing is simulated but the requests: every line shows state read back from the API server or
Prometheus. Exit 0 when the good version was promoted and the bad one rolled back, 1 (saying what did
not happen and where the logs are) otherwise, 130 on Ctrl-C. The controller and the simulator the demo
started are stopped on every way out.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from contextlib import ExitStack
from types import FrameType

import httpx

from e2e.cluster import ClusterError, ensure_up
from e2e.demo.context import REPO, Demo, DemoError, Timeline, show
from e2e.demo.delivery import BAD_IMAGE, GOOD_IMAGE, ROLLOUT, bad_version, first_revision, good_version
from e2e.demo.processes import controller_missing, keep_simulator_log, log_dir, start_controller
from e2e.simulator import SimulatorError, simulator

NAMESPACE = "rollouts-demo"
MANIFESTS = REPO / "examples" / "demo"


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


def apply_manifests(demo: Demo) -> None:
    for manifest in ("success-rate.yaml", "canary-nginx.yaml"):
        show(demo.kubectl("apply", "-f", str(MANIFESTS / manifest)))


def show_traffic(demo: Demo) -> None:
    """What Prometheus recorded of the simulated users' requests, by backend and status."""
    requests = f'nginx_ingress_controller_requests{{namespace="{demo.namespace}"}}'
    query = f"sum by (ingress, service, canary, status) (rate({requests}[5s]))"
    time.sleep(6)  # a few scrapes, so the 5 s rate covers only traffic to what is there now
    print(f"    PromQL: {query}")
    # Series of earlier moments (e.g. 503s before the first pods were Ready) stay, at rate 0: skip those.
    result = [s for s in demo.promql(query) if float(s["value"][1]) >= 0.05]
    if not result:
        print("    (no requests in the last 5 s: no Ingress with a backend in the namespace)")
    for series in sorted(result, key=lambda s: sorted(s["metric"].items())):
        m = series["metric"]
        canary = f" canary={m['canary']}" if m.get("canary") else ""
        print(
            f"    ingress={m.get('ingress')} service={m.get('service')}{canary} status={m.get('status')}:"
            f" {float(series['value'][1]):.1f} req/s"
        )
    if any(s["metric"].get("status") == "503" for s in result):
        print("    503s: no pod is Ready behind the Service (the proxy answers itself)")


def deliver(demo: Demo, running: ExitStack) -> None:
    timeline = demo.timeline
    with timeline.part("start the controller"):
        if reason := controller_missing():
            raise DemoError(f"cannot start the controller: {reason}")
        start_controller(demo, running)
    with timeline.part("first revision (nginx:1.27) becomes stable"):
        first_revision(demo)
    with timeline.part("its traffic as Prometheus sees it"):
        show_traffic(demo)
    with timeline.part(f"good version {GOOD_IMAGE}: steps advance on passing analysis, promoted"):
        good = good_version(demo)
    with timeline.part(f"bad version {BAD_IMAGE}: analysis fails, automatic rollback"):
        bad_version(demo, good=good)


def where_to_look(demo: Demo | None) -> str:
    if demo is None:
        return "    the local cluster's logs: .local/cluster/logs/"
    logs = log_dir(demo.namespace)
    return "\n".join(
        [
            f"    controller log: {demo.controller_log or logs / 'controller.log (not started)'}",
            f"    simulator log:  {logs / 'simulator.log'}",
            f"    the Rollout:    kubectl -n {demo.namespace} get rollout.rollouts.dev {ROLLOUT} -o yaml"
            f" (after `source .local/cluster/env`)",
        ]
    )


def summary(demo: Demo | None, timeline: Timeline) -> str:
    lines = ["", "What happened:"]
    lines += [f"  {line}" for line in (demo.story if demo else [])] or ["  (no delivery completed)"]
    return "\n".join([*lines, "", timeline.summary()])


def _terminated(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m e2e.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-delivery", action="store_true", help="stop after showing simulated traffic")
    parser.add_argument(
        "--namespace", default=NAMESPACE, help=f"namespace to (re)create (default {NAMESPACE})"
    )
    args = parser.parse_args(argv)
    # SIGTERM (a CI job cancelled, a test timing out) unwinds like Ctrl-C, so the children are stopped.
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminated) if in_main_thread else None
    if in_main_thread:  # Ctrl-C raises KeyboardInterrupt even where the shell started us ignoring it
        signal.signal(signal.SIGINT, signal.default_int_handler)
    timeline = Timeline()
    demo: Demo | None = None
    try:
        with timeline.part("local cluster"):
            cluster = ensure_up(log=False)
            print(f"    API server {cluster.api_url}, Prometheus {cluster.prometheus_url}")
        demo = Demo(cluster=cluster, namespace=args.namespace, timeline=timeline)
        with timeline.part("install the CRDs"):
            install_crds(demo)
        with timeline.part(f"fresh namespace {demo.namespace}"):
            fresh_namespace(demo)
        with timeline.part("apply examples/demo/ (a Rollout behind NGINX, a success-rate AnalysisTemplate)"):
            apply_manifests(demo)
        with ExitStack() as running:
            with timeline.part("start the traffic simulator"):
                demo.sim = running.enter_context(simulator(cluster, namespaces=[demo.namespace], rate=50))
                keep_simulator_log(demo, demo.sim, running)
                print(f"    serving {demo.sim.url}/metrics, scraped as simulator={demo.sim.name}")
            if args.no_delivery:
                with timeline.part("simulated traffic as Prometheus sees it (no controller)"):
                    show_traffic(demo)
                timeline.skipped("deliver a good version, then a bad one", "--no-delivery")
            else:
                deliver(demo, running)
            print("\n==> stopping the controller and the simulator", flush=True)
    except KeyboardInterrupt:
        print("\ndemo: interrupted; the controller and simulator it started are stopped", file=sys.stderr)
        print(summary(demo, timeline))
        return 130
    except (ClusterError, DemoError, SimulatorError, httpx.HTTPError) as exc:
        print(summary(demo, timeline))
        print(f"\ndemo FAILED: {exc}\nWhere to look:\n{where_to_look(demo)}", file=sys.stderr)
        return 1
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)
    print(summary(demo, timeline))
    if not args.no_delivery:
        print(
            f"\nThe namespace stays for a look: kubectl -n {demo.namespace} get "
            "rollouts.rollouts.dev,analysisruns.rollouts.dev,ingress"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
