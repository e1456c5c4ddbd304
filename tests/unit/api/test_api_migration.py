"""An Argo Rollouts manifest migrates by changing its apiVersion; what we lack is named, never dropped."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from rollouts.api import (
    AnalysisTemplate,
    PodTemplateHashValue,
    Rollout,
    parse_object,
    validation_errors,
)

# Shaped like the manifests in Argo Rollouts' documentation (argoproj.io/v1alpha1), written for this test.
ARGO_ROLLOUT = """
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: guestbook
  namespace: demo
spec:
  replicas: 5
  revisionHistoryLimit: 2
  progressDeadlineSeconds: 300
  progressDeadlineAbort: true
  selector:
    matchLabels:
      app: guestbook
  template:
    metadata:
      labels:
        app: guestbook
    spec:
      containers:
      - name: guestbook
        image: argoproj/rollouts-demo:blue
  strategy:
    canary:
      canaryService: guestbook-canary
      stableService: guestbook-stable
      maxSurge: "20%"
      maxUnavailable: 0
      abortScaleDownDelaySeconds: 60
      trafficRouting:
        nginx:
          stableIngress: guestbook
          additionalIngressAnnotations:
            canary-by-header: X-Canary
      analysis:
        templates:
        - templateName: success-rate
        startingStep: 2
        args:
        - name: service-name
          value: guestbook-canary
        - name: canary-hash
          valueFrom:
            podTemplateHashValue: Latest
      steps:
      - setWeight: 20
      - pause: {duration: 10}
      - setWeight: 40
      - pause: {duration: 1h}
      - analysis:
          templates:
          - templateName: success-rate
            clusterScope: true
      - setWeight: 80
      - pause: {}
"""

ARGO_TEMPLATE = """
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: success-rate
spec:
  args:
  - name: service-name
  - name: api-token
    valueFrom:
      secretKeyRef:
        name: token-secret
        key: token
  metrics:
  - name: success-rate
    interval: 5m
    successCondition: result[0] >= 0.95
    failureLimit: 3
    provider:
      prometheus:
        address: http://prometheus.example.com:9090
        query: |
          sum(irate(istio_requests_total{reporter="source",destination_service=~"{{args.service-name}}",response_code!~"5.*"}[5m]))
          /
          sum(irate(istio_requests_total{reporter="source",destination_service=~"{{args.service-name}}"}[5m]))
  - name: webmetric
    successCondition: result == true
    provider:
      web:
        url: "http://my-server.com/api/v1/measurement?service={{ args.service-name }}"
        timeoutSeconds: 20
        headers:
        - key: Authorization
          value: "Bearer {{ args.api-token }}"
        jsonPath: "{$.results.ok}"
"""


def _migrated(text: str) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(text)
    doc["apiVersion"] = "rollouts.dev/v1alpha1"
    return doc


def test_argo_rollout_parses_once_the_api_version_is_changed() -> None:
    rollout = parse_object(_migrated(ARGO_ROLLOUT))
    assert isinstance(rollout, Rollout)
    canary = rollout.spec.strategy.canary
    assert canary is not None and canary.steps is not None and canary.analysis is not None
    assert (canary.max_surge, canary.max_unavailable) == ("20%", 0)
    assert canary.analysis.starting_step == 2
    args = canary.analysis.args or []
    assert args[1].value_from is not None
    assert args[1].value_from.pod_template_hash_value is PodTemplateHashValue.LATEST
    assert [s.pause.seconds for s in canary.steps if s.pause] == [10.0, 3600.0, None]
    analysis_step = canary.steps[4].analysis
    assert analysis_step is not None and analysis_step.templates[0].cluster_scope is True


def test_argo_analysis_template_parses_once_the_api_version_is_changed() -> None:
    template = parse_object(_migrated(ARGO_TEMPLATE))
    assert isinstance(template, AnalysisTemplate)
    first, second = template.spec.metrics
    assert first.interval == "5m" and first.failure_limit == 3
    assert first.consecutive_error_limit == 4  # Argo's default
    assert second.provider.web is not None and second.provider.web.json_path == "{$.results.ok}"


# A smoke-test Job metric shaped like the ones in Argo Rollouts' documentation, written for this test.
ARGO_JOB_TEMPLATE = """
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: smoke
spec:
  args:
  - name: canary-host
  metrics:
  - name: smoke
    count: 1
    provider:
      job:
        metadata:
          labels:
            team: checkout
        spec:
          backoffLimit: 1
          template:
            spec:
              restartPolicy: Never
              containers:
              - name: check
                image: curlimages/curl:8.10.1
                command: [curl, --fail, "http://{{args.canary-host}}/healthz"]
"""


def test_argo_job_metric_parses_once_the_api_version_is_changed() -> None:
    template = parse_object(_migrated(ARGO_JOB_TEMPLATE))
    assert isinstance(template, AnalysisTemplate)
    job = template.spec.metrics[0].provider.job
    assert job is not None and job.metadata is not None and job.metadata.labels == {"team": "checkout"}
    assert (
        job.spec["template"]["spec"]["containers"][0]["command"][-1] == "http://{{args.canary-host}}/healthz"
    )


def test_the_argo_api_version_itself_gets_a_migration_hint() -> None:
    assert validation_errors(yaml.safe_load(ARGO_ROLLOUT)) == [
        "Rollout demo/guestbook: `apiVersion`: apiVersion is argoproj.io/v1alpha1 (Argo Rollouts); "
        "change it to rollouts.dev/v1alpha1"
    ]


def test_a_workload_ref_takes_the_place_of_the_template() -> None:
    doc = _migrated(ARGO_ROLLOUT)
    doc["spec"]["workloadRef"] = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "guestbook"}
    assert validation_errors(doc) == [  # beside spec.template: one of the two
        "Rollout demo/guestbook: `spec.template`: set exactly one of template (the pods, written here) "
        "or workloadRef (a Deployment whose template the Rollout runs)",
    ]
    del doc["spec"]["template"]
    assert validation_errors(doc) == []


def test_argo_features_we_lack_are_named_not_dropped() -> None:
    doc = _migrated(ARGO_ROLLOUT)
    canary = doc["spec"]["strategy"]["canary"]
    canary["steps"][2] = {"plugin": {"name": "argoproj-labs/sample"}}
    canary["trafficRouting"]["alb"] = {"ingress": "web"}
    errors = validation_errors(doc)
    assert [line.split("`")[1] for line in errors] == [
        "spec.strategy.canary.steps[2].plugin",
        "spec.strategy.canary.trafficRouting.alb",
    ]


ARGO_PING_PONG = """
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: orders
spec:
  selector:
    matchLabels: {app: orders}
  template:
    metadata:
      labels: {app: orders}
    spec:
      containers:
      - name: orders
        image: ghcr.io/example/orders:3.1
  strategy:
    canary:
      pingPong:
        pingService: orders-a
        pongService: orders-b
      trafficRouting:
        istio:
          virtualService:
            name: orders
            routes: [main]
      steps:
      - setWeight: 40
      - pause: {duration: 30s}
"""


@pytest.mark.parametrize("by_subset", [False, True], ids=["by-host", "by-subset"])
def test_an_argo_ping_pong_canary_with_istio_parses_once_the_api_version_is_changed(by_subset: bool) -> None:
    doc = _migrated(ARGO_PING_PONG)
    istio = doc["spec"]["strategy"]["canary"]["trafficRouting"]["istio"]
    if by_subset:
        istio["destinationRule"] = {"name": "orders", "canarySubsetName": "b", "stableSubsetName": "a"}
    rollout = parse_object(doc)
    assert isinstance(rollout, Rollout)
    strategy = rollout.with_service_roles().spec.strategy.canary
    assert strategy is not None and (strategy.stable_service, strategy.canary_service) == (
        "orders-a",
        "orders-b",
    )


ARGO_HEADER_ROUTES = """
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: catalog
spec:
  replicas: 3
  selector:
    matchLabels: {app: catalog}
  template:
    metadata:
      labels: {app: catalog}
    spec:
      containers:
      - {name: catalog, image: registry.example/catalog:2.4}
  strategy:
    canary:
      canaryService: catalog-preview
      stableService: catalog-live
      trafficRouting:
        managedRoutes:
        - name: qa-header
        - name: shadow-reads
        istio:
          virtualService:
            name: catalog
            routes: [main]
      steps:
      - setCanaryScale: {weight: 10}
      - setHeaderRoute:
          name: qa-header
          match:
          - headerName: X-QA
            headerValue: {exact: "1"}
          - headerName: user-agent
            headerValue: {prefix: "qa-bot/"}
          - headerName: x-build
            headerValue: {regex: "^2\\\\.4\\\\..*"}
      - setMirrorRoute:
          name: shadow-reads
          percentage: 20
          match:
          - method: {exact: GET}
            path: {prefix: /items}
            headers:
              x-region: {exact: eu}
      - pause: {}
      - setMirrorRoute:
          name: shadow-reads
      - setWeight: 30
      - pause: {duration: 30s}
"""


def test_argo_header_and_mirror_routes_parse_once_the_api_version_is_changed() -> None:
    rollout = parse_object(_migrated(ARGO_HEADER_ROUTES))
    assert isinstance(rollout, Rollout)
    canary = rollout.spec.strategy.canary
    assert canary is not None and canary.steps is not None and canary.traffic_routing is not None
    assert canary.traffic_routing.managed_route_names() == ["qa-header", "shadow-reads"]
    header = canary.steps[1].set_header_route
    assert header is not None and [m.header_name for m in header.match or []] == [
        "x-qa",
        "user-agent",
        "x-build",
    ]
    mirror = canary.steps[2].set_mirror_route
    assert mirror is not None and mirror.percentage == 20 and mirror.match is not None
    assert mirror.match[0].headers is not None and mirror.match[0].headers["x-region"].exact == "eu"
    removal = canary.steps[4].set_mirror_route
    assert removal is not None and removal.match is None


def test_argo_header_routes_behind_nginx_are_refused_when_nginx_cannot_hold_them() -> None:
    doc = _migrated(ARGO_HEADER_ROUTES)
    doc["spec"]["strategy"]["canary"]["trafficRouting"] = {
        "managedRoutes": [{"name": "qa-header"}, {"name": "shadow-reads"}],
        "nginx": {"stableIngress": "catalog"},
    }
    errors = validation_errors(doc)
    assert len(errors) == 1 and "with nginx, managedRoutes holds one route" in errors[0], errors
