"""crds/ is generated from the models: fresh, deterministic, structural, documented, and complete."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import celpy
import pytest
import yaml

from rollouts.api import crdgen
from rollouts.api.schema import structural_problems, structural_schema
from tests.unit.api.crd_check import CRDS, crd_schemas, iter_rules

CRDS_BY_KIND = {
    yaml.safe_load(path.read_text(encoding="utf-8"))["spec"]["names"]["kind"]: yaml.safe_load(
        path.read_text(encoding="utf-8")
    )
    for path in sorted(CRDS.glob("*.yaml"))
}


def test_crds_on_disk_are_fresh() -> None:
    stale = crdgen.stale_files(CRDS)
    assert stale == [], f"crds/ is stale ({stale}); run `make crds` (python -m rollouts.api.crdgen)"
    assert sorted(p.name for p in CRDS.glob("*.yaml")) == sorted(crdgen.render_crds())


def test_generation_is_deterministic() -> None:
    assert crdgen.render_crds() == crdgen.render_crds()


def test_check_exits_1_with_a_message_when_stale(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert crdgen.main(["--out", str(tmp_path)]) == 0
    assert crdgen.main(["--check", "--out", str(tmp_path)]) == 0
    target = tmp_path / "rollouts.dev_rollouts.yaml"
    target.write_text(target.read_text(encoding="utf-8").replace("Desired", "Wanted"), encoding="utf-8")
    assert crdgen.main(["--check", "--out", str(tmp_path)]) == 1
    assert "rollouts.dev_rollouts.yaml" in capsys.readouterr().err


@pytest.mark.parametrize("kind", sorted(CRDS_BY_KIND))
def test_schema_is_structural_and_every_field_is_described(kind: str) -> None:
    schema = crd_schemas()[kind]
    assert structural_problems(schema) == []
    assert schema["properties"]["spec"]["description"]


def test_structural_problems_notices_what_kubernetes_rejects() -> None:
    bad = {
        "type": "object",
        "properties": {
            "a": {"anyOf": [{"type": "string"}, {"type": "null"}], "description": "x"},
            "b": {"type": "string"},
            "c": {"$ref": "#/$defs/C", "description": "x"},
        },
    }
    assert structural_problems(bad) == [
        "a: no type",
        "a: anyOf other than the int-or-string form",
        "b: no description",
        "c: $ref/allOf/oneOf left in the schema",
        "c: no type",
    ]


def test_a_floats_exclusive_bound_becomes_the_openapi_v3_form() -> None:
    # pydantic writes gt=0 as JSON Schema 2020-12's {"exclusiveMinimum": 0}; the API server decodes
    # exclusiveMinimum as a boolean and refuses the whole CRD otherwise.
    converted = structural_schema({"type": "number", "exclusiveMinimum": 0.0, "exclusiveMaximum": 1.0})
    assert converted == {
        "type": "number",
        "minimum": 0.0,
        "exclusiveMinimum": True,
        "maximum": 1.0,
        "exclusiveMaximum": True,
    }
    assert structural_problems({"type": "number", "exclusiveMinimum": 0.0}) == [
        "<root>: exclusiveMinimum must be a boolean in OpenAPI v3.0"
    ]
    metrics = _node(crd_schemas()["AnalysisTemplate"], "spec.metrics")["items"]
    alpha = _node(metrics, "provider.judge.alpha")  # as the CRD on disk holds it
    assert alpha == {**alpha, "type": "number", "minimum": 0.0, "exclusiveMinimum": True, "maximum": 0.5}


def _node(schema: dict[str, Any], dotted: str) -> dict[str, Any]:
    for part in dotted.strip(".").split("."):
        schema = schema["properties"][part]
    return schema


def test_rollout_crd_has_names_subresources_and_columns() -> None:
    crd = CRDS_BY_KIND["Rollout"]
    assert crd["metadata"]["name"] == "rollouts.rollouts.dev"
    assert crd["spec"]["names"]["shortNames"] == ["ro"]
    version = crd["spec"]["versions"][0]
    assert version["name"] == "v1alpha1"
    assert version["subresources"]["scale"] == {
        "specReplicasPath": ".spec.replicas",
        "statusReplicasPath": ".status.replicas",
        "labelSelectorPath": ".status.selector",
    }
    columns = {c["name"]: c["jsonPath"] for c in version["additionalPrinterColumns"]}
    assert list(columns) == [
        "Desired",
        "Current",
        "Up-to-date",
        "Available",
        "Phase",
        "Step",
        "Weight",
        "Age",
    ]
    schema = version["schema"]["openAPIV3Schema"]
    for name, path in columns.items():
        if name != "Age":
            assert _node(schema, path)["type"] in ("integer", "string"), name


def test_every_kind_has_its_scope_short_name_and_status() -> None:
    expected = {
        "Rollout": ("ro", "Namespaced"),
        "AnalysisTemplate": ("at", "Namespaced"),
        "ClusterAnalysisTemplate": ("cat", "Cluster"),
        "AnalysisRun": ("ar", "Namespaced"),
    }
    for kind, (short, scope) in expected.items():
        spec = CRDS_BY_KIND[kind]["spec"]
        assert (spec["names"]["shortNames"], spec["scope"]) == ([short], scope)
        assert spec["versions"][0]["subresources"]["status"] == {}


def test_schema_carries_defaults_enums_bounds_and_int_or_string() -> None:
    spec = crd_schemas()["Rollout"]["properties"]["spec"]
    canary = _node(spec, "strategy.canary")
    assert _node(spec, "replicas")["default"] == 1
    assert canary["properties"]["maxSurge"]["x-kubernetes-int-or-string"] is True
    assert canary["properties"]["maxSurge"]["default"] == "25%"
    step = canary["properties"]["steps"]["items"]
    assert (step["properties"]["setWeight"]["minimum"], step["properties"]["setWeight"]["maximum"]) == (
        0,
        1_000_000,  # out of maxTrafficWeight; a CEL rule on the strategy holds it to the total
    )
    rules = [v["rule"] for v in canary["x-kubernetes-validations"]]
    assert any("self.steps.all(s" in rule and "maxTrafficWeight" in rule for rule in rules)
    assert step["properties"]["pause"]["properties"]["duration"]["x-kubernetes-int-or-string"] is True
    assert _node(spec, "template")["x-kubernetes-preserve-unknown-fields"] is True
    status = crd_schemas()["Rollout"]["properties"]["status"]
    assert _node(status, "phase")["enum"] == ["Healthy", "Progressing", "Paused", "Degraded"]
    reason = _node(status, "pauseConditions")["items"]["properties"]["reason"]
    assert "CanaryPauseStep" in reason["enum"]


def test_preserve_unknown_fields_only_on_pod_templates_and_the_web_json_body() -> None:
    def walk(node: dict[str, Any], path: str) -> list[str]:
        found = [path] if node.get("x-kubernetes-preserve-unknown-fields") else []
        for name, sub in node.get("properties", {}).items():
            found += walk(sub, f"{path}.{name}")
        if isinstance(node.get("items"), dict):
            found += walk(node["items"], f"{path}[]")
        return found

    assert walk(crd_schemas()["Rollout"], "") == [".spec.template"]
    for kind in ("AnalysisTemplate", "ClusterAnalysisTemplate", "AnalysisRun"):
        assert walk(crd_schemas()[kind], "") == [
            ".spec.metrics[].provider.job.spec",
            ".spec.metrics[].provider.web.jsonBody",
        ]


def test_server_side_rules_are_declared_and_compile() -> None:
    rules = iter_rules(crd_schemas()["Rollout"])
    assert "has(self.canary) != has(self.blueGreen)" in rules
    assert "self == oldSelf" in rules
    assert any("self.canaryService != self.stableService" in rule for rule in rules)
    env = celpy.Environment()
    for kind, schema in crd_schemas().items():
        for rule in iter_rules(schema):
            env.compile(rule)  # raises on a syntax error
        assert kind
