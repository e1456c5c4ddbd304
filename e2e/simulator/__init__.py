"""Traffic simulator: request metrics for pods that serve nothing.

KWOK pods run no containers, so nothing answers a request in the local cluster. The simulator reads
the live router objects (NGINX canary Ingresses, Istio VirtualServices and DestinationRules), the
Services and the ready pods behind them, and counts the requests a real proxy would have served per
version, with each version's error rate and latency chosen by its image tag (`profiles`). It serves
them as `nginx_ingress_controller_requests` / `istio_requests_total` plus duration histograms, shaped
like the real exporters' series, for the local Prometheus to scrape every second.

It also serves what the applications themselves would export, since the router metrics cannot tell two
revisions behind one Service apart (NGINX labels by Service, not pod) and a baseline/canary comparison
needs exactly that: `http_requests_total{namespace, rollouts_pod_template_hash, code}` and the
`http_request_duration_seconds` histogram (same labels, seconds, the Go client's default buckets), as
a Prometheus client library would export them from every pod and Prometheus's pod relabelling would
label them with the pod's `rollouts-pod-template-hash` (or `pod-template-hash`). One series set per
revision, not per pod; each request a pod served counts once, whichever router sent it (Istio's two
reporters are one request; a mirror's shadow requests are served by the mirror's pods, so they
count); the proxy's own 503s for a route with no ready pod are no pod's, so they have none. A canary's
error rate beside its baseline's, both behind one Service:

    sum by (rollouts_pod_template_hash) (rate(http_requests_total{namespace="demo", code=~"5.."}[1m]))
      / sum by (rollouts_pod_template_hash) (rate(http_requests_total{namespace="demo"}[1m]))

By default every request is plain (`GET /`, no headers, no cookies), so header and cookie canaries
get nothing and Istio's header routes are passed over. A request mix (`mix.RequestClass`) adds tagged
requests, each class with its share of the rate, method, path, headers and cookies; NGINX decides each
class by header, cookie, then weight, Istio by its first matching http route (mirrors included), and
a tagged class's series carry `request_class="<name>"` (plain series have no such label), the app
series too.

Layout: pure code (`backends`, `mix`, `nginx`, `istio`, `streams`, `counters`, `exposition`,
`simulation`) turns object dicts into per-revision streams and counter increments; thin I/O
(`observer`, `server`, `__main__`, `launcher`) reads the cluster, serves HTTP and registers the scrape
target.

    python -m e2e.simulator --namespace demo --port 9400     # or, from Python:
    with simulator(cluster, namespaces=["demo"]) as sim: ...
    python -m e2e.simulator -n demo --request-class 'share=0.2,name=beta,header:x-beta=yes'
    with simulator(cluster, namespaces=["demo"], request_classes=[RequestClass(share=0.2, ...)]): ...
"""

from __future__ import annotations

from e2e.simulator.backends import NamespaceObjects, Revision, revisions_behind
from e2e.simulator.launcher import RunningSimulator, SimulatorError, simulator
from e2e.simulator.mix import PLAIN, RequestClass, parse_request_class, request_mix
from e2e.simulator.profiles import HEALTHY, NO_ENDPOINTS, PROFILE_TABLE, Profile, profile_for
from e2e.simulator.server import Runner, Settings
from e2e.simulator.simulation import Simulation, streams_for
from e2e.simulator.streams import Stream

__all__ = [
    "HEALTHY",
    "NO_ENDPOINTS",
    "PLAIN",
    "PROFILE_TABLE",
    "NamespaceObjects",
    "Profile",
    "RequestClass",
    "Revision",
    "Runner",
    "RunningSimulator",
    "Settings",
    "Simulation",
    "SimulatorError",
    "Stream",
    "parse_request_class",
    "profile_for",
    "request_mix",
    "revisions_behind",
    "simulator",
    "streams_for",
]
