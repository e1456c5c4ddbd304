"""Flagger ``Canary`` manifests as kube-rollouts manifests, for ``kubectl rollouts convert``.

A Flagger Canary points at a Deployment and owns the rest: it clones the Deployment into
``<name>-primary``, creates the Services ``<apex>``, ``<apex>-primary`` and ``<apex>-canary``, and for
Istio its own VirtualService. kube-rollouts keeps all of that in the user's manifests, so one
Canary and its Deployment (both in the same file) become:

- a Rollout named like the Deployment, with its replicas, selector and pod template; the canary
  Service ``<apex>-canary`` and the stable Service ``<apex>`` (the one the user's Ingress already
  routes to under Flagger), both generated with the Canary's ``service`` ports;
- NGINX: the Canary's ``ingressRef`` as ``stableIngress``; Istio: a VirtualService ``<apex>`` for
  ``service.hosts`` (and ``gateways``) whose route ``primary`` sends 100 to ``<apex>`` and 0 to
  ``<apex>-canary``;
- steps: for each weight (``stepWeights``, or ``stepWeight`` up to ``maxWeight``) a ``setWeight``
  then a pause of ``analysis.interval``, the time Flagger holds a weight while it checks it;
- the metrics as a background analysis: Flagger's built-in ``request-success-rate`` and
  ``request-duration`` as AnalysisTemplates of our own PromQL for that router, a metric with a
  ``templateRef`` to a Prometheus MetricTemplate of the file with its query. ``thresholdRange``
  becomes the success condition (no data fails it, as a Flagger check without values fails), and
  ``threshold`` (failed checks before rollback) becomes ``failureLimit: threshold - 1``.

What has no counterpart (A/B ``match``, ``iterations``, ``mirror``, webhooks, another provider or
target kind) is reported, not dropped silently. Everything else in the file stays as it is.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rollouts.api.common import GROUP_VERSION
from rollouts.cli.manifests import Document, find_document

__all__ = ["FLAGGER_GROUP", "FlaggerConversion", "convert_canaries"]

FLAGGER_GROUP = "flagger.app/"

#: Canary fields this converter reads; a field outside them (under ``spec`` or ``spec.analysis``) is
#: reported, so nothing changes behaviour unnoticed.
_SPEC_FIELDS = frozenset(
    {"targetRef", "provider", "ingressRef", "service", "analysis", "progressDeadlineSeconds", "autoscalerRef"}
)
_ANALYSIS_FIELDS = frozenset({"interval", "threshold", "maxWeight", "stepWeight", "stepWeights", "metrics"})
_DEFAULT_INTERVAL = "1m"
_DISOWN = 'kubectl patch KIND NAME --type=json -p \'[{"op":"remove","path":"/metadata/ownerReferences"}]\''
_DEFAULT_MAX_WEIGHT = 50
_DEFAULT_STEP_WEIGHT = 10


@dataclass
class FlaggerConversion:
    """What the Canaries of one file became: the new documents, the indexes of the documents they
    replace (each Canary, its Deployment, the MetricTemplates used), a note for each thing that
    needs a hand, and advice for the switch-over (which needs no edit of the output)."""

    documents: list[dict[str, Any]] = field(default_factory=list)
    replaced: set[int] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)
    advice: list[str] = field(default_factory=list)


def convert_canaries(documents: tuple[Document, ...]) -> FlaggerConversion:
    """Convert every Flagger Canary of one file (with the Deployment it targets) and report the rest."""
    out = FlaggerConversion()
    flagger = [doc for doc in documents if doc.api_version.startswith(FLAGGER_GROUP)]
    for doc in flagger:
        if doc.kind == "Canary":
            _convert_one(doc, documents, out)
    for doc in flagger:
        if doc.index not in out.replaced:
            out.notes.append(f"{doc.where}: not converted; left as it is (it needs Flagger)")
    return out


def _convert_one(canary: Document, documents: tuple[Document, ...], out: FlaggerConversion) -> None:
    spec = _map(canary.body.get("spec"))
    target = _map(spec.get("targetRef"))
    where = canary.where
    if target.get("kind", "Deployment") != "Deployment":
        out.notes.append(f"{where}: spec.targetRef is a {target.get('kind')}; only a Deployment converts")
        return
    deployment = find_document(documents, "Deployment", str(target.get("name")), namespace=canary.namespace)
    if deployment is None:
        out.notes.append(
            f"{where}: Deployment {target.get('name')} (spec.targetRef) is not in this file; "
            "convert the file that holds both"
        )
        return
    provider = str(spec.get("provider") or "")
    if provider not in ("nginx", "istio"):
        out.notes.append(
            f"{where}: spec.provider is {provider or 'unset (Flagger then uses its mesh default)'}; "
            "kube-rollouts routes with nginx or istio: set one and convert again"
        )
        return
    if provider == "nginx" and not _map(spec.get("ingressRef")).get("name"):
        out.notes.append(f"{where}: the nginx provider needs spec.ingressRef; add it and convert again")
        return
    for unknown in sorted(set(spec) - _SPEC_FIELDS):
        out.notes.append(f"{where}: spec.{unknown} has no kube-rollouts counterpart; left out")
    analysis = _map(spec.get("analysis"))
    for unknown in sorted(set(analysis) - _ANALYSIS_FIELDS):
        out.notes.append(f"{where}: spec.analysis.{unknown} has no kube-rollouts counterpart; left out")
    built = _Builder(canary=canary, deployment=deployment, provider=provider, documents=documents)
    out.documents.extend(built.build())
    out.notes.extend(built.notes)
    out.replaced |= {canary.index, deployment.index, *built.used}
    owned = f"Services {built.apex} and {built.apex}-canary"
    if provider == "istio":
        owned += f" and VirtualService {built.apex}"
    out.advice.append(
        f"{where}: became Rollout {built.name} (Deployment {deployment.name} replaced). Flagger owns "
        f"{owned}: after applying, remove their ownerReferences ({_DISOWN}); then delete the Canary "
        f"only once the Rollout is Healthy: deleting it deletes {deployment.name}-primary, which "
        "serves the traffic until then"
    )
    if spec.get("autoscalerRef"):
        _retarget_autoscaler(canary, _map(spec.get("autoscalerRef")), built.name, documents, out)


def _retarget_autoscaler(
    canary: Document,
    ref: Mapping[str, Any],
    rollout: str,
    documents: tuple[Document, ...],
    out: FlaggerConversion,
) -> None:
    """Flagger points the Canary's HorizontalPodAutoscaler at ``<name>-primary``; here it scales
    the Rollout (its scale subresource), so the HPA of the file is rewritten to target it."""
    target = {"apiVersion": GROUP_VERSION, "kind": "Rollout", "name": rollout}
    hpa = find_document(
        documents, "HorizontalPodAutoscaler", str(ref.get("name")), namespace=canary.namespace
    )
    if hpa is None:
        out.notes.append(
            f"{canary.where}: HorizontalPodAutoscaler {ref.get('name')} (spec.autoscalerRef) is not in this "
            f"file; point its scaleTargetRef at Rollout {rollout} (apiVersion {GROUP_VERSION})"
        )
        return
    body = copy.deepcopy(dict(hpa.body))
    body["spec"] = {**_map(body.get("spec")), "scaleTargetRef": target}
    out.documents.append(body)
    out.replaced.add(hpa.index)


@dataclass
class _Builder:
    canary: Document
    deployment: Document
    provider: str
    documents: tuple[Document, ...]
    notes: list[str] = field(default_factory=list)
    used: set[int] = field(default_factory=set)
    """Indexes of the MetricTemplates that became AnalysisTemplates."""

    @property
    def spec(self) -> Mapping[str, Any]:
        return _map(self.canary.body.get("spec"))

    @property
    def analysis(self) -> Mapping[str, Any]:
        return _map(self.spec.get("analysis"))

    @property
    def name(self) -> str:
        return self.deployment.name

    @property
    def apex(self) -> str:
        return str(_map(self.spec.get("service")).get("name") or self.name)

    @property
    def interval(self) -> str:
        return str(self.analysis.get("interval") or _DEFAULT_INTERVAL)

    def metadata(self, name: str) -> dict[str, Any]:
        meta: dict[str, Any] = {"name": name}
        if self.canary.namespace:
            meta["namespace"] = self.canary.namespace
        return meta

    def build(self) -> list[dict[str, Any]]:
        templates = [t for t in (self.template(m) for m in self.metrics()) if t is not None]
        docs = [self.service(self.apex), self.service(f"{self.apex}-canary")]
        if self.provider == "istio":
            docs.append(self.virtual_service())
        return [*docs, *templates, self.rollout(templates)]

    def metrics(self) -> list[Mapping[str, Any]]:
        return [_map(m) for m in self.analysis.get("metrics") or []]

    def service(self, name: str) -> dict[str, Any]:
        service = _map(self.spec.get("service"))
        port = service.get("port", 80)
        # No spec.selector: kube-rollouts writes it (the Rollout's labels and the revision hash).
        return {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": self.metadata(name),
            "spec": {
                "ports": [
                    {
                        "name": str(service.get("portName") or "http"),
                        "port": port,
                        "targetPort": service.get("targetPort", port),
                    }
                ],
            },
        }

    def virtual_service(self) -> dict[str, Any]:
        service = _map(self.spec.get("service"))
        spec: dict[str, Any] = {"hosts": list(service.get("hosts") or [self.apex])}
        if service.get("gateways"):
            spec["gateways"] = list(service["gateways"])
        spec["http"] = [
            {
                "name": "primary",
                "route": [
                    {"destination": {"host": self.apex}, "weight": 100},
                    {"destination": {"host": f"{self.apex}-canary"}, "weight": 0},
                ],
            }
        ]
        return {
            "apiVersion": "networking.istio.io/v1beta1",
            "kind": "VirtualService",
            "metadata": self.metadata(self.apex),
            "spec": spec,
        }

    def steps(self) -> list[dict[str, Any]]:
        weights = self.analysis.get("stepWeights")
        if not weights:
            top = int(self.analysis.get("maxWeight") or _DEFAULT_MAX_WEIGHT)
            step = int(self.analysis.get("stepWeight") or _DEFAULT_STEP_WEIGHT)
            weights = [min(w, top) for w in range(step, top + step, step)]
        steps: list[dict[str, Any]] = []
        for weight in dict.fromkeys(int(w) for w in weights):
            steps += [{"setWeight": weight}, {"pause": {"duration": self.interval}}]
        return steps

    def rollout(self, templates: list[dict[str, Any]]) -> dict[str, Any]:
        deployment = _map(self.deployment.body.get("spec"))
        routing: dict[str, Any]
        if self.provider == "nginx":
            routing = {"nginx": {"stableIngress": str(_map(self.spec.get("ingressRef")).get("name"))}}
        else:
            routing = {"istio": {"virtualService": {"name": self.apex, "routes": ["primary"]}}}
        canary: dict[str, Any] = {
            "stableService": self.apex,
            "canaryService": f"{self.apex}-canary",
            "trafficRouting": routing,
            "steps": self.steps(),
        }
        if templates:
            canary["analysis"] = {
                "templates": [{"templateName": t["metadata"]["name"]} for t in templates],
                "args": self.args(),
            }
        spec: dict[str, Any] = {"replicas": deployment.get("replicas", 1)}
        for key in ("selector", "template", "minReadySeconds", "revisionHistoryLimit"):
            if key in deployment:
                spec[key] = deployment[key]
        deadline = self.spec.get("progressDeadlineSeconds", deployment.get("progressDeadlineSeconds"))
        if deadline is not None:
            spec["progressDeadlineSeconds"] = deadline
        spec["strategy"] = {"canary": canary}
        return {
            "apiVersion": GROUP_VERSION,
            "kind": "Rollout",
            "metadata": self.metadata(self.name),
            "spec": spec,
        }

    def args(self) -> list[dict[str, Any]]:
        args: list[dict[str, Any]] = [
            {"name": "namespace", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        ]
        if self.provider == "nginx":
            args.append({"name": "ingress", "value": str(_map(self.spec.get("ingressRef")).get("name"))})
        else:
            args.append({"name": "canary-service", "value": f"{self.apex}-canary"})
        return args

    def template(self, metric: Mapping[str, Any]) -> dict[str, Any] | None:
        name = str(metric.get("name") or "")
        window = str(metric.get("interval") or self.interval)
        address: str | None = None
        if metric.get("templateRef"):
            found = self.metric_template(metric, window)
            query, address = found if found is not None else (None, None)
        else:
            query = self.builtin_query(name, window)
        if query is None:
            return None
        prometheus: dict[str, Any] = {"query": query.strip()}
        if address:
            prometheus["address"] = address
        bounds = _map(metric.get("thresholdRange"))
        checks = [f"result[0] >= {bounds['min']}"] if "min" in bounds else []
        checks += [f"result[0] <= {bounds['max']}"] if "max" in bounds else []
        if not checks:
            self.notes.append(f"{self.canary.where}: metric {name} has no thresholdRange; left out")
            return None
        threshold = int(self.analysis.get("threshold") or 1)
        argument_names = ["namespace", "ingress" if self.provider == "nginx" else "canary-service"]
        return {
            "apiVersion": GROUP_VERSION,
            "kind": "AnalysisTemplate",
            "metadata": self.metadata(f"{self.name}-{name}"),
            "spec": {
                "args": [{"name": arg} for arg in argument_names],
                "metrics": [
                    {
                        "name": name,
                        "interval": window,
                        "failureLimit": max(0, threshold - 1),
                        "successCondition": " && ".join(["len(result) > 0", *checks]),
                        "provider": {"prometheus": prometheus},
                    }
                ],
            },
        }

    def builtin_query(self, name: str, window: str) -> str | None:
        """Flagger's built-in checks, in our PromQL over ``window`` (the metric's interval)."""
        if self.provider == "nginx":
            where = 'namespace="{{args.namespace}}", ingress="{{args.ingress}}", canary!=""'
            if name == "request-success-rate":
                return (
                    f'sum(rate(nginx_ingress_controller_requests{{{where}, status!~"5.*"}}[{window}])) / '
                    f"sum(rate(nginx_ingress_controller_requests{{{where}}}[{window}])) * 100"
                )
            if name == "request-duration":
                seconds = "nginx_ingress_controller_response_duration_seconds"
                return (
                    f"sum(rate({seconds}_sum{{{where}}}[{window}])) / "
                    f"sum(rate({seconds}_count{{{where}}}[{window}])) * 1000"
                )
        else:
            where = (
                'reporter="destination", destination_workload_namespace="{{args.namespace}}", '
                'destination_service_name="{{args.canary-service}}"'
            )
            if name == "request-success-rate":
                return (
                    f'sum(rate(istio_requests_total{{{where}, response_code!~"5.*"}}[{window}])) / '
                    f"sum(rate(istio_requests_total{{{where}}}[{window}])) * 100"
                )
            if name == "request-duration":
                return (
                    "histogram_quantile(0.99, sum(rate(istio_request_duration_milliseconds_bucket"
                    f"{{{where}}}[{window}])) by (le))"
                )
        self.notes.append(
            f"{self.canary.where}: metric {name} is neither a Flagger built-in (request-success-rate, "
            "request-duration) nor a templateRef; left out"
        )
        return None

    def metric_template(self, metric: Mapping[str, Any], window: str) -> tuple[str, str | None] | None:
        """The query (Flagger's variables filled in) and address of the MetricTemplate named."""
        ref = _map(metric.get("templateRef"))
        namespace = ref.get("namespace") or self.canary.namespace
        found = find_document(self.documents, "MetricTemplate", str(ref.get("name")), namespace=namespace)
        where = self.canary.where
        if found is None:
            self.notes.append(
                f"{where}: MetricTemplate {ref.get('name')} is not in this file; metric left out"
            )
            return None
        self.used.add(found.index)
        spec = _map(found.body.get("spec"))
        kind = _map(spec.get("provider")).get("type", "prometheus")
        if kind != "prometheus" or not isinstance(spec.get("query"), str):
            self.notes.append(
                f"{found.where}: only a prometheus MetricTemplate with a query converts; metric left out"
            )
            return None
        values = {
            "namespace": "{{args.namespace}}",
            "target": self.name,
            "name": self.name,
            "interval": window,
            "service": self.apex,
            "ingress": "{{args.ingress}}" if self.provider == "nginx" else "",
        }
        unknown: list[str] = []

        def fill(match: re.Match[str]) -> str:
            key = match.group(1)
            if values.get(key):
                return values[key]
            unknown.append(key)
            return match.group(0)

        query = re.sub(r"\{\{\s*([A-Za-z_.]+)\s*\}\}", fill, str(spec["query"]))
        if unknown:
            self.notes.append(
                f"{found.where}: the query uses {', '.join(sorted(set(unknown)))}, which has no value here; "
                "fill it in by hand"
            )
        address = _map(spec.get("provider")).get("address")
        return query, address if isinstance(address, str) else None


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
