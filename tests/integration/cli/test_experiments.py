"""`get experiment` and `list experiments` on a real Experiment that the real controller runs."""

from __future__ import annotations

import json
from typing import Any

from tests.integration.cli.conftest import Plugin, apply, get
from tests.support import Kubectl, eventually


def _template(name: str, image: str, **extra: Any) -> dict[str, Any]:
    labels = {"app": "web", "track": name}
    container = {"name": "app", "image": f"example.com/web:{image}", "ports": [{"containerPort": 8080}]}
    return {
        "name": name,
        "selector": {"matchLabels": labels},
        "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}},
        **extra,
    }


def test_get_and_list_a_running_experiment(
    controller: Any, plugin: Plugin, kubectl: Kubectl, namespace: str
) -> None:
    experiment = {
        "apiVersion": "rollouts.dev/v1alpha1",
        "kind": "Experiment",
        "metadata": {"name": "trial"},
        "spec": {
            "duration": "1h",
            "templates": [_template("baseline", "v1"), _template("candidate", "v2", replicas=2, service={})],
        },
    }
    apply(kubectl, experiment)
    eventually(
        lambda: (
            (get(kubectl, "experiment.rollouts.dev", "trial").get("status") or {}).get("phase") == "Running"
        ),
        timeout=60,
        what="the experiment to run",
    )

    shown = plugin("get", "experiment", "trial")
    assert shown.returncode == 0, shown.stderr
    text = shown.stdout
    header = {
        line.split(":", 1)[0]: line.split(":", 1)[1].strip() for line in text.split("\n\n")[0].splitlines()
    }
    assert (header["Namespace"], header["Status"]) == (namespace, "◌ Running"), text
    assert header["Duration"].startswith("1h (") and header["Duration"].endswith(" left)"), text
    rows = {line.split()[0]: line.split() for line in text.split("Templates:\n", 1)[1].splitlines()[1:3]}
    assert rows["baseline"][1:2] + rows["baseline"][3:] == ["trial-baseline", "1/1", "◌", "Running", "-"], (
        text
    )
    assert rows["candidate"][3:] == ["2/2", "◌", "Running", "trial-candidate"], text
    status = get(kubectl, "experiment.rollouts.dev", "trial")["status"]
    hashes = {t["name"]: t["podTemplateHash"] for t in status["templateStatuses"]}
    assert rows["baseline"][2] == hashes["baseline"] and rows["candidate"][2] == hashes["candidate"]
    assert "Analyses:\n  none\n" in text

    data = json.loads(plugin("get", "exp", "trial", "-o", "json").stdout)
    assert data["experiment"]["metadata"]["name"] == "trial"
    assert sorted(rs["metadata"]["name"] for rs in data["replicaSets"]) == [
        "trial-baseline",
        "trial-candidate",
    ]
    assert len(data["pods"]) == 3

    table = plugin("list", "experiments").stdout.splitlines()
    assert table[0].split() == ["NAME", "STATUS", "AGE", "DURATION", "TEMPLATES"]
    assert table[1].split()[:3] == ["trial", "◌", "Running"] and table[1].split()[-2:] == [
        "1h",
        "baseline,candidate",
    ]
    everywhere = plugin("list", "experiments", "-A").stdout.splitlines()
    assert any(line.split()[:2] == [namespace, "trial"] for line in everywhere), everywhere


def test_a_missing_experiment_says_where_it_looked(plugin: Plugin, namespace: str) -> None:
    result = plugin("get", "experiment", "nope")
    assert result.returncode == 1
    assert result.stderr == (
        f"error: experiment nope not found in namespace {namespace}; check the name "
        "(kubectl rollouts list experiments) or pass -n NAMESPACE\n"
    )
    assert plugin("list", "experiments").stdout == f"No experiments found in namespace {namespace}.\n"
