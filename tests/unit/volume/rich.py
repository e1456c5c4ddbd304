"""Hand-written objects holding every field :data:`~tests.unit.volume.broken.BY_FIELD` knows.

The exhaustive tests break each of them in every known way (``every_field_broken``), so a
regression of one field's handling fails every run, whatever the random search happens to try.
"""

from __future__ import annotations

from tests.unit.volume.valid import GROUP_VERSION, LABELS, NAME, Body, metadata

_POD_TEMPLATE = {
    "metadata": {"labels": {**LABELS}},
    "spec": {
        "initContainers": [{"name": "init", "image": "init:1"}],
        "containers": [
            {
                "name": NAME,
                "image": "web:1",
                "ports": [{"containerPort": 8080}],
                "resources": {"requests": {"cpu": "250m", "memory": "128Mi"}, "limits": {"cpu": 1}},
            }
        ],
    },
}
_ARGS = [
    {"name": "service", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
    {"name": "count", "value": "3"},
    {"name": "interval", "value": "1m"},
]
_BACKGROUND_ARGS = [{"name": "service", "valueFrom": {"podTemplateHashValue": "Latest"}}]
RICH_TEMPLATE: Body = {
    "apiVersion": GROUP_VERSION,
    "kind": "AnalysisTemplate",
    "metadata": metadata("success-rate"),
    "spec": {
        "args": [{"name": "service"}, {"name": "count", "value": "3"}, {"name": "interval", "value": "30s"}],
        "metrics": [
            {
                "name": "rate",
                "count": "{{args.count}}",
                "interval": "{{args.interval}}",
                "initialDelay": "10s",
                "failureLimit": 1,
                "consecutiveErrorLimit": 2,
                "successCondition": "result[0] >= 0.95",
                "failureCondition": "result[0] < 0.5",
                "provider": {"prometheus": {"query": "up{service='{{args.service}}'}", "timeout": 5}},
            },
            {
                "name": "health",
                "count": 2,
                "interval": "1m",
                "successCondition": "result == 1",
                "provider": {"web": {"url": "http://{{args.service}}/ok", "method": "POST", "body": "{}"}},
            },
        ],
        "dryRun": [{"metricName": "health"}],
        "measurementRetention": [{"metricName": "rate", "limit": 5}],
    },
}
RICH_CANARY: Body = {
    "apiVersion": GROUP_VERSION,
    "kind": "Rollout",
    "metadata": {**metadata(NAME), "labels": {**LABELS}},
    "spec": {
        "replicas": 4,
        "selector": {"matchLabels": {**LABELS}},
        "template": _POD_TEMPLATE,
        "restartAt": "2024-05-01T11:00:00Z",
        "strategy": {
            "canary": {
                "canaryService": "web-canary",
                "stableService": "web-stable",
                "trafficRouting": {"nginx": {"stableIngress": NAME}},
                "maxSurge": "25%",
                "maxUnavailable": 1,
                "analysis": {
                    "templates": [{"templateName": "success-rate"}],
                    "args": _BACKGROUND_ARGS,
                    "startingStep": 1,
                },
                "steps": [
                    {"setCanaryScale": {"weight": 20}},
                    {"setWeight": 20},
                    {"pause": {"duration": "30s"}},
                    {"analysis": {"templates": [{"templateName": "success-rate"}], "args": _ARGS}},
                    {"setCanaryScale": {"replicas": 2}},
                    {"pause": {}},
                ],
            }
        },
    },
}
RICH_BLUE_GREEN: Body = {
    **RICH_CANARY,
    "spec": {
        **RICH_CANARY["spec"],
        "strategy": {
            "blueGreen": {
                "activeService": "web-active",
                "previewService": "web-preview",
                "autoPromotionEnabled": False,
                "previewReplicaCount": 1,
                "prePromotionAnalysis": {"templates": [{"templateName": "success-rate"}], "args": _ARGS},
                "postPromotionAnalysis": {"templates": [{"templateName": "success-rate"}], "args": _ARGS},
            }
        },
    },
}
RICH = {"canary": RICH_CANARY, "blue-green": RICH_BLUE_GREEN, "template": RICH_TEMPLATE}
"""Objects holding every field :data:`BY_FIELD` knows, for :func:`every_field_broken`."""
