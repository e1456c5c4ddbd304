"""The webhook's verdict on one object, with the API server behind httpx.MockTransport: lint's
one-object problems refuse it, a Rollout's pod template is dry-run as the controller's ReplicaSet,
and only the server's 400/422 refuses it there."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import httpx

from rollouts.engine.hashing import POD_TEMPLATE_HASH_LABEL, pod_template_hash
from rollouts.engine.object_checks import check_object
from rollouts.kube import ClusterConfig, KubeClient
from rollouts.webhook import Verdict, review
from rollouts.webhook.handlers import verdict_or_admit

Handler = Callable[[httpx.Request], httpx.Response]


def rollout(**pod_spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "rollouts.dev/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": "web", "namespace": "shop", "uid": "u-1"},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "example.com/web:v1"}], **pod_spec},
            },
            "strategy": {"canary": {"steps": [{"setWeight": 50}]}},
        },
    }


def template(condition: str) -> dict[str, Any]:
    metric = {"name": "rate", "successCondition": condition, "provider": {"prometheus": {"query": "up"}}}
    return {
        "apiVersion": "rollouts.dev/v1alpha1",
        "kind": "AnalysisTemplate",
        "metadata": {"name": "rate", "namespace": "shop"},
        "spec": {"metrics": [metric]},
    }


def server(answer: httpx.Response) -> tuple[Handler, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer

    return handler, seen


def status(code: int, reason: str, message: str) -> httpx.Response:
    return httpx.Response(code, json={"kind": "Status", "reason": reason, "message": message, "code": code})


async def verdict_of(body: dict[str, Any], handler: Handler, **kwargs: Any) -> Verdict:
    config = ClusterConfig(server="https://api.test", ssl_context=False, token="t")
    async with KubeClient(config, transport=httpx.MockTransport(handler)) as client:
        return await review(client, body, operation=kwargs.pop("operation", "CREATE"), **kwargs)


async def test_a_valid_rollout_is_admitted_after_a_dry_run_of_the_controllers_replica_set() -> None:
    handler, seen = server(httpx.Response(201, json={"kind": "ReplicaSet"}))
    verdict = await verdict_of(rollout(), handler)
    assert verdict.allowed and not verdict.warnings
    (request,) = seen
    assert request.method == "POST" and request.url.path == "/apis/apps/v1/namespaces/shop/replicasets"
    assert request.url.params["dryRun"] == "All"
    sent = json.loads(request.content)
    template_hash = pod_template_hash(rollout()["spec"]["template"])
    assert sent["metadata"]["name"] == f"web-{template_hash}"
    assert sent["spec"]["template"]["metadata"]["labels"] == {
        "app": "web",
        POD_TEMPLATE_HASH_LABEL: template_hash,
    }
    assert "ownerReferences" not in sent["metadata"]  # the Rollout is not stored yet


async def test_a_pod_template_the_server_refuses_is_refused_with_its_message() -> None:
    message = (
        'ReplicaSet.apps "web-x" is invalid: spec.template.spec.restartPolicy: Unsupported value: "Never"'
    )
    handler, _ = server(status(422, "Invalid", message))
    verdict = await verdict_of(rollout(restartPolicy="Never"), handler)
    assert not verdict.allowed
    assert verdict.message(rollout()) == (
        "Rollout shop/web: `spec.template`: the API server refuses the ReplicaSet the controller would make "
        f"from it: {message}; fix spec.template"
    )


async def test_a_dry_run_that_cannot_be_made_admits_with_a_warning() -> None:
    for answer in (status(403, "Forbidden", "no"), httpx.Response(503, text="busy")):
        handler, _ = server(answer)
        verdict = await verdict_of(rollout(), handler)
        assert verdict.allowed
        (warning,) = verdict.warnings
        assert "could not check spec.template" in warning and "the controller checks it" in warning


async def test_a_replica_set_the_controller_already_made_means_the_template_was_accepted() -> None:
    handler, _ = server(status(409, "AlreadyExists", "exists"))
    verdict = await verdict_of(rollout(), handler)
    assert verdict.allowed and not verdict.warnings


async def test_what_lint_reports_is_refused_without_asking_the_server() -> None:
    handler, seen = server(httpx.Response(500))
    bad = rollout(
        containers=[{"name": "web", "image": "x", "resources": {"requests": {"memory": "invalid"}}}]
    )
    verdict = await verdict_of(bad, handler)
    assert verdict.problems == check_object(bad).problems
    assert "resources.requests.memory 'invalid' is not a quantity" in verdict.message(bad)
    condition = await verdict_of(template("result[0] >="), handler)
    assert condition.message(template("")).startswith(
        'AnalysisTemplate shop/rate: `spec.metrics[0].successCondition`: condition "result[0] >="'
    )
    assert (await verdict_of(template("result[0] >= 0.99"), handler)).allowed
    assert seen == []


async def test_an_update_that_leaves_the_spec_alone_is_not_checked() -> None:
    handler, seen = server(httpx.Response(500))
    stored = rollout(restartPolicy="Never")
    labelled = copy.deepcopy(stored)
    labelled["metadata"]["labels"] = {"team": "shop"}
    assert (await verdict_of(labelled, handler, operation="UPDATE", old=stored)).allowed
    assert seen == []
    changed = copy.deepcopy(labelled)
    changed["spec"]["replicas"] = 5
    handler, seen = server(status(422, "Invalid", "restartPolicy"))
    assert not (await verdict_of(changed, handler, operation="UPDATE", old=stored)).allowed
    assert len(seen) == 1


async def test_a_check_that_fails_admits_with_a_warning_as_the_failure_policy_does() -> None:
    def broken(request: httpx.Request) -> httpx.Response:
        raise RuntimeError("a bug in the check")

    config = ClusterConfig(server="https://api.test", ssl_context=False, token="t")
    async with KubeClient(config, transport=httpx.MockTransport(broken)) as client:
        verdict = await verdict_or_admit(client, rollout(), operation="CREATE", old=None)
    assert verdict.allowed
    assert verdict.warnings == [
        "kube-rollouts' webhook failed to check this object; the controller checks it"
    ]
