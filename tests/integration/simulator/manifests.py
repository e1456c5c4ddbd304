"""Objects a controller would have made, written by hand: two ReplicaSets (stable and canary, each
labelled with its rollouts-pod-template-hash), the Services selecting them, and the router objects."""

from __future__ import annotations


def replica_set(
    *,
    app: str,
    pod_hash: str,
    image: str,
    replicas: int,
    version: str = "",
    labels: dict[str, str] | None = None,
) -> str:
    """`labels` go onto the pods too, for a Service that selects several revisions by them."""
    pod_labels = {"version": version} if version else {}
    pod_labels.update(labels or {})
    more = "".join(f", {k}: {v}" for k, v in pod_labels.items())
    return f"""
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: {app}-{pod_hash}
  labels: {{app: {app}, rollouts-pod-template-hash: {pod_hash}}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: {app}, rollouts-pod-template-hash: {pod_hash}}}}}
  template:
    metadata:
      labels: {{app: {app}, rollouts-pod-template-hash: {pod_hash}{more}}}
    spec:
      containers: [{{name: {app}, image: "{image}"}}]
---
"""


def service(*, name: str, selector: dict[str, str]) -> str:
    pairs = ", ".join(f"{k}: {v}" for k, v in selector.items())
    return f"""
apiVersion: v1
kind: Service
metadata: {{name: {name}}}
spec:
  selector: {{{pairs}}}
  ports: [{{port: 80, targetPort: 8080}}]
---
"""


def ingress(*, name: str, service_name: str, host: str, canary_weight: int | None = None) -> str:
    notes = ""
    if canary_weight is not None:
        notes = (
            "  annotations:\n"
            '    nginx.ingress.kubernetes.io/canary: "true"\n'
            f'    nginx.ingress.kubernetes.io/canary-weight: "{canary_weight}"\n'
        )
    return f"""
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: {name}
{notes}spec:
  ingressClassName: nginx
  rules:
  - host: {host}
    http:
      paths:
      - path: /
        pathType: Prefix
        backend: {{service: {{name: {service_name}, port: {{number: 80}}}}}}
---
"""


def virtual_service(*, name: str, host: str, stable_weight: int, canary_weight: int) -> str:
    return f"""
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: {name}}}
spec:
  hosts: [{host}]
  http:
  - name: primary
    route:
    - destination: {{host: {host}, subset: stable}}
      weight: {stable_weight}
    - destination: {{host: {host}, subset: canary}}
      weight: {canary_weight}
---
"""


def destination_rule(*, name: str, host: str, stable_hash: str, canary_hash: str) -> str:
    return f"""
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {{name: {name}}}
spec:
  host: {host}
  subsets:
  - name: stable
    labels: {{app: {host}, rollouts-pod-template-hash: {stable_hash}}}
  - name: canary
    labels: {{app: {host}, rollouts-pod-template-hash: {canary_hash}}}
---
"""
