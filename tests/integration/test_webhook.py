"""The admission webhook on the real API server: ``kube-rollouts-webhook`` (the console script, as
the chart runs it) against the local control plane, and the real kubectl applying manifests.

The module shares one webhook process (``webhook``) on a free port, with a ValidatingWebhookConfiguration
of its own name (a url clientConfig: the local API server runs on this host); the test that kills it
starts it again. Both configurations kopf keeps are removed afterwards, so no test of another module
is ever admitted by it.
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from e2e.cluster import Cluster
from rollouts.api.validation import object_name
from rollouts.cli.lint import lint_manifest
from rollouts.cli.manifests import read_manifests
from tests.conftest import REPO
from tests.integration.webhook_process import PLURALS, WebhookProcess
from tests.support import Kubectl, eventually, kubectl_json

EXAMPLES = sorted((REPO / "examples").glob("*.yaml"))
INVALID = sorted((REPO / "examples" / "invalid").glob("*.yaml"))


@pytest.fixture(scope="module")
def webhook(
    cluster: Cluster, rollout_crds: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WebhookProcess]:
    process = WebhookProcess(cluster, tmp_path_factory.mktemp("webhook") / "webhook.log")
    process.start()
    yield process
    process.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    process = getattr(item, "funcargs", {}).get("webhook")
    if report.when == "call" and report.failed and isinstance(process, WebhookProcess):
        report.sections.append(("webhook log", process.log()[-6000:]))


def _rollout(name: str, **pod_spec: Any) -> dict[str, Any]:
    container = {"name": "web", "image": "example.com/web:v1", **pod_spec.pop("container", {})}
    return {
        "apiVersion": "rollouts.dev/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": name},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [container], **pod_spec},
            },
            "strategy": {"canary": {"steps": [{"setWeight": 50}]}},
        },
    }


def _template(kind: str, name: str, condition: str) -> dict[str, Any]:
    metric = {"name": "rate", "successCondition": condition, "provider": {"prometheus": {"query": "up"}}}
    return {
        "apiVersion": "rollouts.dev/v1alpha1",
        "kind": kind,
        "metadata": {"name": name},
        "spec": {"metrics": [metric]},
    }


def _apply(kubectl: Kubectl, obj: dict[str, Any], *extra: str) -> subprocess.CompletedProcess[str]:
    return kubectl("apply", *extra, "-f", "-", stdin=json.dumps(obj), check=False)


def _denied(res: subprocess.CompletedProcess[str], kind: str) -> str:
    assert res.returncode != 0, f"the apply went through: {res.stdout}"
    assert f'admission webhook "validate-{PLURALS[kind]}.' in res.stderr, res.stderr
    return res.stderr


@pytest.mark.parametrize("example", INVALID, ids=[p.name for p in INVALID])
def test_invalid_examples_are_refused_at_apply_and_by_the_webhook(
    webhook: WebhookProcess, kubectl: Kubectl, namespace: str, example: Path
) -> None:
    # kubectl apply fails with the field named. These examples break rules the CRD's schema and CEL
    # rules enforce, and the API server checks those before it calls any validating webhook, so
    # the message is the CRD's: the webhook never sees them from the API server.
    res = kubectl("apply", "-f", str(example), check=False)
    assert res.returncode != 0 and "spec." in res.stderr, res.stdout + res.stderr
    # The webhook refuses them too, with the lines lint prints (kubectl's message without the CRD).
    (manifest,) = read_manifests([str(example)])
    for doc, result in zip(manifest.documents, lint_manifest(manifest), strict=True):
        answer = webhook.review(doc.body, namespace=namespace)
        assert answer["allowed"] is False
        named = {**doc.body, "metadata": {**doc.body["metadata"], "namespace": namespace}}
        assert answer["status"]["message"] == f"{object_name(named)}: " + "; ".join(result.problems)
        assert "`spec." in answer["status"]["message"]


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_valid_examples_are_accepted(webhook: WebhookProcess, kubectl: Kubectl, example: Path) -> None:
    before = len(webhook.log())
    res = kubectl("apply", "--dry-run=server", "-f", str(example))
    assert "(server dry run)" in res.stdout
    ours = [d for d in yaml.safe_load_all(example.read_text()) if d and d["kind"] in PLURALS]
    for doc in ours:  # each was admitted by the webhook, not only by the CRD
        path = f"/validate-{PLURALS[doc['kind']]}"
        eventually(lambda path=path: path in webhook.log()[before:], timeout=5, what=f"a request to {path}")


def test_a_pod_template_the_api_server_refuses_is_refused_at_apply(
    webhook: WebhookProcess, kubectl: Kubectl
) -> None:
    before = len(webhook.log())
    memory = _rollout("bad-memory", container={"resources": {"requests": {"memory": "invalid"}}})
    stderr = _denied(_apply(kubectl, memory), "Rollout")
    assert "resources.requests.memory" in stderr and "'invalid' is not a quantity" in stderr
    # Not one of lint's offline checks: only the API server's ReplicaSet validation knows it.
    never = _rollout("never-restarts", restartPolicy="Never")
    stderr = _denied(_apply(kubectl, never), "Rollout")
    assert "spec.template.spec.restartPolicy: Unsupported value" in stderr and "fix spec.template" in stderr
    assert kubectl("get", "rollouts.rollouts.dev", "-o", "name").stdout == ""
    # A refusal is the webhook doing its job: logged, but not as an error.
    refusals = [line for line in webhook.log()[before:].splitlines() if "failed permanently" in line]
    assert len(refusals) == 2 and all(" INFO kopf.objects: " in line for line in refusals), refusals


@pytest.mark.parametrize("kind", ["AnalysisTemplate", "ClusterAnalysisTemplate"])
def test_a_condition_that_does_not_compile_is_refused_at_apply(
    webhook: WebhookProcess, kubectl: Kubectl, kind: str
) -> None:
    name = f"bad-{uuid.uuid4().hex[:6]}"
    stderr = _denied(_apply(kubectl, _template(kind, name, "result[0] >=")), kind)
    assert "`spec.metrics[0].successCondition`" in stderr and "result[0] >=" in stderr
    assert "column" in stderr
    # The same template with a sound condition goes in.
    fine = _apply(kubectl, _template(kind, name, "result[0] >= 0.99"))
    assert fine.returncode == 0, fine.stderr
    if kind == "ClusterAnalysisTemplate":
        kubectl("delete", "clusteranalysistemplates.rollouts.dev", name)


def test_an_experiment_whose_selector_misses_its_pods_is_refused_at_apply(
    webhook: WebhookProcess, kubectl: Kubectl
) -> None:
    pods = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "w", "image": "w:1"}]}}
    template = {"name": "baseline", "selector": {"matchLabels": {"app": "other"}}, "template": pods}
    experiment = {
        "apiVersion": "rollouts.dev/v1alpha1",
        "kind": "Experiment",
        "metadata": {"name": f"exp-{uuid.uuid4().hex[:6]}"},
        "spec": {"duration": "1m", "templates": [template]},
    }
    stderr = _denied(_apply(kubectl, experiment), "Experiment")
    assert "`spec.templates[0].selector`" in stderr and "does not match template.metadata.labels" in stderr
    template["selector"] = {"matchLabels": {"app": "web"}}
    fine = _apply(kubectl, experiment)
    assert fine.returncode == 0, fine.stderr


def test_nothing_kopf_specific_is_written(webhook: WebhookProcess, kubectl: Kubectl, namespace: str) -> None:
    assert _apply(kubectl, _rollout("web")).returncode == 0
    assert _apply(kubectl, _template("AnalysisTemplate", "rate", "result[0] >= 0.99")).returncode == 0
    kubectl("label", "rollouts.rollouts.dev", "web", "team=shop")  # an UPDATE through the webhook
    time.sleep(1)  # room for anything kopf might write after admitting
    for kind, name in (("rollouts.rollouts.dev", "web"), ("analysistemplates.rollouts.dev", "rate")):
        meta = kubectl_json(kubectl, "get", kind, name, "--show-managed-fields")["metadata"]
        written = json.dumps({k: meta.get(k) for k in ("annotations", "labels", "finalizers")})
        assert "kopf" not in written, written
        assert not meta.get("finalizers")
        managers = {m["manager"] for m in meta["managedFields"]}
        assert managers <= {"kubectl-client-side-apply", "kubectl-label"}, managers  # nobody else wrote
    events = kubectl_json(kubectl, "get", "events")["items"]
    assert not [e for e in events if "kopf" in json.dumps(e)]
    # What kopf configured: failurePolicy Ignore, creates and updates of the objects themselves,
    # never their status (the controller must be able to write InvalidSpec on one that got in).
    for webhook_entry in webhook.configuration_object()["webhooks"]:
        assert webhook_entry["failurePolicy"] == "Ignore"
        assert webhook_entry["sideEffects"] == "None"
        (rule,) = webhook_entry["rules"]
        assert rule["operations"] == ["CREATE", "UPDATE"]
        assert rule["resources"][0] in PLURALS.values()


def test_while_the_webhook_is_down_applies_go_through(webhook: WebhookProcess, kubectl: Kubectl) -> None:
    webhook.kill()
    assert webhook.configuration_object()["webhooks"], "the configuration should outlive a crash"
    started = time.monotonic()
    res = _apply(kubectl, _rollout("got-in", container={"resources": {"requests": {"memory": "invalid"}}}))
    assert res.returncode == 0, res.stderr  # failurePolicy: Ignore; the controller reports InvalidSpec
    assert time.monotonic() - started < 10, "a refused connection should not wait for the timeout"
    # Back up: an edit that leaves the spec alone is let through (the stored spec is the
    # controller's to report on), one that changes the spec is checked again.
    webhook.start()
    kubectl("label", "rollouts.rollouts.dev", "got-in", "team=shop")
    patch = {"spec": {"replicas": 2}}
    res = kubectl(
        "patch", "rollouts.rollouts.dev", "got-in", "--type=merge", "-p", json.dumps(patch), check=False
    )
    assert "resources.requests.memory" in _denied(res, "Rollout")
