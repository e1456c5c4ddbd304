"""The generated CRDs on the real API server: accepted, enforced, and useful to kubectl users."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.support import Kubectl, kubectl_json

EXAMPLES = sorted((REPO / "examples").glob("*.yaml"))
INVALID = sorted((REPO / "examples" / "invalid").glob("*.yaml"))


def _expected_error(path: Path) -> str:
    for line in path.read_text().splitlines():
        if line.startswith("# expect-error:"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"{path} has no '# expect-error:' line")


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_valid_examples_are_accepted(rollout_crds: None, kubectl: Kubectl, example: Path) -> None:
    res = kubectl("apply", "-f", str(example))
    assert "created" in res.stdout


@pytest.mark.parametrize("example", INVALID, ids=[p.name for p in INVALID])
def test_invalid_examples_are_rejected_by_the_server(
    rollout_crds: None, kubectl: Kubectl, example: Path
) -> None:
    res = kubectl("apply", "-f", str(example), check=False)
    assert res.returncode != 0, f"the server accepted {example.name}"
    assert _expected_error(example) in res.stderr


def test_printer_columns_scale_subresource_and_explain(rollout_crds: None, kubectl: Kubectl) -> None:
    kubectl("apply", "-f", str(REPO / "examples" / "canary-nginx.yaml"))
    header = kubectl("get", "rollouts.rollouts.dev").stdout.splitlines()[0].split()
    assert header == [
        "NAME",
        "DESIRED",
        "CURRENT",
        "UP-TO-DATE",
        "AVAILABLE",
        "PHASE",
        "STEP",
        "WEIGHT",
        "AGE",
    ]
    # The scale subresource is what an HPA (and `kubectl scale`) uses.
    kubectl("scale", "rollout.rollouts.dev", "web", "--replicas=7")
    assert kubectl_json(kubectl, "get", "rollout.rollouts.dev", "web")["spec"]["replicas"] == 7
    explained = kubectl(
        "explain", "rollout.spec.strategy.canary.steps.setWeight", "--api-version=rollouts.dev/v1alpha1"
    ).stdout
    assert "DESCRIPTION" in explained and len(explained.split("DESCRIPTION:", 1)[1].strip()) > 20


def test_selector_is_immutable(rollout_crds: None, kubectl: Kubectl) -> None:
    kubectl("apply", "-f", str(REPO / "examples" / "canary-nginx.yaml"))
    patch = '{"spec": {"selector": {"matchLabels": {"app": "other"}}}}'
    res = kubectl("patch", "rollout.rollouts.dev", "web", "--type=merge", "-p", patch, check=False)
    assert res.returncode != 0
    assert "spec.selector" in res.stderr
    assert kubectl_json(kubectl, "get", "rollout.rollouts.dev", "web")["spec"]["selector"]["matchLabels"] == {
        "app": "web"
    }
